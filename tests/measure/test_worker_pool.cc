#include "ml2tuner/worker_pool.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ml2tuner/record_store.h"
#include "ml2tuner/space.h"
#include "ml2tuner/target.h"

namespace ml2 {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Deterministic bytes of every value, so that a misplaced or lost chunk shows.
std::string blob(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t v = seed * 2654435761u + 1;
  for (auto& c : s) {
    v = v * 1664525u + 1013904223u;
    c = static_cast<char>(v >> 24);
  }
  return s;
}

Space tiny_space() {
  SpaceBuilder b;
  b.add(Knob::Range("x", 0, 15));
  return std::move(b).build();
}

[[noreturn]] void hang() {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

// build(x): 11 segfaults, 12 hangs, 13 throws, 15 makes a 3 MiB artifact, others "ok:<x>".
// run(artifact) obeys the artifact: "ok:<n>", "segv", "abort", "hang", "hog", "exit3", "throw",
// "sleep100", "pid", or "blob:<bytes>" (answered with the bytes reversed in the message).
class ProbeTarget : public Target {
 public:
  ProbeTarget() : space_(tiny_space()) {}
  std::string name() const override { return "probe"; }
  std::string task() const override { return "probe@test"; }
  const Space& space() const override { return space_; }

  BuildResult build(const Config& config) const override {
    const int64_t x = space_.knobs()[0].value(config.at(0));
    if (x == 11) segfault();
    if (x == 12) hang();
    if (x == 13) throw std::runtime_error("x=13 is rejected by the test compiler");
    BuildResult r;
    r.artifact = x == 15 ? big_artifact() : "ok:" + std::to_string(x);
    r.hidden = {{"x", static_cast<double>(x)}, {"registers", 32 + 0.5 * static_cast<double>(x)}};
    r.virtual_s = 0.25 * static_cast<double>(x);
    return r;
  }

  RunResult run(const std::string& artifact) const override {
    RunResult r;
    if (artifact.rfind("ok:", 0) == 0) {
      const double n = std::stod(artifact.substr(3));
      r.latency = Measurement::from_samples({n, n + 1, n + 2});
      r.virtual_s = n;
      r.message = "ran " + artifact.substr(3);
    } else if (artifact.rfind("blob:", 0) == 0) {
      r.message.assign(artifact.rbegin(), artifact.rend() - 5);
      r.latency = Measurement::from_samples({1.0});
    } else if (artifact == "segv") {
      segfault();
    } else if (artifact == "abort") {
      std::abort();
    } else if (artifact == "hang") {
      hang();
    } else if (artifact == "hog") {
      std::vector<std::vector<char>> chunks;
      constexpr size_t kChunk = size_t{64} << 20;
      for (;;) {
        chunks.emplace_back(kChunk);
        std::memset(chunks.back().data(), 0x5a, kChunk);  // touch every page
      }
    } else if (artifact == "exit3") {
      _exit(3);
    } else if (artifact == "throw") {
      throw std::runtime_error("the device said no");
    } else if (artifact == "sleep100") {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      r.latency = Measurement::from_samples({100});
    } else if (artifact == "pid") {
      r.message = std::to_string(getpid());
      r.latency = Measurement::from_samples({1});
    } else {
      r.status = Status::kWrongAnswer;
      r.message = "unknown probe " + artifact;
    }
    return r;
  }

  int max_parallel_runs() const override { return 8; }

  static std::string big_artifact() { return blob(size_t{3} << 20, 15); }

 private:
  [[noreturn]] static void segfault() {
    volatile int* p = nullptr;
    *p = 1;
    std::abort();  // not reached
  }
  Space space_;
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

Config config_of(const Target& t, int64_t x) {
  Config c{static_cast<uint32_t>(x)};  // Range(0, 15): entry e holds the value e
  if (t.space().knobs()[0].value(c[0]) != x) throw std::logic_error("x outside the test space");
  return c;
}

// Children of this process that are forked copies of it (workers), alive or zombie.
std::vector<pid_t> forked_children() {
  std::string self_comm;
  std::ifstream("/proc/self/comm") >> self_comm;
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto open = stat.find('(');
    const auto close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %ld", &state, &ppid) != 2) continue;
    if (ppid == getpid() && stat.substr(open + 1, close - open - 1) == self_comm) {
      out.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return out;
}

TEST(WorkerPool, BuildRoundTripKeepsOrderHiddenFeaturesAndLargeArtifacts) {
  ProbeTarget target;
  WorkerPool pool(target, Stage::kBuild, {.workers = 3, .timeout_s = 10, .memory_limit_mb = 0});
  EXPECT_EQ(pool.workers(), 3);
  const std::vector<int64_t> xs = {15, 4, 0, 9, 15, 2, 7, 14, 1, 15, 3};
  std::vector<Config> configs;
  for (int64_t x : xs) configs.push_back(config_of(target, x));

  const auto results = pool.build(configs);
  ASSERT_EQ(results.size(), xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    const BuildResult& r = results[i];
    const double x = static_cast<double>(xs[i]);
    SCOPED_TRACE("x=" + std::to_string(xs[i]));
    EXPECT_EQ(r.status, Status::kOk) << r.message;
    if (xs[i] == 15) {
      EXPECT_TRUE(r.artifact == ProbeTarget::big_artifact())
          << "artifact of " << r.artifact.size() << " bytes differs";
    } else {
      EXPECT_EQ(r.artifact, "ok:" + std::to_string(xs[i]));
    }
    EXPECT_EQ(r.hidden, (HiddenFeatures{{"x", x}, {"registers", 32 + 0.5 * x}}));
    EXPECT_DOUBLE_EQ(r.virtual_s, 0.25 * x);
    EXPECT_GT(r.wall_s, 0);  // filled in by the worker
  }
  EXPECT_EQ(pool.respawns(), 0);
  EXPECT_TRUE(pool.build({}).empty());
  // The pool serves further batches.
  const auto again = pool.build({config_of(target, 5)});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].artifact, "ok:5");
}

TEST(WorkerPool, WorkersDoNotKeepARecordStoreLocked) {
  // Workers are forked while the tuner holds its store's session lock; they close their copy, so
  // that the store is free as soon as the tuner's handle is (and a worker outliving a killed tuner
  // by a moment does not keep it).
  ProbeTarget target;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("ml2-pool-lock-" + std::to_string(getpid()) + ".db"))
                               .string();
  const SessionInfo session{"probe", "probe", "digest", "random", 1};
  auto store = std::make_unique<RecordStore>(path);
  store->bind(session);
  WorkerPool pool(target, Stage::kBuild, {.workers = 2, .timeout_s = 10, .memory_limit_mb = 0});
  ASSERT_EQ(pool.build({config_of(target, 1), config_of(target, 2)}).size(), 2u);
  store.reset();  // the workers are still alive
  RecordStore again(path);
  EXPECT_NO_THROW(again.bind(session));
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

TEST(WorkerPool, RunRoundTripWithLargeArtifactsInInputOrder) {
  ProbeTarget target;
  WorkerPool pool(target, Stage::kRun, {.workers = 4, .timeout_s = 10, .memory_limit_mb = 0});
  std::vector<std::string> artifacts;
  for (int i = 0; i < 20; ++i) {
    artifacts.push_back(i % 5 == 2 ? "blob:" + blob((size_t{1} << 20) + 12345 * i, i)
                                   : "ok:" + std::to_string(i));
  }
  const auto results = pool.run(artifacts);
  ASSERT_EQ(results.size(), artifacts.size());
  for (size_t i = 0; i < artifacts.size(); ++i) {
    const RunResult& r = results[i];
    SCOPED_TRACE("job " + std::to_string(i));
    ASSERT_EQ(r.status, Status::kOk) << r.message;
    if (i % 5 == 2) {
      const std::string& a = artifacts[i];
      EXPECT_TRUE(r.message == std::string(a.rbegin(), a.rend() - 5)) << "echo differs";
      EXPECT_EQ(r.latency.repeats, 1);
    } else {
      const double n = static_cast<double>(i);
      EXPECT_EQ(r.message, "ran " + std::to_string(i));
      EXPECT_DOUBLE_EQ(r.latency.mean_ms, n + 1);
      EXPECT_DOUBLE_EQ(r.latency.min_ms, n);
      EXPECT_DOUBLE_EQ(r.latency.max_ms, n + 2);
      EXPECT_DOUBLE_EQ(r.latency.std_ms, 1);
      EXPECT_EQ(r.latency.repeats, 3);
      EXPECT_DOUBLE_EQ(r.virtual_s, n);
    }
  }
  EXPECT_EQ(pool.respawns(), 0);
}

TEST(WorkerPool, SegfaultBecomesCrashAndTheWorkerIsReplaced) {
  ProbeTarget target;
  WorkerPool pool(target, Stage::kRun, {.workers = 1, .timeout_s = 10});
  const auto results = pool.run({"ok:1", "segv", "ok:2"});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].status, Status::kOk);
  EXPECT_EQ(results[1].status, Status::kCrash);
  EXPECT_TRUE(contains(results[1].message, "signal 11")) << results[1].message;
  EXPECT_TRUE(contains(results[1].message, "Segmentation fault")) << results[1].message;
  EXPECT_GT(results[1].wall_s, 0);
  EXPECT_EQ(results[2].status, Status::kOk) << results[2].message;
  EXPECT_EQ(results[2].message, "ran 2");
  EXPECT_EQ(pool.respawns(), 1);
}

TEST(WorkerPool, SegfaultInBuildBecomesCrash) {
  ProbeTarget target;
  WorkerPool pool(target, Stage::kBuild, {.workers = 2, .timeout_s = 10});
  const auto results = pool.build({config_of(target, 11), config_of(target, 3)});
  EXPECT_EQ(results[0].status, Status::kCrash);
  EXPECT_TRUE(contains(results[0].message, "signal 11")) << results[0].message;
  EXPECT_EQ(results[1].status, Status::kOk);
  EXPECT_EQ(pool.respawns(), 1);
}

TEST(WorkerPool, AbortBecomesCrash) {
  ProbeTarget target;
  WorkerPool pool(target, Stage::kRun, {.workers = 1, .timeout_s = 10});
  const auto results = pool.run({"abort", "ok:4"});
  EXPECT_EQ(results[0].status, Status::kCrash);
  EXPECT_EQ(results[0].message, "worker aborted (SIGABRT)");
  EXPECT_EQ(results[1].status, Status::kOk);
  EXPECT_EQ(pool.respawns(), 1);
}

TEST(WorkerPool, ExitBecomesCrashWithItsStatus) {
  ProbeTarget target;
  WorkerPool pool(target, Stage::kRun, {.workers = 1, .timeout_s = 10});
  const auto results = pool.run({"exit3", "ok:4"});
  EXPECT_EQ(results[0].status, Status::kCrash);
  EXPECT_EQ(results[0].message, "worker exited with status 3");
  EXPECT_EQ(results[1].status, Status::kOk);
}

TEST(WorkerPool, HangingRunBecomesRunTimeoutAndTheBatchGoesOn) {
  ProbeTarget target;
  WorkerPool pool(target, Stage::kRun, {.workers = 2, .timeout_s = 0.3});
  const auto t0 = Clock::now();
  const auto results = pool.run({"hang", "ok:1", "ok:2", "ok:3"});
  const double elapsed = seconds_since(t0);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].status, Status::kRunTimeout);
  EXPECT_EQ(results[0].message, "no result after 0.3 s; worker killed");
  EXPECT_GE(results[0].wall_s, 0.3);
  EXPECT_LT(results[0].wall_s, 1.0);
  for (size_t i = 1; i < 4; ++i) EXPECT_EQ(results[i].status, Status::kOk) << results[i].message;
  EXPECT_LT(elapsed, 1.0);
  EXPECT_EQ(pool.respawns(), 1);
  // The replacement serves the next batch.
  const auto next = pool.run({"ok:7", "ok:8"});
  EXPECT_EQ(next[0].status, Status::kOk);
  EXPECT_EQ(next[1].status, Status::kOk);
}

TEST(WorkerPool, HangingBuildBecomesBuildTimeout) {
  ProbeTarget target;
  WorkerPool pool(target, Stage::kBuild, {.workers = 1, .timeout_s = 0.2});
  const auto results = pool.build({config_of(target, 12), config_of(target, 6)});
  EXPECT_EQ(results[0].status, Status::kBuildTimeout);
  EXPECT_EQ(results[0].message, "no result after 0.2 s; worker killed");
  EXPECT_EQ(results[1].status, Status::kOk);
  EXPECT_EQ(results[1].artifact, "ok:6");
}

TEST(WorkerPool, RunawayAllocationBecomesOutOfMemory) {
  ProbeTarget target;
  WorkerPool pool(target, Stage::kRun, {.workers = 1, .timeout_s = 10, .memory_limit_mb = 256});
  const auto results = pool.run({"hog", "ok:1", "hog"});
  ASSERT_EQ(results.size(), 3u);
  for (size_t i : {0, 2}) {
    EXPECT_EQ(results[i].status, Status::kRuntimeError) << results[i].message;
    EXPECT_EQ(results[i].message, "out of memory: the worker exceeded its 256 MiB allowance");
  }
  EXPECT_EQ(results[1].status, Status::kOk);
  // The allocation failed inside the worker, which recovered: nothing was replaced.
  EXPECT_EQ(pool.respawns(), 0);
}

TEST(WorkerPool, ExceptionsBecomeTypedErrors) {
  ProbeTarget target;
  WorkerPool builder(target, Stage::kBuild, {.workers = 1, .timeout_s = 10});
  const auto built = builder.build({config_of(target, 13), config_of(target, 2)});
  EXPECT_EQ(built[0].status, Status::kCompileError);
  EXPECT_EQ(built[0].message, "x=13 is rejected by the test compiler");
  EXPECT_TRUE(built[0].artifact.empty());
  EXPECT_EQ(built[1].status, Status::kOk);

  WorkerPool runner(target, Stage::kRun, {.workers = 1, .timeout_s = 10});
  const auto ran = runner.run({"throw"});
  EXPECT_EQ(ran[0].status, Status::kRuntimeError);
  EXPECT_EQ(ran[0].message, "the device said no");
  EXPECT_EQ(builder.respawns() + runner.respawns(), 0);
}

TEST(WorkerPool, MixedCrashesLeaveNoZombies) {
  ProbeTarget target;
  std::set<pid_t> seen;
  {
    WorkerPool pool(target, Stage::kRun, {.workers = 3, .timeout_s = 10});
    std::vector<std::string> artifacts;
    for (int i = 0; i < 12; ++i) artifacts.push_back(i % 2 == 0 ? "pid" : "segv");
    const auto results = pool.run(artifacts);
    ASSERT_EQ(results.size(), artifacts.size());
    for (size_t i = 0; i < results.size(); ++i) {
      if (i % 2 == 0) {
        ASSERT_EQ(results[i].status, Status::kOk) << results[i].message;
        seen.insert(static_cast<pid_t>(std::stol(results[i].message)));
      } else {
        EXPECT_EQ(results[i].status, Status::kCrash);
        EXPECT_TRUE(contains(results[i].message, "signal 11")) << results[i].message;
      }
    }
    EXPECT_EQ(pool.respawns(), 6);
    EXPECT_EQ(forked_children().size(), 3u);  // exactly the live workers
  }
  EXPECT_TRUE(forked_children().empty());
  for (pid_t pid : seen) {
    EXPECT_EQ(kill(pid, 0), -1) << "worker " << pid << " still exists";
    EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1) << "worker " << pid << " was not reaped";
  }
  EXPECT_LE(waitpid(-1, nullptr, WNOHANG), 0);
}

TEST(WorkerPool, WorkersRunInParallel) {
  ProbeTarget target;
  WorkerPool pool(target, Stage::kRun, {.workers = 4, .timeout_s = 10});
  const auto t0 = Clock::now();
  const auto results = pool.run(std::vector<std::string>(8, "sleep100"));
  const double elapsed = seconds_since(t0);
  for (const auto& r : results) EXPECT_EQ(r.status, Status::kOk) << r.message;
  EXPECT_GE(elapsed, 0.2);
  EXPECT_LT(elapsed, 0.4);
}

TEST(WorkerPool, RejectsBadOptionsAndWrongStage) {
  ProbeTarget target;
  EXPECT_THROW(WorkerPool(target, Stage::kRun, {.workers = 0}), std::invalid_argument);
  EXPECT_THROW(WorkerPool(target, Stage::kRun, {.workers = 1, .timeout_s = 0}),
               std::invalid_argument);
  EXPECT_THROW(WorkerPool(target, Stage::kRun, {.workers = 1, .memory_limit_mb = -1}),
               std::invalid_argument);
  WorkerPool pool(target, Stage::kRun, {.workers = 1});
  EXPECT_THROW(pool.build({config_of(target, 1)}), std::logic_error);
}

}  // namespace
}  // namespace ml2
