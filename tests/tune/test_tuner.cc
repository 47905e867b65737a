#include "ml2tuner/tuner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

namespace ml2 {
namespace {

namespace fs = std::filesystem;

// A synthetic target with known answers. x in 0..49, y in 0..3:
//   x % 10 == 0 -> compile error at build;  x % 10 == 1 -> runtime error at run;
//   x == 7 / 17 / 27 / 37 -> the run segfaults / aborts / hangs / allocates without bound;
//   otherwise latency = 1 + (x - 23)^2 / 100 + y / 10 ms (best: x = 23, y = 0).
class SyntheticTarget : public Target {
 public:
  explicit SyntheticTarget(bool chaos = false, int run_sleep_ms = 0)
      : chaos_(chaos), run_sleep_ms_(run_sleep_ms) {
    SpaceBuilder b;
    b.add(Knob::Range("x", 0, 49));
    b.add(Knob::Range("y", 0, 3));
    space_ = std::move(b).build();
  }
  std::string name() const override { return "synthetic"; }
  std::string task() const override { return chaos_ ? "chaos" : "quadratic"; }
  const Space& space() const override { return space_; }

  BuildResult build(const Config& c) const override {
    BuildResult r;
    const int64_t x = space_.knobs()[0].value(c[0]);
    r.virtual_s = 0.5;
    if (x % 10 == 0) {
      r.status = Status::kCompileError;
      r.message = "x is a multiple of 10";
      return r;
    }
    r.artifact = std::to_string(x) + " " + std::to_string(space_.knobs()[1].value(c[1]));
    r.hidden["x_squared"] = static_cast<double>(x * x);
    return r;
  }

  RunResult run(const std::string& artifact) const override {
    int64_t x = 0, y = 0;
    std::sscanf(artifact.c_str(), "%ld %ld", &x, &y);
    if (run_sleep_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(run_sleep_ms_));
    RunResult r;
    r.virtual_s = 0.25;
    if (chaos_) {
      if (x == 7) std::raise(SIGSEGV);
      if (x == 17) std::abort();
      if (x == 27) {
        for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
      }
      if (x == 37) {
        std::vector<std::vector<char>> hog;
        for (;;) hog.emplace_back(size_t{64} << 20, 'x');
      }
    }
    if (x % 10 == 1) {
      r.status = Status::kRuntimeError;
      r.message = "launch failed";
      return r;
    }
    const double ms =
        1.0 + static_cast<double>((x - 23) * (x - 23)) / 100.0 + static_cast<double>(y) / 10.0;
    r.latency = Measurement::from_samples({ms, ms});
    return r;
  }

 private:
  bool chaos_;
  int run_sleep_ms_;
  Space space_;
};

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("ml2tuner-tuner-test-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

TuneOptions options(int64_t trials, const std::string& tuner = "random", uint64_t seed = 5) {
  TuneOptions o;
  o.tuner = tuner;
  o.trials = trials;
  o.seed = seed;
  o.batch = 16;
  o.jobs = 2;
  o.run_timeout_s = 0.5;
  o.worker_memory_mb = 256;
  return o;
}

// Configurations a session measured, each counted once.
size_t distinct_configs(const TuneSummary& s) {
  std::set<std::string> configs;
  for (const auto& h : s.history) configs.insert(h["config"].dump());
  return configs.size();
}

TEST(Tuner, CountsTrialsBuildsAndFailures) {
  SyntheticTarget target;
  TempDir dir;
  RecordStore store(dir.file("s.db"));
  TuneSummary s = Tuner(target, store, options(200, "grid")).run();
  ASSERT_EQ(s.space_size, 200u);
  EXPECT_EQ(s.trials, 200);
  EXPECT_EQ(s.builds, 200);
  EXPECT_EQ(s.build_failures, 20);  // x = 0, 10, ..., 40, four y each
  EXPECT_EQ(s.run_failures, 20);    // x = 1, 11, ..., 41
  EXPECT_EQ(s.invalid_trials, 40);
  EXPECT_EQ(s.trial_status["compile_error"], 20);
  EXPECT_EQ(s.trial_status["runtime_error"], 20);
  EXPECT_EQ(s.trial_status["ok"], 160);
  ASSERT_TRUE(s.best_latency_ms.has_value());
  EXPECT_DOUBLE_EQ(*s.best_latency_ms, 1.0);
  EXPECT_EQ(s.best_config, (nlohmann::json{{"x", 23}, {"y", 0}}));
  // Grid measures in index order: (23, 0) is index 92, the 93rd trial.
  EXPECT_EQ(s.best_trial, 93);
  ASSERT_EQ(s.history.size(), 200u);
  EXPECT_EQ(s.history[0]["status"], "compile_error");
  EXPECT_TRUE(s.history[0]["latency_ms"].is_null());
  // Virtual time: 13 rounds of 16 builds at 0.5 s on 2 lanes (the last round has 8) plus
  // 180 runs at 0.25 s.
  EXPECT_NEAR(s.virtual_time_s, 12 * 4.0 + 2.0 + 180 * 0.25, 1e-9);
  // The clock per trial: round 1's builds end at 4 s; x = 0 fails to build (trials 1-4 final at
  // 4 s), then each run adds 0.25 s (trial 5 at 4.25 s, trial 16 at 7 s); round 2's builds end at
  // 11 s, its first run at 11.25 s; the last trial ends the run.
  ASSERT_EQ(s.trial_virtual_s.size(), 200u);
  EXPECT_DOUBLE_EQ(s.trial_virtual_s[0], 4.0);
  EXPECT_DOUBLE_EQ(s.trial_virtual_s[3], 4.0);
  EXPECT_DOUBLE_EQ(s.trial_virtual_s[4], 4.25);
  EXPECT_DOUBLE_EQ(s.trial_virtual_s[15], 7.0);
  EXPECT_DOUBLE_EQ(s.trial_virtual_s[16], 11.25);
  EXPECT_NEAR(s.trial_virtual_s.back(), s.virtual_time_s, 1e-9);
  EXPECT_TRUE(std::is_sorted(s.trial_virtual_s.begin(), s.trial_virtual_s.end()));
  EXPECT_EQ(store.records().size(), 200u);
}

TEST(Tuner, BudgetLargerThanTheSpaceStopsWhenTheSpaceIsExhausted) {
  SyntheticTarget target;
  TempDir dir;
  RecordStore store(dir.file("s.db"));
  TuneSummary s = Tuner(target, store, options(1000)).run();
  EXPECT_EQ(s.trials, 200);
}

TEST(Tuner, SameSeedSameRun) {
  SyntheticTarget target;
  TempDir dir;
  RecordStore a(dir.file("a.db")), b(dir.file("b.db")), c(dir.file("c.db"));
  TuneSummary sa = Tuner(target, a, options(60, "random", 11)).run();
  TuneSummary sb = Tuner(target, b, options(60, "random", 11)).run();
  TuneSummary sc = Tuner(target, c, options(60, "random", 12)).run();
  EXPECT_EQ(sa.history, sb.history);
  EXPECT_EQ(sa.best_latency_ms, sb.best_latency_ms);
  EXPECT_NE(sa.history, sc.history);
}

TEST(Tuner, ResumeMeasuresOnlyNewConfigurationsAndMatchesAnUninterruptedRun) {
  SyntheticTarget target;
  TempDir dir;
  RecordStore whole_store(dir.file("whole.db"));
  TuneSummary whole = Tuner(target, whole_store, options(150)).run();

  RecordStore store(dir.file("resumed.db"));
  TuneSummary first = Tuner(target, store, options(50)).run();
  EXPECT_EQ(first.trials, 50);
  TuneSummary second = Tuner(target, store, options(150)).run();
  EXPECT_EQ(second.resumed_trials, 50);
  EXPECT_EQ(second.new_trials, 100);
  EXPECT_EQ(second.trials, 150);
  EXPECT_EQ(distinct_configs(second), 150u);  // no configuration measured twice
  EXPECT_EQ(second.history, whole.history);
}

// Thrown by a progress callback: the tuner stops as a kill would, keeping what it stored.
struct Interrupted {};

TuneSummary run_interrupted(const Target& target, RecordStore& store, const TuneOptions& o,
                            int64_t stop_at) {
  Tuner tuner(target, store, o);
  tuner.on_progress([stop_at](const Progress& p) {
    if (p.trials >= stop_at) throw Interrupted{};
  });
  try {
    tuner.run();
  } catch (const Interrupted&) {
    return Tuner(target, store, o).run();
  }
  ADD_FAILURE() << "the run was not interrupted at " << stop_at;
  return {};
}

TEST(Tuner, ResumeAfterAnInterruptedRoundGoesOnExactlyAsAnUninterruptedRun) {
  // Interrupted inside the first round, where a round's runs end (before the strategy was told)
  // and inside a later round, each tuner is asked again for the stored rounds, proposes what the
  // store holds, finishes the interrupted round and goes on as if it had never stopped: the same
  // trials, and the same model metrics (ModelV's precision and recall included).
  SyntheticTarget target;
  for (const char* tuner : {"random", "xgb", "ga", "p", "pv", "pa", "ml2"}) {
    TempDir dir;
    const TuneOptions o = options(96, tuner, 3);
    RecordStore whole_store(dir.file("whole.db"));
    const TuneSummary whole = Tuner(target, whole_store, o).run();
    for (int64_t stop_at : {5, 16, 41}) {
      RecordStore store(dir.file("cut" + std::to_string(stop_at) + ".db"));
      const TuneSummary resumed = run_interrupted(target, store, o, stop_at);
      EXPECT_GE(resumed.resumed_trials, stop_at) << tuner;
      EXPECT_GT(resumed.stored_rounds, 0) << tuner;
      EXPECT_EQ(resumed.replayed_rounds, resumed.stored_rounds) << tuner << " " << stop_at;
      EXPECT_EQ(resumed.history, whole.history) << tuner << " " << stop_at;
      EXPECT_EQ(resumed.to_json()["strategy_metrics"], whole.to_json()["strategy_metrics"])
          << tuner << " " << stop_at;
    }
  }
}

TEST(Tuner, ResumeOfARoundBuiltButNeverRunBuildsItsTrialsAgainAndRunsThem) {
  // A kill after a round's builds were stored and before its first run finished: the store holds
  // the round's builds and none of its trials. A run that failed is stored as one that never
  // finished, with a stale latency (as an imported store could hold it): run again, it fails and
  // keeps no latency.
  SyntheticTarget target;
  for (const char* tuner : {"random", "xgb", "ml2"}) {
    TempDir dir;
    const TuneOptions o = options(64, tuner, 2);
    RecordStore whole_store(dir.file("whole.db"));
    const TuneSummary whole = Tuner(target, whole_store, o).run();
    RecordStore store(dir.file("cut.db"));
    Tuner(target, store, o).run();
    std::vector<Record> records = store.records();
    int64_t last = 0;
    for (const Record& r : records) last = std::max(last, r.round);
    std::vector<Record> built_only;
    int64_t unrun_trials = 0, stale = 0;
    for (Record r : records) {
      if (r.round != last) continue;
      if (r.trial) ++unrun_trials;
      if (r.stage == Stage::kRun && r.status != Status::kOk) {
        r.status = Status::kOk;
        r.latency = Measurement::from_samples({999.0});
        ++stale;
      } else if (r.stage == Stage::kRun) {
        r.stage = Stage::kBuild;
        r.status = Status::kOk;
        r.latency.reset();
        r.run_time_s = r.virtual_run_s = 0;
      }
      r.trial.reset();
      built_only.push_back(r);
    }
    store.put_all(built_only);
    const TuneSummary resumed = Tuner(target, store, o).run();
    ASSERT_GT(unrun_trials, 0) << tuner;
    if (std::string(tuner) == "random") EXPECT_GT(stale, 0);
    EXPECT_EQ(resumed.resumed_trials, 64 - unrun_trials) << tuner;
    EXPECT_EQ(resumed.replayed_rounds, last) << tuner;
    EXPECT_EQ(resumed.history, whole.history) << tuner;
    EXPECT_EQ(resumed.builds, whole.builds) << tuner;  // built again, but recorded once
  }
}

TEST(Tuner, ResumeWithAnotherBudgetOrBatchReplaysWhatItCanAndTellsTheRest) {
  // xgb's rounds are the batch (16): a store of 40 trials resumed to 96 replays the two rounds the
  // budget did not cut; the third (8 trials, asked for 8) is not what an uninterrupted run asks
  // for, so it is told as it was measured. ml2 chooses more runs per round than the batch; the
  // budget cuts a later round. Another batch departs in the first round, and every stored round is
  // told: each tuner still spends its whole budget on configurations it had not measured.
  SyntheticTarget target;
  for (const char* tuner : {"random", "xgb", "ga", "ml2"}) {
    TempDir dir;
    const TuneOptions o = options(96, tuner, 3);
    // 40 trials into a new store, then resumed with `options`.
    auto shorter_then_resumed = [&](const std::string& name, const TuneOptions& options) {
      TuneOptions shorter = o;
      shorter.trials = 40;
      RecordStore store(dir.file(name));
      Tuner(target, store, shorter).run();
      return Tuner(target, store, options).run();
    };
    auto spent_the_budget = [&](const TuneSummary& s) {
      EXPECT_EQ(s.trials, 96) << tuner;
      EXPECT_EQ(distinct_configs(s), 96u) << tuner;
      for (size_t i = 0; i < s.history.size(); ++i) EXPECT_EQ(s.history[i]["trial"], i + 1);
    };
    const TuneSummary resumed = shorter_then_resumed("short.db", o);
    EXPECT_LE(resumed.replayed_rounds, resumed.stored_rounds) << tuner;
    if (std::string(tuner) == "xgb" || std::string(tuner) == "ml2") {
      EXPECT_GE(resumed.replayed_rounds, 1) << tuner;
      EXPECT_LT(resumed.replayed_rounds, resumed.stored_rounds) << tuner;
    }
    if (std::string(tuner) == "xgb") {
      EXPECT_EQ(resumed.stored_rounds, 3);
      EXPECT_EQ(resumed.replayed_rounds, 2);
    }
    spent_the_budget(resumed);

    TuneOptions wider = o;
    wider.batch = 32;
    const TuneSummary told = shorter_then_resumed("other.db", wider);
    EXPECT_EQ(told.replayed_rounds, 0) << tuner;
    spent_the_budget(told);
  }
}

TEST(Tuner, RefusesAStoreOfAnotherSessionAndLeavesItUntouched) {
  SyntheticTarget target;
  TempDir dir;
  RecordStore store(dir.file("s.db"));
  Tuner(target, store, options(20, "random", 1)).run();
  auto before = store.records();
  EXPECT_THROW(Tuner(target, store, options(40, "grid", 1)).run(), std::runtime_error);
  EXPECT_THROW(Tuner(target, store, options(40, "random", 2)).run(), std::runtime_error);
  EXPECT_EQ(store.records().size(), before.size());
}

TEST(Tuner, RejectsBadOptions) {
  SyntheticTarget target;
  TempDir dir;
  RecordStore store(dir.file("s.db"));
  EXPECT_THROW(Tuner(target, store, options(-1)).run(), std::invalid_argument);
  TuneOptions o = options(10);
  o.batch = 0;
  EXPECT_THROW(Tuner(target, store, o).run(), std::invalid_argument);
  EXPECT_THROW(Tuner(target, store, options(10, "nope")).run(), std::invalid_argument);
  EXPECT_EQ(store.count(), 0u);
}

TEST(Tuner, CrashingAbortingHangingAndHoggingRunsAreRecordedWhileTuningGoesOn) {
  SyntheticTarget target(/*chaos=*/true);
  TempDir dir;
  RecordStore store(dir.file("chaos.db"));
  // Grid over x = 0..39 covers every failure kind; y = 0 only keeps it short.
  TuneOptions o = options(160, "grid");
  // The hanging runs take the whole timeout; a healthy run (or a worker restarted after a crash)
  // must stay well inside it even on a loaded machine: 0.5 s failed once with 4 busy processes
  // on 2 cores.
  o.run_timeout_s = 2.0;
  TuneSummary s = Tuner(target, store, o).run();
  EXPECT_EQ(s.trials, 160);
  std::map<int64_t, std::string> status_of_x;
  for (const auto& h : s.history) status_of_x[h["config"]["x"].get<int64_t>()] = h["status"];
  EXPECT_EQ(status_of_x[7], "crash");
  EXPECT_EQ(status_of_x[17], "crash");
  EXPECT_EQ(status_of_x[27], "run_timeout");
  EXPECT_EQ(status_of_x[37], "runtime_error");
  EXPECT_EQ(status_of_x[23], "ok");
  EXPECT_EQ(status_of_x[39], "ok");  // measured after every failure
  for (const Record& r : store.records()) {
    if (r.config_index / 4 == 7) EXPECT_NE(r.message.find("signal"), std::string::npos);
    if (r.config_index / 4 == 17)
      EXPECT_NE(r.message.find("abort"), std::string::npos) << r.message;
    if (r.config_index / 4 == 37) EXPECT_NE(r.message.find("out of memory"), std::string::npos);
  }
  EXPECT_DOUBLE_EQ(*s.best_latency_ms, 1.0);
}

// A target whose timer breaks for some programs: a latency of 0, NaN or below zero.
class BrokenTimerTarget : public SyntheticTarget {
 public:
  RunResult run(const std::string& artifact) const override {
    RunResult r = SyntheticTarget::run(artifact);
    const int64_t x = std::atoll(artifact.c_str());
    if (x == 3) r.latency.mean_ms = 0;
    if (x == 4) r.latency.mean_ms = std::nan("");
    if (x == 5) r.latency.mean_ms = -1;
    return r;
  }
};

TEST(Tuner, ALatencyThatIsNoTimeIsARecordedFailureNotABestConfiguration) {
  // The model-based tuners learn from latencies: one of 0, NaN or below zero must not reach them
  // (ml2's ModelP refused it and the tuner stopped) nor become the best.
  BrokenTimerTarget target;
  for (const char* tuner : {"grid", "ml2"}) {
    TempDir dir;
    RecordStore store(dir.file("t.db"));
    TuneSummary s = Tuner(target, store, options(200, tuner)).run();
    // grid runs the whole space; ml2's gate keeps the 20 compile errors off it once it has
    // seen a few, so it runs out of configurations to try before its budget.
    EXPECT_GE(s.trials, 180) << tuner;
    EXPECT_DOUBLE_EQ(*s.best_latency_ms, 1.0) << tuner;
    size_t broken = 0;
    for (const Record& r : store.records()) {
      const int64_t x = static_cast<int64_t>(r.config_index / 4);
      if (r.stage != Stage::kRun || x < 3 || x > 5) continue;
      ++broken;
      EXPECT_EQ(r.status, Status::kRuntimeError) << tuner << " x=" << x;
      EXPECT_FALSE(r.latency.has_value());
      EXPECT_NE(r.message.find("the target reported a latency of "), std::string::npos)
          << r.message;
    }
    EXPECT_GE(broken, 1u) << tuner;
    if (std::string(tuner) == "grid") EXPECT_EQ(broken, 12u);  // x = 3, 4, 5 with y = 0..3
  }
}

TEST(Tuner, SigkillLosesNothingRecordedAndResumeCompletesTheBudget) {
  SyntheticTarget target(/*chaos=*/false, /*run_sleep_ms=*/3);
  TempDir dir;
  const std::string db = dir.file("killed.db");
  for (int delay_ms : {40, 120, 260}) {
    fs::remove(db);
    fs::remove(db + "-wal");
    fs::remove(db + "-shm");
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      RecordStore store(db);
      TuneOptions o = options(200);
      o.jobs = 1;
      o.batch = 8;
      Tuner(target, store, o).run();
      _exit(0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);

    std::vector<Record> before;
    {
      RecordStore store(db);
      before = store.records();
    }
    RecordStore store(db);
    TuneSummary s = Tuner(target, store, options(200)).run();
    EXPECT_EQ(s.trials, 200);
    // Nothing that was recorded before the kill was lost or measured again.
    std::map<uint64_t, Record> after;
    for (Record& r : store.records()) after[r.config_index] = r;
    for (const Record& r : before) {
      if (!r.trial) continue;
      ASSERT_TRUE(after.count(r.config_index));
      EXPECT_EQ(after[r.config_index].trial, r.trial);
      EXPECT_EQ(after[r.config_index].status, r.status);
    }
    EXPECT_EQ(distinct_configs(s), 200u);
    for (size_t i = 0; i < s.history.size(); ++i) EXPECT_EQ(s.history[i]["trial"], i + 1);
  }
}

// A tuning history: the runs and failed builds of another session's store, of the same space.
// With the whole space in it, xgb's first plan and ml2's first round (8 trials each) hold the
// optimum, which 8 random trials of this seed miss.
TEST(Tuner, LearnsFromTheHistoryOfAnotherSession) {
  SyntheticTarget target;
  TempDir dir;
  {
    RecordStore other(dir.file("other.db"));
    Tuner(target, other, options(200)).run();
  }
  const History history =
      load_history({dir.file("other.db"), dir.file("./other.db")}, target.space().digest());
  EXPECT_EQ(history.stores, std::vector<std::string>{fs::weakly_canonical(dir.file("other.db"))});
  const std::vector<HistoryRecord>& h = history.records;  // the store named twice, read once
  ASSERT_EQ(h.size(), 200u);
  std::map<Status, int> by_status;
  for (const HistoryRecord& r : h) {
    ++by_status[r.status];
    EXPECT_EQ(r.latency_ms.has_value(), r.status == Status::kOk);
  }
  EXPECT_EQ(by_status[Status::kCompileError], 20);  // x % 10 == 0
  EXPECT_EQ(by_status[Status::kRuntimeError], 20);  // x % 10 == 1
  EXPECT_EQ(by_status[Status::kOk], 160);

  for (const char* tuner : {"xgb", "ml2"}) {
    TuneOptions o = options(8, tuner);
    o.params = {{"history_min", "100"}};
    if (std::string(tuner) == "xgb") o.params["plan_size"] = "8";
    if (std::string(tuner) == "ml2") o.params["n"] = "8";
    RecordStore scratch(dir.file(std::string(tuner) + "-scratch.db"));
    const TuneSummary cold = Tuner(target, scratch, o).run();
    o.history = h;
    RecordStore warm_store(dir.file(std::string(tuner) + "-warm.db"));
    const TuneSummary warm = Tuner(target, warm_store, o).run();
    ASSERT_TRUE(cold.best_latency_ms && warm.best_latency_ms) << tuner;
    EXPECT_GT(*cold.best_latency_ms, 1.0) << tuner;
    EXPECT_DOUBLE_EQ(*warm.best_latency_ms, 1.0) << tuner;  // x = 23, y = 0
    EXPECT_EQ(warm.invalid_trials, 0) << tuner;
  }

  // Interrupted and resumed with the same history, a session goes on as an uninterrupted one.
  for (const char* tuner : {"xgb", "pv", "ml2"}) {
    TuneOptions o = options(64, tuner, 3);
    o.params = {{"history_min", "100"}};
    o.history = h;
    RecordStore whole_store(dir.file(std::string(tuner) + "-whole.db"));
    const TuneSummary whole = Tuner(target, whole_store, o).run();
    RecordStore cut_store(dir.file(std::string(tuner) + "-cut.db"));
    const TuneSummary resumed = run_interrupted(target, cut_store, o, 21);
    EXPECT_GT(resumed.stored_rounds, 0) << tuner;
    EXPECT_EQ(resumed.replayed_rounds, resumed.stored_rounds) << tuner;
    EXPECT_EQ(resumed.history, whole.history) << tuner;
    // Resumed with another history, or none, the session is another one: refused.
    TuneOptions without = o;
    without.history.clear();
    EXPECT_THROW(Tuner(target, cut_store, without).run(), OtherSessionError) << tuner;
    TuneOptions fewer = o;
    fewer.history.pop_back();
    EXPECT_THROW(Tuner(target, cut_store, fewer).run(), OtherSessionError) << tuner;
  }

  // Stores that cannot be a history of this space.
  {
    RecordStore elsewhere(dir.file("elsewhere.db"));
    elsewhere.bind({"other-task", "synthetic", "0123456789abcdef", "random", 1});
  }
  std::ofstream(dir.file("text.db")) << "not a store\n";
  {
    RecordStore unbound(dir.file("unbound.db"));
    RecordStore empty(dir.file("empty.db"));  // a session that measured nothing
    empty.bind(session_of(target, options(0)));
  }
  for (const char* bad : {"elsewhere.db", "text.db", "missing.db", "unbound.db", "empty.db"}) {
    try {
      load_history({dir.file("other.db"), dir.file(bad)}, target.space().digest());
      ADD_FAILURE() << bad << " was taken as a history";
    } catch (const std::invalid_argument& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("--history " + dir.file(bad)), std::string::npos) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
  }
}

TEST(ParallelMakespan, ListSchedulesLongestFirst) {
  EXPECT_DOUBLE_EQ(parallel_makespan({}, 4), 0);
  EXPECT_DOUBLE_EQ(parallel_makespan({1, 1, 1, 1}, 2), 2);
  EXPECT_DOUBLE_EQ(parallel_makespan({3, 1, 1, 1}, 2), 3);
  EXPECT_DOUBLE_EQ(parallel_makespan({5, 2}, 1), 7);
}

}  // namespace
}  // namespace ml2
