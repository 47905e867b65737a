// Benchmarks of the foundation (Google Benchmark; numbers go to the README, never into tests):
//   - configurations per second through the whole pipeline (strategy, build workers, isolated
//     run workers, SQLite store) on the replay target;
//   - building, counting and indexing a space of 10^7 valid configurations;
//   - the worker-process overhead per run, against calling the target in-process.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "ml2tuner/replay.h"
#include "ml2tuner/tuner.h"
#include "ml2tuner/worker_pool.h"

namespace ml2 {
namespace {

namespace fs = std::filesystem;

const std::string kConv3090 =
    std::string(ML2_SHARED_DATA) + "/spaces/kerneltuner/convolution/RTX_3090.json.gz";

std::string temp_db(const std::string& stem) {
  fs::path p = fs::temp_directory_path() / (stem + "-" + std::to_string(getpid()) + ".db");
  for (const char* s : {"", "-wal", "-shm"}) fs::remove(p.string() + s);
  return p.string();
}

// The whole pipeline on the 6768-configuration convolution space: every configuration is asked,
// built in a worker, run in an isolated worker and committed to the store.
void BM_PipelineReplay(benchmark::State& state) {
  auto target = make_replay_target(kConv3090);
  const std::string tuner = state.range(0) == 0 ? "grid" : "random";
  int64_t configs = 0;
  for (auto _ : state) {
    const std::string db = temp_db("ml2tuner-bench");
    RecordStore store(db);
    TuneOptions o;
    o.tuner = tuner;
    o.trials = static_cast<int64_t>(target->space().size());
    o.batch = 64;
    o.jobs = static_cast<int>(state.range(1));
    TuneSummary s = Tuner(*target, store, o).run();
    configs += s.trials;
  }
  state.SetItemsProcessed(configs);
  state.SetLabel(tuner + ", jobs " + std::to_string(state.range(1)));
}
BENCHMARK(BM_PipelineReplay)
    ->Args({0, 1})
    ->Args({0, 2})
    ->Args({1, 2})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->UseRealTime();  // the work happens in worker processes: wall clock is what counts

void BM_ReplayLoad(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(make_replay_target(kConv3090));
}
BENCHMARK(BM_ReplayLoad)->Unit(benchmark::kMillisecond);

// 7 knobs of 10 values with a constraint on the last one: 10^7 candidates, 9 * 10^6 valid.
Space ten_million() {
  SpaceBuilder b;
  for (int k = 0; k < 6; ++k) b.add(Knob::Range("k" + std::to_string(k), 0, 9));
  b.add(Knob::Range("k6", 0, 9), {[](const Assignment& a) { return a[5] + a[6] != 9; }});
  return std::move(b).build();
}

void BM_SpaceBuild10M(benchmark::State& state) {
  size_t bytes = 0;
  uint64_t size = 0;
  for (auto _ : state) {
    Space s = ten_million();
    size = s.size();
    bytes = s.memory_bytes();
  }
  state.counters["configs"] = static_cast<double>(size);
  state.counters["index_MiB"] = static_cast<double>(bytes) / (1 << 20);
}
BENCHMARK(BM_SpaceBuild10M)->Unit(benchmark::kMillisecond)->Iterations(2);

void BM_IndexRoundTrip10M(benchmark::State& state) {
  static const Space s = ten_million();
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    const uint64_t i = s.sample(rng);
    Config c = s.at(i);
    benchmark::DoNotOptimize(s.index_of(c));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IndexRoundTrip10M);

// A target whose run does nothing: what remains is the cost of isolation.
class NoopTarget : public Target {
 public:
  NoopTarget() {
    SpaceBuilder b;
    b.add(Knob::Range("x", 0, 1));
    space_ = std::move(b).build();
  }
  std::string name() const override { return "noop"; }
  std::string task() const override { return "noop"; }
  const Space& space() const override { return space_; }
  BuildResult build(const Config&) const override { return {}; }
  RunResult run(const std::string&) const override {
    RunResult r;
    r.latency = Measurement::from_samples({1.0});
    return r;
  }

 private:
  Space space_;
};

void BM_RunInWorkerProcess(benchmark::State& state) {
  NoopTarget target;
  WorkerPool pool(target, Stage::kRun, {1, 10, 0});
  const std::vector<std::string> one{"x"};
  for (auto _ : state) benchmark::DoNotOptimize(pool.run(one));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RunInWorkerProcess)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_RunInProcess(benchmark::State& state) {
  NoopTarget target;
  for (auto _ : state) benchmark::DoNotOptimize(target.run("x"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RunInProcess)->Unit(benchmark::kMicrosecond);

// Respawning a worker after a crash: fork, set-up, first request.
class CrashTarget : public NoopTarget {
 public:
  RunResult run(const std::string&) const override { _exit(1); }
};

void BM_RespawnAfterCrash(benchmark::State& state) {
  CrashTarget target;
  WorkerPool pool(target, Stage::kRun, {1, 10, 0});
  const std::vector<std::string> one{"x"};
  for (auto _ : state) benchmark::DoNotOptimize(pool.run(one));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RespawnAfterCrash)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace ml2

BENCHMARK_MAIN();
