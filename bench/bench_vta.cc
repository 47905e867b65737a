// Benchmarks of the VTA target (Google Benchmark; numbers go to the README):
//   - compile time per configuration, over every configuration of the stock C2 space;
//   - simulation time per valid configuration of C2, timing only and with the arithmetic
//     (median, 90th percentile and maximum over the whole space);
//   - a full stock sweep of C9 through the tuner with 2 jobs.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "ml2tuner/tuner.h"
#include "ml2tuner/vta.h"
#include "vta/compiler.h"
#include "vta/simulator.h"

namespace ml2 {
namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double median = 0, p90 = 0, max = 0, mean = 0;
};

Stats stats_of(std::vector<double> ms) {
  Stats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  s.median = ms[ms.size() / 2];
  s.p90 = ms[ms.size() * 9 / 10];
  s.max = ms.back();
  for (double x : ms) s.mean += x / static_cast<double>(ms.size());
  return s;
}

void report(benchmark::State& state, const Stats& s, size_t n) {
  state.counters["configs"] = static_cast<double>(n);
  state.counters["median_ms"] = s.median;
  state.counters["p90_ms"] = s.p90;
  state.counters["max_ms"] = s.max;
  state.counters["mean_ms"] = s.mean;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

void BM_VtaCompileC2(benchmark::State& state) {
  const vta::HwConfig hw;
  const vta::Workload w = vta::Workload::parse("resnet18.C2");
  const Space space = make_space(w, hw, vta::Template::kStock);
  for (auto _ : state) {
    std::vector<double> ms, valid_ms;
    for (uint64_t i = 0; i < space.size(); ++i) {
      const auto t0 = Clock::now();
      vta::CompileResult r =
          vta::compile(hw, w, schedule_of(space, space.at(i), vta::Template::kStock), 1);
      benchmark::DoNotOptimize(r);
      ms.push_back(ms_since(t0));
      if (r.ok) valid_ms.push_back(ms.back());
    }
    report(state, stats_of(ms), ms.size());
    const Stats v = stats_of(valid_ms);
    state.counters["valid_median_ms"] = v.median;
    state.counters["valid_max_ms"] = v.max;
  }
}
BENCHMARK(BM_VtaCompileC2)->Iterations(1)->Unit(benchmark::kMillisecond);

// state.range(0): 1 = with the arithmetic, 0 = timing only.
void BM_VtaSimulateC2(benchmark::State& state) {
  const vta::HwConfig hw;
  const vta::Workload w = vta::Workload::parse("resnet18.C2");
  const Space space = make_space(w, hw, vta::Template::kStock);
  std::vector<vta::Program> programs;
  for (uint64_t i = 0; i < space.size(); ++i) {
    vta::CompileResult r =
        vta::compile(hw, w, schedule_of(space, space.at(i), vta::Template::kStock), 1);
    if (r.ok) programs.push_back(std::move(r.program));
  }
  const vta::SimOptions options{state.range(0) == 1};
  vta::simulate(hw, programs.front(), options);  // prepares the data and the reference once
  for (auto _ : state) {
    std::vector<double> ms;
    for (const vta::Program& p : programs) {
      const auto t0 = Clock::now();
      vta::SimResult r = vta::simulate(hw, p, options);
      benchmark::DoNotOptimize(r);
      ms.push_back(ms_since(t0));
    }
    report(state, stats_of(ms), ms.size());
  }
  state.SetLabel(state.range(0) ? "with arithmetic" : "timing only");
}
BENCHMARK(BM_VtaSimulateC2)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_VtaSweepC9(benchmark::State& state) {
  VtaOptions o;
  o.task = "resnet18.C9";
  auto target = make_vta_target(o);
  int64_t configs = 0;
  for (auto _ : state) {
    const auto db = std::filesystem::temp_directory_path() /
                    ("ml2tuner-bench-sweep-" + std::to_string(getpid()) + ".db");
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(db.string() + s);
    RecordStore store(db.string());
    TuneOptions t;
    t.tuner = "grid";
    t.trials = static_cast<int64_t>(target->space().size());
    t.jobs = 2;
    configs += Tuner(*target, store, t).run().trials;
  }
  state.SetItemsProcessed(configs);
}
BENCHMARK(BM_VtaSweepC9)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace ml2
