#include "ml2tuner/bench.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ml2 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A small recorded space: 24 x 24 configurations, a smooth latency with its optimum at (7, 3),
// compile failures where x + y > 30 and launch failures where x == 20.
std::string write_cache(const fs::path& dir) {
  json j;
  j["device_name"] = "Synthetic";
  j["kernel_name"] = "bowl";
  j["tune_params_keys"] = {"x", "y"};
  std::vector<int> v(24);
  for (int i = 0; i < 24; ++i) v[i] = i;
  j["tune_params"] = {{"x", v}, {"y", v}};
  j["objective"] = "time";
  for (int x = 0; x < 24; ++x) {
    for (int y = 0; y < 24; ++y) {
      json e = {{"x", x}, {"y", y}, {"compile_time", 100.0}, {"benchmark_time", 10.0}};
      if (x + y > 30) {
        e["time"] = "CompilationFailedConfig";
      } else if (x == 20) {
        e["time"] = "RuntimeFailedConfig";
      } else {
        e["time"] = 1.0 + 0.05 * ((x - 7) * (x - 7) + (y - 3) * (y - 3));
      }
      j["cache"][std::to_string(x) + "," + std::to_string(y)] = e;
    }
  }
  const fs::path p = dir / "bowl.json";
  std::ofstream(p) << j.dump();
  return p.string();
}

class Bench : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ml2-bench-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "spaces");
    options_.suite = write_cache(dir_ / "spaces");
    options_.tuners = {"xgb", "ml2", "random"};
    options_.trials = 160;
    options_.seeds = 2;
    options_.jobs = 2;
    options_.quiet = true;
    options_.out = (dir_ / "out").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  BenchOptions options_;
};

TEST_F(Bench, ComputesThePapersMetricsAndResumes) {
  const json r = run_bench(options_);
  const json& x = r["overall"]["xgb"];
  EXPECT_DOUBLE_EQ(x["samples_to_equal"].get<double>(), 1.0);  // xgb equals itself
  EXPECT_DOUBLE_EQ(x["invalid_trials_reduction"].get<double>(), 0.0);
  EXPECT_EQ(x["runs"], 2);
  const json& m = r["overall"]["ml2"];
  for (const char* key : {"samples_to_equal", "invalid_trials", "invalid_trials_reduction",
                          "run_failures", "builds", "strategy_s_per_round"}) {
    EXPECT_TRUE(m.contains(key)) << key;
  }
  EXPECT_TRUE(m.contains("rmse_p"));
  // Samples to within 1 %: from the histories, against xgb's own trials to within 1 % of its best.
  EXPECT_DOUBLE_EQ(x["samples_to_1pct"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(x["time_to_equal"].get<double>(), 1.0);
  auto history = [&](const char* tuner, int seed) {
    const auto f = dir_ / "out" / "runs" / "spaces" / "bowl" / tuner /
                   ("seed" + std::to_string(seed)) / "summary.json";
    return json::parse(std::ifstream(f));
  };
  for (int seed : {1, 2}) {
    const json xs = history("xgb", seed), ms = history("ml2", seed);
    const double near = xs["best_latency_ms"].get<double>() * 1.01;
    auto first = [&](const json& s) {
      for (const json& h : s["history"]) {
        if (h["latency_ms"].is_number() && h["latency_ms"].get<double>() <= near) {
          return h["trial"].get<double>();
        }
      }
      return s["trials"].get<double>();
    };
    const json& m = r["tasks"]["spaces/bowl"]["ml2"]["seeds"][std::to_string(seed)];
    EXPECT_DOUBLE_EQ(m["samples_to_1pct"].get<double>(), first(ms) / first(xs));
    // Virtual time to equal: the clocks of the trials that first reached xgb's best.
    auto clock = [](const json& s, double target) {
      for (size_t i = 0; i < s["history"].size(); ++i) {
        const json& l = s["history"][i]["latency_ms"];
        if (l.is_number() && l.get<double>() <= target)
          return s["trial_virtual_s"][i].get<double>();
      }
      return s["virtual_time_s"].get<double>();
    };
    const double best = xs["best_latency_ms"].get<double>();
    EXPECT_DOUBLE_EQ(m["time_to_equal"].get<double>(), clock(ms, best) / clock(xs, best));
  }
  // The optimum of a recorded space is known, so the gap is reported.
  const json& task = r["tasks"]["spaces/bowl"];
  EXPECT_DOUBLE_EQ(task["xgb"]["seeds"]["1"]["optimum_ms"].get<double>(), 1.0);
  EXPECT_TRUE(fs::exists(dir_ / "out" / "results.md"));
  // Every run has its own store and summary; a second call runs nothing and agrees.
  const auto summary = dir_ / "out" / "runs" / "spaces" / "bowl" / "ml2" / "seed1" / "summary.json";
  ASSERT_TRUE(fs::exists(summary));
  const auto stamp = fs::last_write_time(summary);
  const json again = run_bench(options_);
  EXPECT_EQ(fs::last_write_time(summary), stamp);
  EXPECT_EQ(again, r);
}

TEST_F(Bench, RefusesBadOptions) {
  BenchOptions o = options_;
  o.tuners = {"ml2"};
  EXPECT_THROW(run_bench(o), std::invalid_argument);  // nothing to measure against
  o.tuners = {"xgb", "bayes"};
  EXPECT_THROW(run_bench(o), std::invalid_argument);
  o = options_;
  o.suite = (dir_ / "nothing*.json").string();
  EXPECT_THROW(run_bench(o), std::invalid_argument);
  o = options_;
  o.params = {{"no_such_parameter", "1"}};
  EXPECT_THROW(run_bench(o), std::invalid_argument);
  o.params = {{"pop_size", "8"}};  // only ga reads it
  EXPECT_THROW(run_bench(o), std::invalid_argument);
  o.params = {{"n", "0"}};  // out of bounds
  EXPECT_THROW(run_bench(o), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir_ / "out" / "runs"));  // refused before anything ran
  // An output folder that cannot be made (here, under a file) is named before anything runs.
  o = options_;
  std::ofstream(dir_ / "a-file") << "x";
  o.out = (dir_ / "a-file" / "out").string();
  try {
    run_bench(o);
    ADD_FAILURE() << "an output folder under a file was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--out " + o.out + ": cannot create"), std::string::npos)
        << e.what();
  }
}

TEST_F(Bench, PassesParametersToTheTunersThatReadThem) {
  BenchOptions o = options_;
  o.seeds = 1;
  o.trials = 48;
  o.params = {{"n", "8"}, {"plan_size", "16"}};
  const json r = run_bench(o);
  EXPECT_EQ(r["config"]["params"]["n"], "8");
  // ml2 runs up to 8 per round (48 trials: 6 rounds, more where a round's builds failed; 2 by
  // default); xgb reads plan_size, random reads neither and is not refused for it.
  auto rounds = [&](const char* tuner) {
    const auto f = dir_ / "out" / "runs" / "spaces" / "bowl" / tuner / "seed1" / "summary.json";
    return json::parse(std::ifstream(f))["rounds"].get<int64_t>();
  };
  EXPECT_GE(rounds("ml2"), 6);
  EXPECT_LE(rounds("ml2"), 8);
  EXPECT_EQ(rounds("random"), 1);
}

}  // namespace
}  // namespace ml2
