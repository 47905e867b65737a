// End-to-end tests of the ml2tuner executable on the recorded spaces.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "ml2tuner/record_store.h"
#include "ml2tuner/replay.h"

namespace ml2 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kConv3090 =
    std::string(ML2_SHARED_DATA) + "/spaces/kerneltuner/convolution/RTX_3090.json.gz";

struct Result {
  int status = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

Result run_cli(const std::string& args, const std::string& dir) {
  const std::string out = dir + "/stdout.txt", err = dir + "/stderr.txt";
  const std::string cmd =
      std::string(ML2_CLI_PATH) + " " + args + " >" + out + " 2>" + err + " </dev/null";
  int raw = std::system(cmd.c_str());
  Result r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::ifstream o(out), e(err);
  std::stringstream so, se;
  so << o.rdbuf();
  se << e.rdbuf();
  r.out = so.str();
  r.err = se.str();
  return r;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kConv3090)) GTEST_SKIP() << "recorded spaces not found at " << ML2_SHARED_DATA;
    dir_ = fs::temp_directory_path() /
           ("ml2tuner-cli-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  Result cli(const std::string& args) const { return run_cli(args, dir_.string()); }

  fs::path dir_;
};

TEST_F(Cli, RandomOnConvolution3090FindsTheRecordedBest) {
  Result r = cli("tune --target replay --space " + kConv3090 +
                 " --tuner random --trials 300 --seed 1 --jobs 2 --db " + file("s.db") +
                 " --summary " + file("s.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  json s = read_json(file("s.json"));
  for (const char* key : {"task", "target", "tuner", "seed", "trials", "builds", "invalid_trials",
                          "build_failures", "run_failures", "best_latency_ms", "best_config",
                          "best_trial", "virtual_time_s", "history"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }
  EXPECT_EQ(s["trials"], 300);
  EXPECT_EQ(s["builds"], 300);
  EXPECT_EQ(s["history"].size(), 300u);
  // The space has 21.1 % compile failures and 1.8 % launch failures.
  const double share = s["invalid_trials"].get<double>() / 300.0;
  EXPECT_GT(share, 0.15);
  EXPECT_LT(share, 0.30);
  EXPECT_EQ(s["invalid_trials"].get<int>(),
            s["build_failures"].get<int>() + s["run_failures"].get<int>());
  EXPECT_GT(s["trial_status"]["compile_error"].get<int>(), 0);
  EXPECT_GT(s["trial_status"]["runtime_error"].get<int>(), 0);
  EXPECT_EQ(s["run_failures"], s["trial_status"]["runtime_error"]);
  // The best latency is the recorded time of the best configuration, and the best of the history.
  auto target = make_replay_target(kConv3090);
  Config best = target->space().from_json(s["best_config"]);
  BuildResult b = target->build(best);
  ASSERT_EQ(b.status, Status::kOk);
  RunResult run = target->run(b.artifact);
  EXPECT_EQ(s["best_latency_ms"].get<double>(), run.latency.mean_ms);
  double best_in_history = 1e300;
  for (const auto& h : s["history"]) {
    if (h["status"] == "ok")
      best_in_history = std::min(best_in_history, h["latency_ms"].get<double>());
  }
  EXPECT_EQ(s["best_latency_ms"].get<double>(), best_in_history);
  EXPECT_GT(s["virtual_time_s"].get<double>(), 0);

  Result best_cmd = cli("best --db " + file("s.db"));
  ASSERT_EQ(best_cmd.status, 0) << best_cmd.err;
  EXPECT_EQ(json::parse(best_cmd.out), s["best_config"]);
}

// The processes of process group `pgid` that have not ended (zombies have: whether they are
// reaped depends on what this machine runs as process 1).
size_t live_in_group(pid_t pgid) {
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so read after its closing parenthesis.
    std::istringstream fields(line.substr(line.rfind(')') + 1));
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (fields >> state >> ppid >> pgrp && pgrp == pgid && state != 'Z') ++n;
  }
  return n;
}

// Runs `ml2tuner ARGS` in a process group of its own (stderr to `err`), waits until `ready()` (at
// most a minute), sends SIGINT to the whole group, as a terminal's Ctrl-C, and checks that the
// command stopped as asked: exit status 130, every one of `said` on its stderr, no process left.
void expect_stopped_by_ctrl_c(const std::string& args, const std::string& err,
                              const std::function<bool()>& ready,
                              const std::vector<std::string>& said) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setpgid(0, 0);
    if (!freopen(err.c_str(), "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(99);
    const std::string cmd = std::string("exec ") + ML2_CLI_PATH + " " + args;
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(98);
  }
  setpgid(child, child);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!ready() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-child, SIGINT);
  int status = 0;
  waitpid(child, &status, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(live_in_group(child), 0u) << "a process of `" << args << "` is still running";
  ASSERT_TRUE(WIFEXITED(status)) << "ended by a signal: " << WTERMSIG(status);
  const std::string text = read_bytes(err);
  EXPECT_EQ(WEXITSTATUS(status), 130) << text;
  for (const std::string& part : said) EXPECT_NE(text.find(part), std::string::npos) << text;
}

TEST_F(Cli, CtrlCStopsAfterTheMeasurementsInFlightAndTheSameCommandResumes) {
  // SIGINT to the whole process group, as a terminal's Ctrl-C: the workers ignore it, the tuner
  // stops once what is in flight is stored, exits with 130 and says how to resume.
  const std::string db = file("int.db");
  auto stored_trials = [&]() -> size_t {
    try {
      size_t n = 0;
      for (const Record& r : RecordStore::open_read_only(db).records()) n += r.trial.has_value();
      return n;
    } catch (const std::exception&) {
      return 0;  // not created yet
    }
  };
  expect_stopped_by_ctrl_c(
      "tune --task resnet18.C4 --template extended --tuner ml2 --trials 150 --seed 2 --quiet "
      "--db " +
          db,
      file("int.err"), [&] { return stored_trials() > 0; },
      {"ml2tuner: stopped by SIGINT after ",
       "of 150 trials; they are in " + db + ", and the same command resumes"});
  size_t stopped_at = 0;
  for (const Record& r : RecordStore::open_read_only(db).records()) {
    if (!r.trial) continue;
    ++stopped_at;
    EXPECT_EQ(r.status, Status::kOk) << r.message;  // no measurement became a false crash
  }
  ASSERT_GT(stopped_at, 0u);
  ASSERT_LT(stopped_at, 150u);
  const Result r =
      cli("tune --task resnet18.C4 --template extended --tuner ml2 --trials 150 "
          "--seed 2 --quiet --db " +
          db + " --summary " + file("s.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  const json s = read_json(file("s.json"));
  EXPECT_EQ(s["trials"], 150);
  EXPECT_EQ(s["resumed_trials"], stopped_at);
  EXPECT_EQ(s["replayed_rounds"], s["stored_rounds"]);
}

TEST_F(Cli, CtrlCStopsABenchAndTheSameCommandFinishesIt) {
  // SIGINT to the whole process group, as a terminal's Ctrl-C: the runs in flight end (their
  // stores keep what they measured), the bench says how far it got and exits with 130, and no
  // process is left. The same command then finishes it as if it had never stopped.
  const std::string out = file("b"), args = "--suite " + kConv3090 +
                                            " --tuners xgb,ml2 --trials 200 --seeds 2 --jobs 1";
  const fs::path first =
      fs::path(out) / "runs" / "convolution" / "RTX_3090" / "xgb" / "seed1" / "summary.json";
  expect_stopped_by_ctrl_c(
      "bench " + args + " --out " + out, file("b.err"), [&] { return fs::exists(first); },
      {"ml2tuner: stopped by SIGINT with ",
       " of 4 runs finished; they are in " + out + ", and the same command resumes"});
  EXPECT_EQ(read_bytes(file("b.err")).find("FAILED"), std::string::npos)
      << read_bytes(file("b.err"));
  EXPECT_FALSE(fs::exists(fs::path(out) / "results.json"));
  ASSERT_EQ(cli("bench " + args + " --quiet --out " + out).status, 0);
  ASSERT_EQ(cli("bench " + args + " --quiet --out " + file("whole")).status, 0);
  const json stopped = read_json(out + "/results.json"),
             whole = read_json(file("whole") + "/results.json");
  for (const char* tuner : {"xgb", "ml2"}) {
    for (const auto& [seed, m] : whole["tasks"]["convolution/RTX_3090"][tuner]["seeds"].items()) {
      const json& n = stopped["tasks"]["convolution/RTX_3090"][tuner]["seeds"][seed];
      EXPECT_EQ(n["equal_trial"], m["equal_trial"]) << tuner << " seed " << seed;
      EXPECT_EQ(n["best_latency_ms"], m["best_latency_ms"]) << tuner << " seed " << seed;
      EXPECT_EQ(n["builds"], m["builds"]) << tuner << " seed " << seed;
    }
  }
  // Interrupted in its last wave (no run left to start, one still going): stopped all the same,
  // not an error about a summary the interrupted run never wrote.
  const std::string last = file("last");
  expect_stopped_by_ctrl_c("bench --suite " + kConv3090 +
                               " --tuners xgb,ml2 --trials 300 --seeds 1 --jobs 2 --out " + last,
                           file("last.err"),
                           [&] {
                             return fs::exists(fs::path(last) / "runs" / "convolution" /
                                               "RTX_3090" / "xgb" / "seed1" / "summary.json");
                           },
                           {"with 1 of 2 runs finished"});
}

TEST_F(Cli, ResumeFrom100To300MeasuresTwoHundredNewConfigurations) {
  const std::string base =
      "tune --target replay --space " + kConv3090 + " --seed 4 --quiet --db " + file("r.db");
  ASSERT_EQ(cli(base + " --trials 100 --summary " + file("a.json")).status, 0);
  Result r = cli(base + " --trials 300 --summary " + file("b.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  json a = read_json(file("a.json")), b = read_json(file("b.json"));
  EXPECT_EQ(a["trials"], 100);
  EXPECT_EQ(b["trials"], 300);
  EXPECT_EQ(b["new_trials"], 200);
  EXPECT_EQ(b["resumed_trials"], 100);
  std::set<std::string> configs;
  for (const auto& h : b["history"]) configs.insert(h["config"].dump());
  EXPECT_EQ(configs.size(), 300u);
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(a["history"][i], b["history"][i]);
}

TEST_F(Cli, BadInputGetsOneLineAndLeavesTheStoreUntouched) {
  const std::string db = file("keep.db");
  ASSERT_EQ(
      cli("tune --target replay --space " + kConv3090 + " --trials 20 --quiet --db " + db).status,
      0);
  const std::string before = read_bytes(db);
  const std::string truncated = file("truncated.json.gz");
  {
    std::string whole = read_bytes(kConv3090);
    std::ofstream(truncated, std::ios::binary) << whole.substr(0, whole.size() / 2);
  }
  const std::string garbage = file("garbage.json");
  std::ofstream(garbage) << "{\"not\": \"a cache\"}";
  struct Case {
    std::string args;
    std::string expect;  // part of the message
  };
  const std::vector<Case> cases = {
      {"tune --target replay --space /nonexistent/cache.json.gz", "no such file"},
      {"tune --target replay --space " + truncated, "truncated"},
      {"tune --target replay --space " + garbage, "neither a Kernel Tuner cache nor a KTT output"},
      {"tune --target replay --space " + kConv3090 + " --tuner annealing",
       "known tuners: random, grid, xgb, ga, ml2, p, pv, pa"},
      {"tune --target fpga --space " + kConv3090, "known targets: vta, replay"},
      {"tune --target replay --space " + kConv3090 + " --trials -5", "--trials"},
      {"tune --target replay --space " + kConv3090 + " --frobnicate", "frobnicate"},
      {"tune --target replay --space " + kConv3090 + " --trials 40 --tuner grid", "another --db"},
      {"tune --target replay --space " + kConv3090 + " --trials 40 --seed 9", "another --db"},
  };
  for (const Case& c : cases) {
    Result r = cli(c.args + " --db " + db);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << " -> " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << " -> " << r.err;
    EXPECT_EQ(read_bytes(db), before) << c.args;
  }
  // A file that is not a record store is refused and left as it was.
  Result r = cli("tune --target replay --space " + kConv3090 + " --trials 5 --db " + garbage);
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(read_bytes(garbage), "{\"not\": \"a cache\"}");
  EXPECT_NE(cli("best --db " + file("missing.db")).status, 0);
  // The file given is at fault: exit 2, as for every input error.
  std::ofstream(file("bad.jsonl")) << "{\"session\": 1}\n";
  for (const std::string& args :
       {"best --db " + garbage, "export --db " + garbage, "import --db " + garbage + " --in " + db,
        "import --db " + file("new.db") + " --in " + file("bad.jsonl")}) {
    const Result bad = cli(args);
    EXPECT_EQ(bad.status, 2) << args << " -> " << bad.err;
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << args << " -> " << bad.err;
  }
  EXPECT_EQ(read_bytes(garbage), "{\"not\": \"a cache\"}");
  EXPECT_FALSE(fs::exists(file("new.db")));  // the refused import left no empty store
  // A store without a successful run has no best: nothing on standard output, the reason on
  // standard error, exit 1.
  const std::string failed = file("failed.db");
  std::ofstream(file("fail.json"))
      << R"({"device_name": "D", "kernel_name": "k", "tune_params_keys": ["x"],
            "tune_params": {"x": [1, 2]}, "objective": "time",
            "cache": {"1": {"x": 1, "time": "RuntimeFailedConfig"},
                      "2": {"x": 2, "time": "CompilationFailedConfig"}}})";
  ASSERT_EQ(cli("tune --target replay --space " + file("fail.json") + " --trials 2 --quiet --db " +
                failed)
                .status,
            0);
  const Result none = cli("best --db " + failed);
  EXPECT_EQ(none.status, 1);
  EXPECT_EQ(none.out, "");
  EXPECT_NE(none.err.find("no successful run among 2 trials"), std::string::npos) << none.err;
}

TEST_F(Cli, TuneLearnsFromAHistoryButNotFromTheStoreItTunes) {
  Result r = cli("tune --target replay --space " + kConv3090 +
                 " --tuner random --trials 200 --seed 1 --quiet --db " + file("a.db"));
  ASSERT_EQ(r.status, 0) << r.err;
  r = cli("tune --target replay --space " + kConv3090 + " --tuner xgb --trials 10 --quiet --db " +
          file("b.db") + " --history " + file("a.db") + " --history " + dir_.string() +
          "/./a.db --set history_min=100");  // the same store twice: read once
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("learning first from a history of 200 records (1 store)"), std::string::npos)
      << r.err;
  // b.db's session learnt from a.db: resumed without it, it is another session.
  r = cli("tune --target replay --space " + kConv3090 + " --tuner xgb --trials 20 --quiet --db " +
          file("b.db") + " --set history_min=100");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("(they differ in tuning history); pass another --db or the same settings"),
            std::string::npos)
      << r.err;
  r = cli("tune --target replay --space " + kConv3090 + " --tuner xgb --trials 10 --quiet --db " +
          file("a.db") + " --history " + file("a.db") + " --set history_min=100");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("is the --db being tuned"), std::string::npos) << r.err;
  r = cli("tune --target replay --space " + kConv3090 + " --tuner xgb --trials 10 --quiet" +
          " --history " + file("a.db"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("fewer than history_min=500; give more, or --set history_min=200"),
            std::string::npos)
      << r.err;
}

TEST_F(Cli, TuneTakesTunerParametersAsSetOrAsOptions) {
  // --set NAME=VALUE, as bench takes it, is the option --NAME VALUE; a parameter given both ways
  // with two values is refused.
  const std::string base = "tune --target replay --space " + kConv3090 +
                           " --tuner xgb --trials 80 --batch 32 --quiet --summary ";
  auto history = [&](const std::string& args) {
    const std::string summary = file("s.json");
    fs::remove(summary);
    const Result r = cli(base + summary + " " + args);
    EXPECT_EQ(r.status, 0) << args << " -> " << r.err;
    return fs::exists(summary) ? read_json(summary)["history"] : json();
  };
  const json option = history("--plan-size 32");
  ASSERT_EQ(option.size(), 80u);
  EXPECT_EQ(history("--set plan_size=32"), option);
  EXPECT_EQ(history("--set plan-size=32.0 --plan-size 32"), option);  // the same value twice
  EXPECT_NE(history(""), option);                                     // plans of 64
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"--set plan_size=32 --plan-size 16",
       "parameter plan_size is given twice (--plan-size 16 and --set plan_size=32); give it once"},
      {"--set plan_size=32 --set plan-size=16",
       "parameter plan_size is given twice (--set plan_size=32 and --set plan_size=16); give it "
       "once"},
      {"--set plan_size", "--set plan_size: expected NAME=VALUE"},
  };
  for (const auto& [args, message] : refused) {
    const Result r = cli(base + file("s.json") + " " + args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << " -> " << r.err;
  }
}

TEST_F(Cli, CompareTwoBenchesRunByRunAndRefusesWhatIsNotABench) {
  auto bench = [&](const std::string& name, double ml2_seed1) {
    json r = {{"tasks", json::object()}};
    for (int seed : {1, 2}) {
      r["tasks"]["C9"]["xgb"]["seeds"][std::to_string(seed)] = {
          {"samples_to_equal", 1.0}, {"best_latency_ms", 2.0}, {"best_trial", 100}};
      r["tasks"]["C9"]["ml2"]["seeds"][std::to_string(seed)] = {
          {"samples_to_equal", seed == 1 ? ml2_seed1 : 0.3}};
    }
    fs::create_directories(file(name));
    std::ofstream(file(name) + "/results.json") << r.dump();
    return file(name);
  };
  const std::string a = bench("a", 0.5), b = bench("b", 0.25);
  Result r = cli("compare " + a + " " + b + "/results.json --json " + file("c.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("| ml2 | samples_to_equal | 2 | 40.0 % | 27.5 % | -12.5 pt"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(read_json(file("c.json"))["tuners"]["ml2"]["measures"]["samples_to_equal"]["lower"], 1);
  const std::string garbage = file("garbage.json");
  std::ofstream(garbage) << "{\"not\": \"a bench\"}";
  std::ofstream(file("broken.json")) << "{\"tasks\": ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"compare " + a + " " + file("nowhere"), "no bench results there"},
      {"compare " + a + " " + garbage, "not a bench results.json"},
      {"compare " + a + " " + file("broken.json"), "not JSON"},
      {"compare " + a + " " + b + " --tuners pv", "tuner 'pv' has no run"},
      {"compare " + a, "new is required"},
  };
  for (const auto& [args, expect] : cases) {
    Result e = cli(args);
    EXPECT_EQ(e.status, 2) << args;
    EXPECT_NE(e.err.find(expect), std::string::npos) << args << " -> " << e.err;
    EXPECT_EQ(std::count(e.err.begin(), e.err.end(), '\n'), 1) << args << " -> " << e.err;
  }
}

TEST_F(Cli, ExportImportRoundTrip) {
  ASSERT_EQ(
      cli("tune --target replay --space " + kConv3090 + " --trials 50 --quiet --db " + file("e.db"))
          .status,
      0);
  ASSERT_EQ(cli("export --db " + file("e.db") + " --out " + file("e.jsonl")).status, 0);
  Result imp = cli("import --db " + file("i.db") + " --in " + file("e.jsonl"));
  ASSERT_EQ(imp.status, 0) << imp.err;
  ASSERT_EQ(cli("export --db " + file("i.db") + " --out " + file("i.jsonl")).status, 0);
  EXPECT_EQ(read_bytes(file("e.jsonl")), read_bytes(file("i.jsonl")));
  // 51 lines: the session and 50 records.
  std::string text = read_bytes(file("e.jsonl"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 51);
  // Compressed by its name, and read back as such.
  ASSERT_EQ(cli("export --db " + file("e.db") + " --out " + file("e.jsonl.gz")).status, 0);
  EXPECT_EQ(read_bytes(file("e.jsonl.gz")).substr(0, 2), "\x1f\x8b");
  ASSERT_EQ(cli("import --db " + file("z.db") + " --in " + file("e.jsonl.gz")).status, 0);
  ASSERT_EQ(cli("export --db " + file("z.db") + " --out " + file("z.jsonl")).status, 0);
  EXPECT_EQ(read_bytes(file("z.jsonl")), text);
}

TEST_F(Cli, ExportsWhatItMeasuredAsAKernelTunerCacheThatReplays) {
  // ml2 builds more than it runs: every run and every failed build is a cache entry (with the
  // recording's time, or Kernel Tuner's failure marker); candidates built and never run are not.
  const std::string db = file("k.db");
  ASSERT_EQ(cli("tune --target replay --space " + kConv3090 +
                " --tuner ml2 --trials 60 --quiet --summary " + file("s.json") + " --db " + db)
                .status,
            0);
  const Result r = cli("export --db " + db + " --format kernel-tuner --space " + kConv3090 +
                       " --out " + file("k.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  const json cache = read_json(file("k.json"));
  EXPECT_EQ(cache["device_name"], "NVIDIA GeForce RTX 3090");
  EXPECT_EQ(cache["kernel_name"], "convolution_kernel");
  const json store = read_json(file("s.json"));
  size_t runs = 0;
  for (const json& h : store["history"]) {
    std::string key;
    for (const json& k : cache["tune_params_keys"]) {
      key += (key.empty() ? "" : ",") + h["config"][k.get<std::string>()].dump();
    }
    ASSERT_TRUE(cache["cache"].contains(key)) << key;
    const json& entry = cache["cache"][key];
    if (h["status"] == "ok") {
      EXPECT_EQ(entry["time"], h["latency_ms"]) << key;
      ++runs;
    } else {
      EXPECT_TRUE(entry["time"].is_string()) << key;
    }
  }
  // Besides the trials, the candidates whose builds failed (ml2 builds more than it runs).
  EXPECT_GT(cache["cache"].size(), store["history"].size());
  EXPECT_GT(runs, 40u);
  // Replayed, the cache's best is the store's.
  ASSERT_EQ(cli("export --db " + db + " --format kernel-tuner --space " + kConv3090 + " --out " +
                file("k.json.gz"))
                .status,
            0);
  const Result replayed =
      cli("tune --target replay --space " + file("k.json.gz") + " --tuner grid --trials 1000");
  ASSERT_EQ(replayed.status, 0) << replayed.err;
  char best[64];
  std::snprintf(best, sizeof best, "best %g ms", store["best_latency_ms"].get<double>());
  EXPECT_NE(replayed.out.find(best), std::string::npos) << replayed.out;
  // Another GPU's recording has the same space, but the store was not tuned on it.
  const std::string titan =
      std::string(ML2_SHARED_DATA) + "/spaces/kerneltuner/convolution/RTX_Titan.json.gz";
  const Result other = cli("export --db " + db + " --format kernel-tuner --space " + titan +
                           " --out " + file("t.json"));
  EXPECT_EQ(other.status, 2);
  EXPECT_NE(other.err.find("was tuned on convolution_kernel@NVIDIA GeForce RTX 3090 (target "
                           "replay), not on convolution_kernel@NVIDIA TITAN RTX"),
            std::string::npos)
      << other.err;
  EXPECT_FALSE(fs::exists(file("t.json")));
}

TEST_F(Cli, HiddenFeaturesBeyondAFloatDoNotStopTheModels) {
  // XGBoost takes floats and refuses an infinity: a recorded register count of 1e39 (a double, no
  // float) stopped ml2 and its ablations with "Input data contains `inf` or `nan`".
  json j = {{"device_name", "D"},
            {"kernel_name", "k"},
            {"tune_params_keys", {"x", "y"}},
            {"tune_params", {{"x", {1, 2, 3, 4, 5, 6}}, {"y", {1, 2, 3, 4, 5}}}},
            {"objective", "time"},
            {"cache", json::object()}};
  for (int x = 1; x <= 6; ++x) {
    for (int y = 1; y <= 5; ++y) {
      j["cache"][std::to_string(x) + "," + std::to_string(y)] = {
          {"x", x},
          {"y", y},
          {"time", 1.0 + x * 0.1 + y * 0.01},
          {"num_regs", x == 3 ? 1e39 : 32.0 * y}};
    }
  }
  std::ofstream(file("huge.json")) << j.dump();
  for (const char* tuner : {"ml2", "pa"}) {
    const Result r = cli("tune --target replay --space " + file("huge.json") + " --tuner " + tuner +
                         " --trials 30 --quiet");
    EXPECT_EQ(r.status, 0) << tuner << ": " << r.err;
    EXPECT_NE(r.out.find("best 1.11 ms"), std::string::npos) << tuner << ": " << r.out;
  }
}

TEST_F(Cli, KttOutputAndUnterminatedCachesTune) {
  const std::string ktt =
      std::string(ML2_SHARED_DATA) + "/spaces/ktt/convolution/KTConvolutionOutput_3090.json.gz";
  Result r = cli("tune --target replay --space " + ktt + " --trials 100 --quiet --summary " +
                 file("k.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  json s = read_json(file("k.json"));
  EXPECT_EQ(s["trials"], 100);
  EXPECT_EQ(s["build_failures"], 0);  // KTT's failures are all at the run stage
  EXPECT_GT(s["run_failures"].get<int>(), 0);

  const std::string expdist = std::string(ML2_SHARED_DATA) +
                              "/spaces/kerneltuner/expdist/"
                              "expdist_NVIDIA_RTX_A4000_size-32768x32768_cache.json.gz";
  r = cli("tune --target replay --space " + expdist +
          " --trials 60 --tuner grid --quiet --summary " + file("x.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_json(file("x.json"))["trials"], 60);
}

TEST_F(Cli, HelpListsTheOptions) {
  Result r = cli("tune --help");
  EXPECT_EQ(r.status, 0);
  for (const char* opt :
       {"--trials", "--batch", "--seed", "--jobs", "--db", "--summary", "--tuner"}) {
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  }
}

}  // namespace
}  // namespace ml2
