#include "ml2tuner/bench.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>

#include "ml2tuner/record_store.h"
#include "util/file_lock.h"

namespace ml2 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A small recorded space: 24 x 24 configurations, a smooth latency with its optimum at (ox, 3),
// compile failures where x + y > 30 and launch failures where x == 20; on `device`, in
// dir/<name>.json.
std::string write_cache(const fs::path& dir, const std::string& name = "bowl",
                        const std::string& device = "Synthetic", int ox = 7) {
  json j;
  j["device_name"] = device;
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
        e["time"] = 1.0 + 0.05 * ((x - ox) * (x - ox) + (y - 3) * (y - 3));
      }
      j["cache"][std::to_string(x) + "," + std::to_string(y)] = e;
    }
  }
  const fs::path p = dir / (name + ".json");
  std::ofstream(p) << j.dump();
  return p.string();
}

// run_bench's refusal of `o` (std::invalid_argument's message), or "(accepted)" if it ran.
std::string refusal_of(const BenchOptions& o) {
  try {
    run_bench(o);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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
  // Beside each mean of samples to equal: the median and the standard error over the runs.
  {
    const json& seeds = r["tasks"]["spaces/bowl"]["ml2"]["seeds"];
    const double a = seeds["1"]["samples_to_equal"].get<double>();
    const double b = seeds["2"]["samples_to_equal"].get<double>();
    EXPECT_DOUBLE_EQ(m["samples_to_equal_median"].get<double>(), (a + b) / 2);
    EXPECT_NEAR(m["samples_to_equal_se"].get<double>(), std::abs(a - b) / 2, 1e-12);
    EXPECT_EQ(seeds["1"]["equal_trial"].is_number(), seeds["1"]["equalled"].get<bool>());
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

TEST_F(Bench, DrawsSamplesToEqualAndEachTasksConvergence) {
  // (A suite path through "." names the task by the folder itself: spaces/bowl, not ./bowl.)
  BenchOptions o = options_;
  o.suite = (dir_ / "spaces" / "." / "bowl.json").string();
  const json r = run_bench(o);
  EXPECT_TRUE(r["tasks"].contains("spaces/bowl")) << r["tasks"].dump();
  const fs::path plots = dir_ / "out" / "plots";
  const std::string overall = read_text(plots / "overall.svg");
  const std::string task = read_text(plots / "spaces_bowl.svg");
  // One curve per tuner. In the overall picture xgb's ends at 100 %: every run reaches its own
  // best.
  for (const std::string& svg : {overall, task}) {
    EXPECT_NE(svg.find("data-series=\"xgb\""), std::string::npos);
    EXPECT_NE(svg.find("data-series=\"ml2\""), std::string::npos);
  }
  const std::string key = "data-series=\"xgb\" points=\"";
  const size_t from = overall.find(key) + key.size();
  const std::string points = overall.substr(from, overall.find('"', from) - from);
  EXPECT_EQ(points.substr(points.rfind(',')), ",36.0") << points;     // the top of the axis: 100 %
  EXPECT_NE(task.find("best latency / optimum"), std::string::npos);  // a recorded space's
  const std::string md = read_text(dir_ / "out" / "results.md");
  EXPECT_NE(md.find("](plots/overall.svg)"), std::string::npos);
  EXPECT_NE(md.find("![spaces/bowl](plots/spaces_bowl.svg)"), std::string::npos);
  // A picture that is not this bench's is removed; a budget under the y axis' reference trial (8)
  // is drawn too.
  std::ofstream(plots / "stale.svg") << "<svg/>";
  o.trials = 4;
  o.out = (dir_ / "short").string();
  run_bench(o);
  EXPECT_TRUE(fs::exists(dir_ / "short" / "plots" / "spaces_bowl.svg"));
  o.out = (dir_ / "out").string();
  o.trials = options_.trials;
  run_bench(o);
  EXPECT_FALSE(fs::exists(plots / "stale.svg"));
  EXPECT_TRUE(fs::exists(plots / "spaces_bowl.svg"));
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
  // Two spaces that would be one task (the same folder and file names) are refused.
  o = options_;
  for (const char* d : {"a", "b"}) {
    fs::create_directories(dir_ / d / "spaces");
    write_cache(dir_ / d / "spaces");
  }
  o.suite = (dir_ / "*" / "spaces" / "bowl.json").string();
  try {
    run_bench(o);
    ADD_FAILURE() << "two spaces named spaces/bowl were accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("would both be task spaces/bowl"), std::string::npos)
        << e.what();
  }
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
  o.params = {{"n", "8"}, {"plan_size", "16"}, {"run_cutoff", "0"}};
  const json r = run_bench(o);
  EXPECT_EQ(r["config"]["params"]["n"], "8");
  // ml2 runs up to 8 per round, with no run cutoff exactly 8 where enough built (48 trials: 6
  // rounds, more where a round's builds failed; 2 by default); xgb reads plan_size, random reads
  // none of them and is not refused for them.
  auto rounds = [&](const char* tuner) {
    const auto f = dir_ / "out" / "runs" / "spaces" / "bowl" / tuner / "seed1" / "summary.json";
    return json::parse(std::ifstream(f))["rounds"].get<int64_t>();
  };
  EXPECT_GE(rounds("ml2"), 6);
  EXPECT_LE(rounds("ml2"), 8);
  EXPECT_EQ(rounds("random"), 1);
}

TEST_F(Bench, RefusesRunFoldersMadeWithOtherSettings) {
  // A run folder is the bench's only if it was made with the same budget, parameters and space: a
  // finished run (its summary) or an interrupted one (its store) made otherwise is refused, with
  // the folder and what differs, before anything runs.
  BenchOptions o = options_;
  o.tuners = {"xgb", "ml2"};
  o.seeds = 1;
  o.trials = 48;
  run_bench(o);
  const fs::path ml2 = dir_ / "out" / "runs" / "spaces" / "bowl" / "ml2" / "seed1";
  const fs::path xgb_summary =
      dir_ / "out" / "runs" / "spaces" / "bowl" / "xgb" / "seed1" / "summary.json";
  const std::string xgb_before = json::parse(std::ifstream(xgb_summary)).dump();

  BenchOptions more = o;
  more.trials = 64;
  const std::string trials = refusal_of(more);
  EXPECT_NE(trials.find("runs/spaces/bowl/xgb/seed1 was made with other settings (trials 48 "
                        "against 64 now); give another --out"),
            std::string::npos)
      << trials;
  BenchOptions n8 = o;
  n8.params = {{"n", "8"}};  // read by ml2 only: xgb's runs are still this bench's
  const std::string params = refusal_of(n8);
  EXPECT_NE(params.find("runs/spaces/bowl/ml2/seed1 was made with other settings (params {} "
                        "against {\"n\":\"8\"} now)"),
            std::string::npos)
      << params;
  // Interrupted (a store and no summary): refused too.
  fs::remove(ml2 / "summary.json");
  EXPECT_NE(refusal_of(n8).find("ml2/seed1 was made with other settings"), std::string::npos);
  // A folder without settings.json (made before the file was written) is taken as it is.
  fs::remove(xgb_summary.parent_path() / "settings.json");
  EXPECT_NE(refusal_of(more).find("ml2/seed1 was made with other settings (trials"),
            std::string::npos);
  // The same settings: the finished run is kept (its summary holds its own elapsed time), the
  // interrupted one is finished.
  const json r = run_bench(o);
  EXPECT_EQ(r["overall"]["ml2"]["runs"], 1);
  EXPECT_TRUE(fs::exists(ml2 / "summary.json"));
  EXPECT_EQ(json::parse(std::ifstream(xgb_summary)).dump(), xgb_before);
}

// --history: each run learns from the stores of its space that tuned another task (another
// device), listed in its settings; what cannot be such a history is refused before anything runs.
TEST_F(Bench, LearnsFromTheHistoryOfTheOtherTasksOfItsSpace) {
  fs::create_directories(dir_ / "dev");
  write_cache(dir_ / "dev", "a", "Device A", 7);
  write_cache(dir_ / "dev", "b", "Device B", 8);
  BenchOptions first = options_;
  first.suite = (dir_ / "dev" / "*.json").string();
  first.tuners = {"xgb"};
  first.seeds = 1;
  first.trials = 100;
  first.out = (dir_ / "first").string();
  run_bench(first);
  const std::string store_a = (dir_ / "first/runs/dev/a/xgb/seed1/run.db").string();
  const std::string store_b = (dir_ / "first/runs/dev/b/xgb/seed1/run.db").string();

  BenchOptions o = first;
  o.tuners = {"xgb", "ml2"};
  o.trials = 48;
  o.out = (dir_ / "second").string();
  // Device B's store named twice (by the glob, and by name): read once.
  o.history = {(dir_ / "first/runs/*/*/xgb/seed1/run.db").string(), store_b};
  o.params = {{"history_min", "50"}};
  const json r = run_bench(o);
  EXPECT_EQ(r["overall"]["ml2"]["runs"], 2);
  auto settings = [&](const char* task, const char* tuner) {
    return json::parse(
        std::ifstream(dir_ / "second/runs/dev" / task / tuner / "seed1" / "settings.json"));
  };
  for (const char* tuner : {"xgb", "ml2"}) {
    EXPECT_EQ(settings("a", tuner)["history"], json::array({store_b})) << tuner;
    EXPECT_EQ(settings("b", tuner)["history"], json::array({store_a})) << tuner;
    EXPECT_EQ(settings("a", tuner)["history_records"], 100) << tuner;
  }
  // The same bench without the history is other settings, and says so.
  BenchOptions without = o;
  without.history.clear();
  const std::string refused = refusal_of(without);
  EXPECT_NE(refused.find("was made with other settings (history [\"" + store_b), std::string::npos)
      << refused;
  EXPECT_NE(refused.find("history_records 100 against null now"), std::string::npos) << refused;
  // Device B's optimum (8, 3) is next to device A's: with A's history, B's first plan has it,
  // which from scratch xgb found only after 48 trials (the first bench's run on B).
  const json b_xgb = r["tasks"]["dev/b"]["xgb"]["seeds"]["1"];
  const json cold = json::parse(std::ifstream(dir_ / "first/runs/dev/b/xgb/seed1/summary.json"));
  EXPECT_EQ(b_xgb["best_latency_ms"], 1.0);
  EXPECT_EQ(cold["best_latency_ms"], 1.0);
  EXPECT_GT(cold["best_trial"].get<int>(), 48);
  EXPECT_LT(b_xgb["best_trial"].get<int>(), 16);

  auto refusal = [&](BenchOptions bad) {
    bad.out = (dir_ / "refused").string();
    return refusal_of(bad);
  };
  BenchOptions bad = o;
  bad.history = {(dir_ / "nothing*.db").string()};
  EXPECT_NE(refusal(bad).find("matches no file"), std::string::npos);
  bad.history = {store_a};  // device A finds no other device's store
  EXPECT_NE(refusal(bad).find("no store tuned another task of dev/a's space"), std::string::npos);
  bad.history = {(dir_ / "refused/*.db").string()};
  fs::create_directories(dir_ / "refused");
  fs::copy_file(store_a, dir_ / "refused/a.db");
  EXPECT_NE(refusal(bad).find("lies inside --out"), std::string::npos);
  bad = o;
  bad.tuners = {"xgb", "ga"};
  EXPECT_NE(refusal(bad).find("tuner ga learns nothing from a tuning history"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "refused" / "runs"));
}

TEST_F(Bench, ComparesParametersByTheirValueNotTheirSpelling) {
  // --set n=8.0 is n=8 to the tuner, so a folder made with either is the other's; one made by a
  // writer that kept the spelling (settings.json with "8.0") is taken too. n=16 is refused.
  BenchOptions o = options_;
  o.tuners = {"xgb", "ml2"};
  o.seeds = 1;
  o.trials = 48;
  o.params = {{"n", "8"}};
  const json first = run_bench(o);
  const fs::path settings =
      dir_ / "out" / "runs" / "spaces" / "bowl" / "ml2" / "seed1" / "settings.json";
  EXPECT_EQ(json::parse(std::ifstream(settings))["params"], json({{"n", "8"}}));
  BenchOptions spelled = o;
  spelled.params = {{"n", "8.0"}};
  EXPECT_EQ(run_bench(spelled)["overall"]["ml2"]["samples_to_equal"],
            first["overall"]["ml2"]["samples_to_equal"]);
  json held = json::parse(std::ifstream(settings));
  held["params"]["n"] = "8.0";
  std::ofstream(settings) << held.dump();
  EXPECT_NO_THROW(run_bench(o));
  BenchOptions other = o;
  other.params = {{"n", "16"}};
  EXPECT_THROW(run_bench(other), std::invalid_argument);
}

TEST_F(Bench, OneBenchAtATimeWritesAnOutFolder) {
  // While another bench holds --out (here: its lock taken by another open file, as another
  // process would), a bench into it is refused before it runs anything; once that one ends, it
  // runs.
  BenchOptions o = options_;
  o.tuners = {"xgb"};
  o.seeds = 1;
  o.trials = 16;
  fs::create_directories(o.out);
  int held = -1;
  ASSERT_EQ(try_lock_byte((fs::path(o.out) / "bench.lock").string(), 0, true, &held),
            LockState::kHeld);
  try {
    run_bench(o);
    ADD_FAILURE() << "a bench ran into an --out that another bench holds";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(" is in use by another bench (another ml2tuner process); "
                                         "wait for it to end, or give another --out"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(fs::path(o.out) / "runs"));
  close(held);
  EXPECT_EQ(run_bench(o)["overall"]["xgb"]["runs"], 1);
  // And the bench released it: the lock can be taken again.
  ASSERT_EQ(try_lock_byte((fs::path(o.out) / "bench.lock").string(), 0, true, &held),
            LockState::kHeld);
  close(held);
}

TEST_F(Bench, NamesTheRunsItResumedWithoutReplayingThem) {
  // An interrupted run whose store its tuner cannot replay (here: rounds renumbered, as a store
  // of another version could be) goes on from the stored rounds; results.json and results.md say
  // which runs did. A bench whose runs all replayed (or never stopped) names none.
  BenchOptions o = options_;
  o.tuners = {"xgb", "ml2"};
  o.seeds = 1;
  o.trials = 48;
  EXPECT_TRUE(run_bench(o)["runs_not_replayed"].empty());
  const fs::path ml2 = dir_ / "out" / "runs" / "spaces" / "bowl" / "ml2" / "seed1";
  fs::remove(ml2 / "summary.json");
  {
    RecordStore store((ml2 / "run.db").string());
    std::vector<Record> records = store.records();
    for (Record& r : records) r.round += 10;
    store.put_all(records);
  }
  const json r = run_bench(o);
  ASSERT_EQ(r["runs_not_replayed"].size(), 1u);
  EXPECT_EQ(r["runs_not_replayed"][0]["tuner"], "ml2");
  EXPECT_EQ(r["runs_not_replayed"][0]["replayed_rounds"], 0);
  EXPECT_GT(r["runs_not_replayed"][0]["stored_rounds"].get<int64_t>(), 0);
  const std::string text = read_text(dir_ / "out" / "results.md");
  EXPECT_NE(text.find("**1 run(s) resumed from stores their tuner could not replay**"),
            std::string::npos);
  EXPECT_NE(text.find("spaces/bowl ml2 seed 1 (0 of "), std::string::npos) << text;
}

// A results.json with the runs given as {task, tuner, seed, samples_to_equal, builds}, and an xgb
// run (its yardstick) for every task and seed among them.
json results_of(
    const std::vector<std::tuple<std::string, std::string, int, double, double>>& runs) {
  json r = {{"tasks", json::object()}};
  auto add = [&](const std::string& task, const std::string& tuner, int seed, double equal,
                 double builds) {
    r["tasks"][task][tuner]["seeds"][std::to_string(seed)] = {{"samples_to_equal", equal},
                                                              {"builds", builds},
                                                              {"best_latency_ms", 1.0},
                                                              {"best_trial", 10 * seed}};
  };
  for (const auto& [task, tuner, seed, equal, builds] : runs) {
    add(task, "xgb", seed, 1, 100);
    add(task, tuner, seed, equal, builds);
  }
  return r;
}

TEST(BenchCompare, PairsTheRunsOfTheSameTaskAndSeed) {
  // ml2 in two benches: on task A seeds 1-3 and task B seed 1; the new bench lacks B's seed 2.
  const json base = results_of({{"A", "ml2", 1, 0.5, 200},
                                {"A", "ml2", 2, 0.3, 200},
                                {"A", "ml2", 3, 0.4, 210},
                                {"B", "ml2", 1, 0.2, 220},
                                {"B", "ml2", 2, 0.9, 220}});
  json changed = results_of({{"A", "ml2", 1, 0.3, 250},
                             {"A", "ml2", 2, 0.3, 250},
                             {"A", "ml2", 3, 0.6, 250},
                             {"B", "ml2", 1, 0.1, 250}});
  const json c = compare_bench(base, changed);
  ASSERT_TRUE(c["tuners"].contains("ml2"));
  EXPECT_FALSE(c["tuners"].contains("xgb"));  // the yardstick is not compared by default
  const json& t = c["tuners"]["ml2"];
  EXPECT_EQ(t["pairs"], 4);
  EXPECT_EQ(t["xgb_differs"], 0);
  const json& e = t["measures"]["samples_to_equal"];
  // Differences -0.2, 0, +0.2, -0.1: mean -0.025; squared deviations sum to 0.0875.
  EXPECT_NEAR(e["base"].get<double>(), 1.4 / 4, 1e-12);
  EXPECT_NEAR(e["new"].get<double>(), 1.3 / 4, 1e-12);
  EXPECT_NEAR(e["difference"].get<double>(), -0.025, 1e-12);
  EXPECT_NEAR(e["standard_error"].get<double>(), std::sqrt(0.0875 / 3 / 4), 1e-12);
  EXPECT_EQ(e["lower"], 2);
  EXPECT_EQ(e["higher"], 1);
  EXPECT_EQ(e["same"], 1);
  EXPECT_EQ(t["measures"]["builds"]["higher"], 4);
  EXPECT_EQ(t["samples_to_equal_per_task"]["A"]["pairs"], 3);
  EXPECT_EQ(t["samples_to_equal_per_task"]["B"]["lower"], 1);
  const std::string md = compare_markdown(c);
  EXPECT_NE(md.find("| ml2 | samples_to_equal | 4 | 35.0 % | 32.5 % | -2.5 pt"), std::string::npos)
      << md;
  // A different xgb run changes the ratio's denominator: it is counted and said.
  changed["tasks"]["A"]["xgb"]["seeds"]["2"]["best_trial"] = 7;
  const json d = compare_bench(base, changed);
  EXPECT_EQ(d["tuners"]["ml2"]["xgb_differs"], 1);
  EXPECT_NE(compare_markdown(d).find("xgb's run differs (or is missing) in 1 of the 4 pairs"),
            std::string::npos);
  // Tasks are listed in natural order, C2 before C10.
  const json layers = results_of({{"C10", "ml2", 1, 0.5, 1}, {"C2", "ml2", 1, 0.5, 1}});
  const std::string lm = compare_markdown(compare_bench(layers, layers));
  ASSERT_NE(lm.find("| ml2 | C10 |"), std::string::npos);
  EXPECT_LT(lm.find("| ml2 | C2 |"), lm.find("| ml2 | C10 |"));
  // A tuner that is not in both, or a file that is not a bench's results, is refused.
  EXPECT_THROW(compare_bench(base, changed, {"pv"}), std::invalid_argument);
  EXPECT_THROW(compare_bench(base, json::object()), std::invalid_argument);
  // Malformed entries are passed over, not trusted: no pair, so refused.
  const json odd = {{"tasks", {{"A", {{"ml2", {{"seeds", {{"1", 3}}}}}, {"xgb", 1}}}, {"B", 2}}}};
  EXPECT_THROW(compare_bench(odd, odd, {"ml2"}), std::invalid_argument);
  EXPECT_THROW(
      compare_bench(results_of({{"A", "xgb", 1, 1, 1}}), results_of({{"A", "xgb", 1, 1, 1}})),
      std::invalid_argument);
}

}  // namespace
}  // namespace ml2
