// Reader's map
//   plan_tasks()   the suite as tasks: ResNet-18 layers on the VTA target, or recorded spaces
//   run_all()      every missing (task, tuner, seed) run, `jobs` at a time, each in a forked
//                  process with its own record store and summary file (a finished run is never
//                  repeated; an interrupted one resumes from its store)
//   aggregate()    the metrics of bench.h per seed, their means per task and overall
//   markdown()     results.md
#include "ml2tuner/bench.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench/plots.h"
#include "bench/stats.h"
#include "ml2tuner/record_store.h"
#include "ml2tuner/strategy.h"
#include "ml2tuner/target.h"
#include "ml2tuner/tuner.h"
#include "util/file_lock.h"

namespace ml2 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Writes `text` to `path` whole, or throws naming the file.
void write_file(const fs::path& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.close();
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

struct Task {
  std::string key;     // short name, used in paths and tables
  std::string target;  // "vta" or "replay"
  TargetOptions options;
};

// The files a glob (or a plain path) names, sorted; none if it matches nothing.
std::vector<std::string> glob_files(const std::string& pattern) {
  glob_t g{};
  const int rc = glob(pattern.c_str(), 0, nullptr, &g);
  std::vector<std::string> files;
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) files.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  return files;
}

// `path` made absolute, with no symbolic link, "." or ".." (the part that exists resolved).
std::string canonical_path(const std::string& path, const char* option) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(path, ec);
  if (ec) {
    throw std::invalid_argument(std::string(option) + " " + path + ": " + ec.message() +
                                "; give a path that can be read");
  }
  return p.string();
}

// The record stores --history names, each read once (by canonical path), in the order of their
// paths. A glob that matches nothing, a file that is not a store with a session and outcomes, or a
// store inside --out (this bench's own runs, still being written) is refused.
std::vector<HistoryStore> history_stores(const BenchOptions& o) {
  std::set<std::string> paths;
  for (const std::string& pattern : o.history) {
    const std::vector<std::string> files = glob_files(pattern);
    if (files.empty()) {
      throw std::invalid_argument("--history '" + pattern +
                                  "' matches no file; give record stores (run.db) of earlier "
                                  "tuning runs, or a glob of them");
    }
    for (const std::string& f : files) paths.insert(canonical_path(f, "--history"));
  }
  const fs::path out = canonical_path(o.out, "--out");
  std::vector<HistoryStore> stores;
  for (const std::string& path : paths) {
    const fs::path where(path);
    const auto [end, rest] = std::mismatch(out.begin(), out.end(), where.begin(), where.end());
    if (!out.empty() && end == out.end()) {
      throw std::invalid_argument("--history " + path + " lies inside --out " + o.out +
                                  ": a bench does not learn from its own runs; give the stores "
                                  "of another bench or session");
    }
    stores.push_back(read_history_store(path));
  }
  return stores;
}

std::vector<Task> plan_tasks(const BenchOptions& o) {
  std::vector<Task> tasks;
  if (o.suite == "resnet18") {
    std::vector<std::string> names = o.tasks;
    if (names.empty()) {
      for (int i = 2; i <= 11; ++i) names.push_back("C" + std::to_string(i));
    }
    for (std::string n : names) {
      if (n.rfind("resnet18.", 0) == 0) n = n.substr(9);
      Task t;
      t.key = n;
      t.target = "vta";
      t.options.task = "resnet18." + n;
      t.options.tmpl = o.tmpl;
      t.options.hw = o.hw;
      tasks.push_back(t);
    }
    return tasks;
  }
  const std::vector<std::string> files = glob_files(o.suite);
  if (files.empty()) {
    throw std::invalid_argument("--suite '" + o.suite +
                                "' is neither resnet18 nor a recorded space file or glob that "
                                "matches any file");
  }
  for (const std::string& f : files) {
    Task t;
    const fs::path p(f);
    std::string stem = p.filename().string();
    for (const char* ext : {".gz", ".json"}) {
      if (stem.size() > std::strlen(ext) && stem.substr(stem.size() - std::strlen(ext)) == ext) {
        stem = stem.substr(0, stem.size() - std::strlen(ext));
      }
    }
    // Named by its folder and file (convolution/RTX_3090); the folder as it is on disk, also
    // for a file given without one.
    t.key = fs::absolute(p).lexically_normal().parent_path().filename().string() + "/" + stem;
    t.target = "replay";
    t.options.space = f;
    for (const Task& other : tasks) {
      if (other.key == t.key) {
        throw std::invalid_argument("--suite '" + o.suite + "': " + other.options.space + " and " +
                                    f + " would both be task " + t.key +
                                    " (a task is named by its folder and file); give them "
                                    "another name or run them in two benches");
      }
    }
    tasks.push_back(t);
  }
  return tasks;
}

struct Run {
  const Task* task;
  std::string tuner;
  int seed;
  fs::path dir;
  // What the run is made with: task, target, space digest, tuner, seed, budget and the
  // parameters the tuner reads. Written to settings.json when the run starts.
  json settings;
  // The tuning history its settings name, as read when the bench was planned (empty: none).
  const std::vector<HistoryRecord>* history;
  fs::path summary() const { return dir / "summary.json"; }
};

// The parameters of --set that `tuner` reads.
std::map<std::string, std::string> params_for(const std::string& tuner, const BenchOptions& o) {
  std::map<std::string, std::string> out;
  for (const StrategyParam& p : strategy_params()) {
    auto it = o.params.find(p.name);
    if (it != o.params.end() &&
        std::find(p.tuners.begin(), p.tuners.end(), tuner) != p.tuners.end()) {
      out[p.name] = it->second;
    }
  }
  return out;
}

// Writes `text` to `path` through a temporary file, so that a kill leaves the old file or the new.
void replace_file(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  write_file(tmp, text);
  fs::rename(tmp, path);
}

// A run folder made with other settings is refused before anything runs: its summary, or its store
// once resumed, would be counted as this bench's. Folders without settings.json (new ones, and
// those of versions that did not write it) are taken as they are.
void check_settings(const Run& r, const BenchOptions& o) {
  const fs::path f = r.dir / "settings.json";
  if (!fs::exists(f)) return;
  const fs::path where = fs::relative(r.dir, o.out);
  json held;
  try {
    held = json::parse(std::ifstream(f));
  } catch (const json::exception&) {
    throw std::invalid_argument("--out " + o.out + ": " + (where / "settings.json").string() +
                                " is not valid JSON; remove that run's folder to run it again");
  }
  // Parameters compare in their canonical form (a folder made with --set alpha=2.0 is alpha=2's).
  if (held.contains("params") && held["params"].is_object()) {
    for (auto& [name, value] : held["params"].items()) {
      if (value.is_string()) value = canonical_param_value(name, value.get<std::string>());
    }
  }
  if (held == r.settings) return;
  std::string differences;
  std::set<std::string> keys;
  for (const auto& [key, value] : r.settings.items()) keys.insert(key);
  for (const auto& [key, value] : held.items()) keys.insert(key);
  for (const std::string& key : keys) {
    const json was = held.contains(key) ? held[key] : json(nullptr);
    const json now = r.settings.contains(key) ? r.settings[key] : json(nullptr);
    if (was == now) continue;
    differences += (differences.empty() ? "" : ", ") + key + " " + was.dump() + " against " +
                   now.dump() + " now";
  }
  throw std::invalid_argument("--out " + o.out + ": " + where.string() +
                              " was made with other settings (" + differences +
                              "); give another --out, or the settings it was made with");
}

// A bench holds its --out for as long as it runs: a second bench into the same folder would run the
// same runs at once (their stores are locked, so those runs would fail one by one) and write
// results.json from half-finished runs. The runs it forks keep the lock while they live.
class OutLock {
 public:
  explicit OutLock(const BenchOptions& o) {
    if (try_lock_byte((fs::path(o.out) / "bench.lock").string(), 0, /*create=*/true, &fd_) ==
        LockState::kBusy) {
      throw std::invalid_argument("--out " + o.out +
                                  " is in use by another bench (another ml2tuner process); wait "
                                  "for it to end, or give another --out");
    }
  }
  ~OutLock() {
    if (fd_ >= 0) close(fd_);
  }
  OutLock(const OutLock&) = delete;
  OutLock& operator=(const OutLock&) = delete;

 private:
  int fd_ = -1;
};

// One run, in the calling process: tune, then write the summary atomically.
void run_one(const Run& r) {
  replace_file(r.dir / "settings.json", r.settings.dump() + "\n");
  std::unique_ptr<Target> target = make_target(r.task->target, r.task->options);
  RecordStore store((r.dir / "run.db").string());
  TuneOptions t;
  t.tuner = r.tuner;
  t.seed = static_cast<uint64_t>(r.seed);
  t.trials = r.settings.at("trials").get<int64_t>();
  t.jobs = 1;
  t.params = r.settings.at("params").get<std::map<std::string, std::string>>();
  t.history = *r.history;
  TuneSummary s = Tuner(*target, store, t).run();
  replace_file(r.summary(), s.to_json().dump() + "\n");
}

void run_all(const std::vector<Run>& runs, const BenchOptions& o) {
  std::vector<const Run*> pending;
  for (const Run& r : runs) {
    if (!fs::exists(r.summary())) pending.push_back(&r);
  }
  if (!o.quiet) {
    std::fprintf(stderr, "bench: %zu runs, %zu to do, %d at a time\n", runs.size(), pending.size(),
                 o.jobs);
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::map<pid_t, const Run*> active;
  size_t next = 0, done = 0;
  auto stop_asked = [&] { return o.stop_requested && o.stop_requested(); };
  // Ends the runs in flight (their stores keep what they measured) and says how far the bench got.
  auto stop = [&] {
    for (const auto& [child, run] : active) kill(child, SIGTERM);
    for (const auto& [child, run] : active) {
      while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    size_t finished = 0;
    for (const Run& r : runs) finished += fs::exists(r.summary()) ? 1 : 0;
    throw BenchStopped(finished, runs.size());
  };
  std::vector<std::string> failures;
  while (next < pending.size() || !active.empty()) {
    if (stop_asked()) stop();
    while (next < pending.size() && static_cast<int>(active.size()) < o.jobs) {
      const Run* r = pending[next++];
      fs::create_directories(r->dir);
      std::fflush(nullptr);
      // The stop signals wait while the run is forked: one that came before the run has set its
      // own dispositions would reach the bench's handler in the run, and be lost.
      sigset_t stops, previous;
      sigemptyset(&stops);
      sigaddset(&stops, SIGINT);
      sigaddset(&stops, SIGTERM);
      sigprocmask(SIG_BLOCK, &stops, &previous);
      const pid_t bench = getpid();
      const pid_t pid = fork();
      if (pid == 0) {
        // The bench's stop handler is not the run's: a signal ends a run (its store keeps what it
        // measured), and so does the end of the bench, however it ends (a second signal, a kill),
        // so that no run goes on alone, holding the --out lock.
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != bench) _exit(1);
        sigprocmask(SIG_SETMASK, &previous, nullptr);
        const int log = open((r->dir / "log.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (log >= 0) {
          dup2(log, STDOUT_FILENO);
          dup2(log, STDERR_FILENO);
        }
        int code = 0;
        try {
          run_one(*r);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "error: %s\n", e.what());
          code = 1;
        }
        std::fflush(nullptr);
        _exit(code);
      }
      sigprocmask(SIG_SETMASK, &previous, nullptr);
      if (pid < 0) throw std::runtime_error("bench: fork failed");
      active[pid] = r;
    }
    int status = 0;
    // Polled, not blocking: a stop asked for between the question at the top of the loop and a
    // blocking wait would go unseen until a run ends (a VTA run takes tens of seconds).
    pid_t pid = 0;
    while ((pid = waitpid(-1, &status, o.stop_requested ? WNOHANG : 0)) == 0 && !stop_asked()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid == 0) continue;  // asked to stop: at the top of the loop
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = active.find(pid);
    if (it == active.end()) continue;
    const Run* r = it->second;
    active.erase(it);
    if (stop_asked()) stop();  // it ended with the signal that stops the bench: no failure
    ++done;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && fs::exists(r->summary());
    if (!ok) failures.push_back(r->task->key + " " + r->tuner + " seed " + std::to_string(r->seed));
    if (!o.quiet) {
      const double el =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "[%zu/%zu] %s %s seed %d %s (%.0f s)\n", done, pending.size(),
                   r->task->key.c_str(), r->tuner.c_str(), r->seed, ok ? "done" : "FAILED", el);
    }
  }
  if (!failures.empty()) {
    throw std::runtime_error(
        "bench: " + std::to_string(failures.size()) +
        " run(s) failed (see log.txt in their folders), first: " + failures.front());
  }
}

double nan() { return std::nan(""); }

fs::path run_dir(const BenchOptions& o, const Task& t, const std::string& tuner, int seed) {
  return fs::path(o.out) / "runs" / t.key / tuner / ("seed" + std::to_string(seed));
}

// The (virtual) cost of the builds that were never trials: what ML²Tuner pays for learning.
double extra_build_seconds(const fs::path& dir) {
  double total = 0;
  for (const Record& r : RecordStore::open_read_only((dir / "run.db").string()).records()) {
    if (!r.trial) total += r.virtual_build_s > 0 ? r.virtual_build_s : r.build_time_s;
  }
  return total;
}

json number(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

double metric(const json& m, const char* key) {
  return m.contains(key) && m[key].is_number() ? m[key].get<double>() : nan();
}

// The first trial whose running best reaches `target` (1-based), or 0.
int64_t first_reaching(const json& history, double target) {
  double best = INFINITY;
  for (const json& h : history) {
    if (h["latency_ms"].is_number()) best = std::min(best, h["latency_ms"].get<double>());
    if (best <= target * (1 + 1e-12)) return h["trial"].get<int64_t>();
  }
  return 0;
}

// The virtual clock when trial `trial` (1-based) was final; NaN for a summary without it.
double clock_at(const json& summary, int64_t trial) {
  auto it = summary.find("trial_virtual_s");
  if (it == summary.end() || !it->is_array() || trial < 1 ||
      static_cast<size_t>(trial) > it->size()) {
    return nan();
  }
  const json& v = (*it)[static_cast<size_t>(trial - 1)];
  return v.is_number() ? v.get<double>() : nan();
}

// The space's optimum, where it is cheap to know (recorded spaces: every answer is a lookup).
double known_optimum(const Task& t) {
  if (t.target != "replay") return nan();
  std::unique_ptr<Target> target = make_target(t.target, t.options);
  double best = INFINITY;
  for (uint64_t i = 0; i < target->space().size(); ++i) {
    BuildResult b = target->build(target->space().at(i));
    if (b.status != Status::kOk) continue;
    RunResult r = target->run(b.artifact);
    if (r.status == Status::kOk) best = std::min(best, r.latency.mean_ms);
  }
  return best;
}

json mean_of(const std::vector<json>& rows) {
  json out = json::object();
  std::map<std::string, std::pair<double, int>> acc;
  for (const json& r : rows) {
    for (const auto& [k, v] : r.items()) {
      if (!v.is_number()) continue;
      auto& a = acc[k];
      a.first += v.get<double>();
      a.second += 1;
    }
  }
  for (const auto& [k, a] : acc) out[k] = a.first / a.second;
  return out;
}

// Beside the mean of `key` over `rows`: its median (key_median) and the standard error of the
// mean (key_se; the spread of the runs over the square root of their number).
void add_spread(json& mean, const std::vector<json>& rows, const std::string& key) {
  std::vector<double> v;
  for (const json& r : rows) {
    if (r.contains(key) && r[key].is_number()) v.push_back(r[key].get<double>());
  }
  if (v.empty()) return;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  mean[key + "_median"] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  if (n >= 2) mean[key + "_se"] = bench_stats::standard_error(v);
}

using Summaries = std::map<std::tuple<std::string, std::string, int>, json>;

Summaries read_summaries(const std::vector<Run>& runs) {
  Summaries summary;
  for (const Run& r : runs) {
    std::ifstream in(r.summary());
    summary[{r.task->key, r.tuner, r.seed}] = json::parse(in);
  }
  return summary;
}

json aggregate(const std::vector<Task>& tasks, const std::vector<Run>& runs,
               const Summaries& summary, const BenchOptions& o) {
  json result;
  result["config"] = {{"suite", o.suite},   {"template", o.tmpl}, {"hw", o.hw},
                      {"tuners", o.tuners}, {"trials", o.trials}, {"seeds", o.seeds},
                      {"params", o.params}};
  // Runs resumed from a store their tuner could not replay (made by another version): they went
  // on from the stored rounds, not as an uninterrupted run would.
  json not_replayed = json::array();
  for (const Run& r : runs) {
    const json& s = summary.at({r.task->key, r.tuner, r.seed});
    const int64_t stored = s.value("stored_rounds", int64_t{0});
    const int64_t replayed = s.value("replayed_rounds", int64_t{0});
    if (replayed < stored) {
      not_replayed.push_back({{"task", r.task->key},
                              {"tuner", r.tuner},
                              {"seed", r.seed},
                              {"stored_rounds", stored},
                              {"replayed_rounds", replayed}});
    }
  }
  result["runs_not_replayed"] = not_replayed;
  json per_task = json::object();
  std::map<std::string, std::vector<json>> overall_rows;
  std::map<std::string, std::pair<double, double>> pooled_invalid;  // tuner -> (sum, xgb sum)
  for (const Task& t : tasks) {
    const double optimum = known_optimum(t);
    json task_json = json::object();
    for (const std::string& tuner : o.tuners) {
      json seeds = json::object();
      std::vector<json> rows;
      for (int seed = 1; seed <= o.seeds; ++seed) {
        const json& s = summary.at({t.key, tuner, seed});
        const json& x = summary.at({t.key, "xgb", seed});
        json m;
        const int64_t trials = s["trials"].get<int64_t>();
        m["trials"] = trials;
        m["best_latency_ms"] = s["best_latency_ms"];
        m["best_trial"] = s["best_trial"];
        if (x["best_latency_ms"].is_number()) {
          const double target = x["best_latency_ms"].get<double>();
          const int64_t xgb_first = first_reaching(x["history"], target);
          const int64_t mine = first_reaching(s["history"], target);
          m["equalled"] = mine > 0;
          m["equal_trial"] = mine > 0 ? json(mine) : json(nullptr);
          m["samples_to_equal"] =
              static_cast<double>(mine > 0 ? mine : trials) / static_cast<double>(xgb_first);
          // The same within 1 % of xgb's best, against xgb's own trials to get within 1 %: what
          // matters where measurements are noisier than the last percent.
          const int64_t xgb_near = first_reaching(x["history"], target * 1.01);
          const int64_t mine_near = first_reaching(s["history"], target * 1.01);
          m["samples_to_1pct"] = static_cast<double>(mine_near > 0 ? mine_near : trials) /
                                 static_cast<double>(xgb_near);
          // Virtual time instead of trials: builds that never became trials count here.
          const double mine_s = mine > 0 ? clock_at(s, mine) : metric(s, "virtual_time_s");
          m["time_to_equal"] = number(mine_s / clock_at(x, xgb_first));
        }
        const double invalid = s["invalid_trials"].get<double>();
        const double xgb_invalid = x["invalid_trials"].get<double>();
        m["invalid_trials"] = invalid;
        m["run_failures"] = s["run_failures"];
        m["build_failures_in_trials"] = invalid - s["run_failures"].get<double>();
        m["invalid_trials_reduction"] =
            xgb_invalid > 0 ? number(1 - invalid / xgb_invalid) : json(nullptr);
        pooled_invalid[tuner].first += invalid;
        pooled_invalid[tuner].second += xgb_invalid;
        m["builds"] = s["builds"];
        m["extra_builds"] = s["builds"].get<double>() - static_cast<double>(trials);
        m["extra_build_s"] = extra_build_seconds(run_dir(o, t, tuner, seed));
        m["virtual_time_s"] = s["virtual_time_s"];
        m["strategy_s_per_round"] = s["strategy_s_per_round"];
        const json& sm = s["strategy_metrics"];
        for (const char* k : {"rmse_p", "rmse_a", "v_precision", "v_recall", "v_kind_accuracy",
                              "v_kind_majority"}) {
          m[k] = number(metric(sm, k));
        }
        if (std::isfinite(optimum) && s["best_latency_ms"].is_number()) {
          m["optimum_ms"] = optimum;
          m["gap_to_optimum"] = s["best_latency_ms"].get<double>() / optimum - 1;
        }
        seeds[std::to_string(seed)] = m;
        rows.push_back(m);
        overall_rows[tuner].push_back(m);
      }
      json mean = mean_of(rows);
      int64_t not_equalled = 0;
      for (const json& r : rows) not_equalled += r.value("equalled", true) ? 0 : 1;
      mean["not_equalled"] = not_equalled;
      add_spread(mean, rows, "samples_to_equal");
      task_json[tuner] = {{"seeds", seeds}, {"mean", mean}};
    }
    per_task[t.key] = task_json;
  }
  result["tasks"] = per_task;
  json overall = json::object();
  for (const std::string& tuner : o.tuners) {
    json m = mean_of(overall_rows[tuner]);
    int64_t not_equalled = 0;
    for (const json& r : overall_rows[tuner]) not_equalled += r.value("equalled", true) ? 0 : 1;
    m["not_equalled"] = not_equalled;
    m["runs"] = overall_rows[tuner].size();
    add_spread(m, overall_rows[tuner], "samples_to_equal");
    const auto& [sum, xgb_sum] = pooled_invalid[tuner];
    // Pooled over every task and seed: robust where xgb had few failures on some task.
    m["invalid_trials_reduction"] = xgb_sum > 0 ? number(1 - sum / xgb_sum) : json(nullptr);
    overall[tuner] = m;
  }
  result["overall"] = overall;
  return result;
}

// The file name of each task's plot: its key with '/' made '_' (convolution/RTX_3090 ->
// convolution_RTX_3090.svg), and "-2", "-3"... where that name is taken.
std::map<std::string, std::string> plot_names(const std::vector<Task>& tasks) {
  std::map<std::string, std::string> names;
  std::set<std::string> taken = {"overall.svg"};
  for (const Task& t : tasks) {
    std::string base = t.key;
    std::replace(base.begin(), base.end(), '/', '_');
    std::string name = base + ".svg";
    for (int k = 2; taken.count(name); ++k) name = base + "-" + std::to_string(k) + ".svg";
    taken.insert(name);
    names[t.key] = name;
  }
  return names;
}

// A file name as a Markdown link destination: bytes other than letters, digits and ._- as %XX.
std::string link_to(const std::string& file) {
  std::string out;
  for (unsigned char c : file) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// plots/overall.svg: the share of runs that have reached xgb's final best (same task and seed) by
// each trial, per tuner: samples to equal as a picture.
bench_plots::Chart overall_chart(const std::vector<Task>& tasks, const Summaries& summary,
                                 const json& result, const BenchOptions& o) {
  int64_t longest = 1;
  for (const auto& [key, s] : summary) longest = std::max(longest, s["trials"].get<int64_t>());
  bench_plots::Chart chart{"Runs that have reached xgb's final best (same task and seed)",
                           "trial",
                           "share of runs",
                           0,
                           1,
                           true,
                           {}};
  for (const std::string& tuner : o.tuners) {
    std::vector<int64_t> first;
    for (const Task& t : tasks) {
      for (const auto& [seed, m] : result["tasks"][t.key][tuner]["seeds"].items()) {
        if (!m.contains("equalled")) continue;  // xgb measured nothing: nothing to reach
        first.push_back(m["equal_trial"].is_number() ? m["equal_trial"].get<int64_t>() : 0);
      }
    }
    chart.series.push_back({tuner, bench_plots::share_reached(first, longest), {}, {}});
  }
  return chart;
}

// plots/<task>.svg: per tuner, the median over the seeds of the best latency so far relative to
// the space's optimum (or, where it is not known, the best any run reached), with the band between
// the quartiles. None where no run of the task measured anything.
std::optional<bench_plots::Chart> task_chart(const Task& t, const Summaries& summary,
                                             const json& result, const BenchOptions& o) {
  namespace bp = bench_plots;
  double reference = INFINITY;
  bool optimum = false;
  for (const std::string& tuner : o.tuners) {
    for (const auto& [seed, m] : result["tasks"][t.key][tuner]["seeds"].items()) {
      if (m.contains("optimum_ms")) {
        reference = m["optimum_ms"].get<double>();
        optimum = true;
      } else if (!optimum && m["best_latency_ms"].is_number()) {
        reference = std::min(reference, m["best_latency_ms"].get<double>());
      }
    }
  }
  if (!std::isfinite(reference)) return std::nullopt;
  bp::Chart chart{
      t.key + ": best so far, median over " + std::to_string(o.seeds) + " seeds (band: quartiles)",
      "trial",
      optimum ? "best latency / optimum" : "best latency / best of all runs",
      1,
      1,
      false,
      {}};
  for (const std::string& tuner : o.tuners) {
    std::vector<std::vector<double>> curves;
    int64_t budget = 1;
    for (int seed = 1; seed <= o.seeds; ++seed) {
      const json& s = summary.at({t.key, tuner, seed});
      budget = s["trials"].get<int64_t>();
      curves.push_back(bp::running_best(s["history"], budget));
      for (double& v : curves.back()) v /= reference;
    }
    bp::Series series{tuner, bp::quantile_by_trial(curves, 0.5),
                      bp::quantile_by_trial(curves, 0.25), bp::quantile_by_trial(curves, 0.75)};
    // The y axis ends where the medians are a little way into the runs, so that the end game,
    // where the tuners differ, is not flattened by the first random trials.
    const auto early =
        static_cast<size_t>(std::min<int64_t>(std::max<int64_t>(budget / 100, 8), budget));
    if (early <= series.y.size() && std::isfinite(series.y[early - 1])) {
      chart.y_max = std::max(chart.y_max, series.y[early - 1]);
    }
    chart.series.push_back(std::move(series));
  }
  chart.y_max = chart.y_max > 1 ? std::min(chart.y_max, 4.0) : 2.0;
  return chart;
}

// Writes plots/ (emptied first, so that no picture of an earlier bench stays behind) and returns
// the task keys drawn with their file names.
std::map<std::string, std::string> write_plots(const std::vector<Task>& tasks,
                                               const Summaries& summary, const json& result,
                                               const BenchOptions& o) {
  const fs::path dir = fs::path(o.out) / "plots";
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_file(dir / "overall.svg", bench_plots::svg(overall_chart(tasks, summary, result, o)));
  const std::map<std::string, std::string> names = plot_names(tasks);
  std::map<std::string, std::string> drawn;
  for (const Task& t : tasks) {
    if (auto chart = task_chart(t, summary, result, o)) {
      write_file(dir / names.at(t.key), bench_plots::svg(*chart));
      drawn[t.key] = names.at(t.key);
    }
  }
  return drawn;
}

std::string cell(const json& m, const char* key, const char* fmt) {
  if (!m.contains(key) || !m[key].is_number()) return "–";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, m[key].get<double>());
  return buf;
}

std::string markdown(const json& r, const BenchOptions& o, const std::vector<Task>& tasks,
                     const std::map<std::string, std::string>& plots) {
  std::ostringstream md;
  md << "# ml2tuner bench\n\nsuite `" << o.suite << "`";
  if (o.suite == "resnet18") md << ", template `" << o.tmpl << "`, hardware `" << o.hw << "`";
  if (!o.params.empty()) {
    md << "; parameters";
    for (const auto& [k, v] : o.params) md << " `" << k << "=" << v << "`";
  }
  md << "; " << o.trials << " trials per run; seeds 1.." << o.seeds
     << "; means over seeds (and tasks).\n\n";
  if (const json& nr = r["runs_not_replayed"]; !nr.empty()) {
    md << "**" << nr.size()
       << " run(s) resumed from stores their tuner could not replay** (made by another "
          "version?); they went on from the stored rounds, not as uninterrupted runs:";
    for (const json& x : nr) {
      md << " " << x["task"].get<std::string>() << " " << x["tuner"].get<std::string>() << " seed "
         << x["seed"] << " (" << x["replayed_rounds"] << " of " << x["stored_rounds"]
         << " rounds replayed);";
    }
    md << "\n\n";
  }
  md << "## Overall\n\n"
     << "| tuner | samples to equal xgb (± s.e.) | median | not equalled | samples to within 1 % | "
        "virtual time to "
        "equal | invalid trials | reduction vs xgb | run failures | builds | RMSE P | RMSE A | "
        "ModelV precision / recall | ModelV failure kind right (always the commonest) | "
        "overhead per round |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const std::string& t : o.tuners) {
    const json& m = r["overall"][t];
    md << "| " << t << " | " << cell(m, "samples_to_equal", "%.1f %%")
       << (m.contains("samples_to_equal_se") ? cell(m, "samples_to_equal_se", " ± %.1f") : "")
       << " | " << cell(m, "samples_to_equal_median", "%.1f %%") << " | "
       << cell(m, "not_equalled", "%.0f") << " | " << cell(m, "samples_to_1pct", "%.1f %%") << " | "
       << cell(m, "time_to_equal", "%.1f %%") << " | " << cell(m, "invalid_trials", "%.1f") << " | "
       << cell(m, "invalid_trials_reduction", "%.3f") << " | " << cell(m, "run_failures", "%.1f")
       << " | " << cell(m, "builds", "%.0f") << " | " << cell(m, "rmse_p", "%.3f") << " | "
       << cell(m, "rmse_a", "%.3f") << " | " << cell(m, "v_precision", "%.2f") << " / "
       << cell(m, "v_recall", "%.2f") << " | " << cell(m, "v_kind_accuracy", "%.2f") << " ("
       << cell(m, "v_kind_majority", "%.2f") << ") | " << cell(m, "strategy_s_per_round", "%.2f s")
       << " |\n";
  }
  md << "\nsamples to equal: a tuner's trials to reach xgb's final best / xgb's own (as a "
        "percentage below; 100 % = as many as xgb). samples to within 1 %: a tuner's trials to "
        "come within 1 % of xgb's final best / xgb's own trials to come within 1 % of it. "
        "virtual time to equal: the same in virtual time (builds included). ± s.e.: the "
        "standard error of the mean over the runs; median: of the runs' samples to equal. "
        "`ml2tuner compare` pairs two benches' runs.\n\n"
        "![Runs that have reached xgb's final best, by trial](plots/overall.svg)\n\n"
        "## Per task\n\n"
     << "| task | tuner | best latency | gap to optimum | samples to equal | invalid (build / run) "
        "| builds |\n|---|---|---|---|---|---|---|\n";
  for (const Task& task_of : tasks) {  // in the suite's order (C2 .. C11), not the JSON's
    const std::string& task = task_of.key;
    const json& tuners = r["tasks"][task];
    for (const std::string& t : o.tuners) {
      const json& m = tuners[t]["mean"];
      md << "| " << task << " | " << t << " | " << cell(m, "best_latency_ms", "%.4f ms") << " | "
         << cell(m, "gap_to_optimum", "%.4f") << " | " << cell(m, "samples_to_equal", "%.1f %%")
         << " | " << cell(m, "build_failures_in_trials", "%.1f") << " / "
         << cell(m, "run_failures", "%.1f") << " | " << cell(m, "builds", "%.0f") << " |\n";
    }
  }
  md << "\n## Convergence per task\n\nThe best latency so far, median over the seeds, with the "
        "band between the quartiles.\n\n";
  for (const Task& t : tasks) {
    if (auto it = plots.find(t.key); it != plots.end()) {
      std::string alt = t.key;  // brackets would end the alternative text
      std::replace(alt.begin(), alt.end(), '[', '(');
      std::replace(alt.begin(), alt.end(), ']', ')');
      md << "![" << alt << "](plots/" << link_to(it->second) << ")\n";
    }
  }
  return md.str();
}

}  // namespace

json run_bench(const BenchOptions& given) {
  BenchOptions o = given;  // parameters as values, in results.json as in each run's settings
  for (auto& [name, value] : o.params) value = canonical_param_value(name, value);
  if (o.out.empty()) throw std::invalid_argument("bench needs --out DIR");
  if (o.trials < 1 || o.seeds < 1 || o.jobs < 1) {
    throw std::invalid_argument("bench needs --trials, --seeds and --jobs >= 1");
  }
  const auto known = strategy_names();
  for (const std::string& t : o.tuners) {
    if (std::find(known.begin(), known.end(), t) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw std::invalid_argument("unknown tuner '" + t + "'; known tuners: " + list);
    }
  }
  if (std::find(o.tuners.begin(), o.tuners.end(), "xgb") == o.tuners.end()) {
    throw std::invalid_argument("bench measures against xgb: include it in --tuners");
  }
  for (const auto& [name, value] : o.params) {
    bool read = false;
    for (const std::string& t : o.tuners) read = read || params_for(t, o).count(name);
    if (!read) {
      throw std::invalid_argument("--set " + name +
                                  ": no tuner among --tuners reads a parameter '" + name +
                                  "' (see ml2tuner tune --help)");
    }
  }
  const std::vector<Task> tasks = plan_tasks(o);
  const std::vector<HistoryStore> history = history_stores(o);
  std::vector<Run> runs;
  std::vector<std::vector<HistoryRecord>> histories(tasks.size());  // per task; runs point here
  for (const Task& t : tasks) {  // checks every task, and the parameters' values, up front
    std::unique_ptr<Target> target = make_target(t.target, t.options);
    const int64_t budget =
        std::min<int64_t>(o.trials, static_cast<int64_t>(target->space().size()));
    // Leave one task out: the stores of this space that tuned another task (by their canonical
    // paths, so that the same stores named otherwise are the same settings).
    std::vector<std::string> history_paths;
    std::vector<HistoryRecord>& records = histories[static_cast<size_t>(&t - tasks.data())];
    for (const HistoryStore& h : history) {
      if (h.session.space_digest == target->space().digest() && h.session.task != target->task()) {
        history_paths.push_back(h.path);
        records.insert(records.end(), h.records.begin(), h.records.end());
      }
    }
    if (!history.empty() && history_paths.empty()) {
      throw std::invalid_argument("--history: no store tuned another task of " + t.key +
                                  "'s space; give stores of the same space on other devices");
    }
    for (const std::string& tuner : o.tuners) {
      const std::map<std::string, std::string> params = params_for(tuner, o);
      check_strategy(tuner, target->space(), {1, params, records});
      for (int seed = 1; seed <= o.seeds; ++seed) {
        json settings = {{"task", t.key},
                         {"target", target->name()},
                         {"space_digest", target->space().digest()},
                         {"tuner", tuner},
                         {"seed", seed},
                         {"trials", budget},
                         {"params", params}};
        if (t.target == "vta") settings["hw"] = t.options.hw;  // timing, not only the space
        if (!history_paths.empty()) {
          // The stores and what they held: a store that grew since is other settings.
          settings["history"] = history_paths;
          settings["history_records"] = records.size();
        }
        runs.push_back({&t, tuner, seed, run_dir(o, t, tuner, seed), settings, &records});
      }
    }
  }
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec || access(o.out.c_str(), W_OK) != 0) {
    throw std::invalid_argument("--out " + o.out + ": cannot create or write to it (" +
                                (ec ? ec.message() : std::strerror(errno)) +
                                "); give a directory that can be written");
  }
  const OutLock lock(o);
  for (const Run& r : runs) check_settings(r, o);
  run_all(runs, o);
  const Summaries summaries = read_summaries(runs);
  json result = aggregate(tasks, runs, summaries, o);
  const std::map<std::string, std::string> plots = write_plots(tasks, summaries, result, o);
  // Percentages read more easily in the tables.
  auto percent = [](json& m) {
    for (const char* k : {"samples_to_equal", "samples_to_1pct", "time_to_equal",
                          "samples_to_equal_median", "samples_to_equal_se"}) {
      if (m.contains(k) && m[k].is_number()) m[k] = 100.0 * m[k].get<double>();
    }
  };
  json for_md = result;
  for (auto& [k, m] : for_md["overall"].items()) percent(m);
  for (auto& [task, tuners] : for_md["tasks"].items()) {
    for (auto& [t, v] : tuners.items()) percent(v["mean"]);
  }
  replace_file(fs::path(o.out) / "results.json", result.dump(2) + "\n");
  replace_file(fs::path(o.out) / "results.md", markdown(for_md, o, tasks, plots));
  return result;
}

}  // namespace ml2
