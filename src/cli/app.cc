// The `ml2tuner` command line: thin over the library.
//
//   tune    tune a task on a target, recording every outcome in a store (resumable)
//   best    print the best configuration a store holds
//   export  write a store as JSON lines or a Kernel Tuner cache
//   import  read JSON lines into a store
//   space   describe a target's search space
//   bench   the evaluation harness         compare  two benches, run by run
//   tasks, compile, sweep   the VTA target's workloads, one compilation, a whole space
//                           (vta_commands.cc)
//
// Every user mistake ends in one line on stderr, "ml2tuner: error: ...", and exit status 2
// (1 for a failure while tuning); nothing is written to an existing store before every input has
// been checked.
#include "cli/app.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/common.h"
#include "ml2tuner/bench.h"
#include "ml2tuner/kernel_tuner_cache.h"
#include "ml2tuner/record_store.h"
#include "ml2tuner/strategy.h"
#include "ml2tuner/target.h"
#include "ml2tuner/tuner.h"
#include "util/gzfile.h"

namespace ml2::cli {
namespace {

using nlohmann::json;

struct TuneArgs {
  TargetArgs target;
  std::string db;
  std::string summary;
  bool quiet = false;
  TuneOptions options;
  std::vector<std::string> history;  // record stores of the same space
};

// A bench's results.json, given as the bench's --out folder or as the file itself.
json read_results(const std::string& where) {
  std::filesystem::path p(where);
  if (std::filesystem::is_directory(p)) p /= "results.json";
  std::ifstream in(p);
  if (!in) {
    throw UsageError(where + ": no bench results there; give a bench --out folder or its " +
                     "results.json");
  }
  json r;
  try {
    r = json::parse(in);
  } catch (const json::exception& e) {
    throw UsageError(p.string() + ": not JSON (" + one_line(e.what()) + ")");
  }
  if (!r.is_object() || !r.contains("tasks") || !r["tasks"].is_object()) {
    throw UsageError(p.string() + ": not a bench results.json (no \"tasks\" object)");
  }
  return r;
}

int run_tune(const TuneArgs& given) {
  TuneArgs a = given;
  // Check every input before the store is opened.
  std::unique_ptr<Target> target = make_target(a.target.target, a.target.options);
  validate(a.options);
  for (const std::string& h : a.history) {
    std::error_code ec;
    if (!a.db.empty() && std::filesystem::equivalent(h, a.db, ec)) {
      throw UsageError("--history " + h +
                       " is the --db being tuned: its records are resumed, not a history; give "
                       "the stores of other sessions");
    }
  }
  const History history = load_history(a.history, target->space().digest());
  a.options.history = history.records;
  check_strategy(a.options.tuner, target->space(),
                 StrategyOptions{a.options.seed, a.options.params, a.options.history});

  std::optional<TempStorePath> temp;
  if (a.db.empty()) temp.emplace();
  RecordStore store(a.db.empty() ? temp->path() : a.db);
  store.bind(session_of(*target, a.options));  // refuses another session before any output

  std::cerr << "ml2tuner: tuning " << target->task() << " on " << target->name() << " ("
            << target->space().size() << " configurations) with " << a.options.tuner << ", "
            << a.options.trials << " trials, seed " << a.options.seed;
  if (!a.history.empty()) {
    std::cerr << ", learning first from a history of " << a.options.history.size() << " records ("
              << history.stores.size() << (history.stores.size() == 1 ? " store" : " stores")
              << ")";
  }
  std::cerr << "\n";
  Tuner tuner(*target, store, a.options);
  ProgressPrinter printer(a.quiet);
  const std::optional<TuneSummary> tuned = run_stoppable(tuner, printer, a.options.trials, a.db);
  if (!tuned) return stop_exit_code();
  const TuneSummary& s = *tuned;

  std::ostringstream failures;
  for (const auto& [status, n] : s.trial_status) {
    if (status != "ok") failures << (failures.tellp() > 0 ? ", " : "") << status << " " << n;
  }
  std::cout << "trials " << s.trials << " (" << s.new_trials << " new, " << s.resumed_trials
            << " resumed), builds " << s.builds << ", invalid " << s.invalid_trials << " ("
            << (s.trials
                    ? 100.0 * static_cast<double>(s.invalid_trials) / static_cast<double>(s.trials)
                    : 0.0)
            << " %: " << (failures.tellp() > 0 ? failures.str() : "none") << ")\n";
  std::cout << "build failures " << s.build_failures << ", run failures " << s.run_failures << "\n";
  if (s.stored_rounds > 0) {
    std::cout << "resumed from " << s.stored_rounds << " stored rounds: ";
    if (s.replayed_rounds == s.stored_rounds) {
      std::cout << "all replayed, the session went on as an uninterrupted one\n";
    } else {
      std::cout << s.replayed_rounds << " replayed, the rest told as measured (the store was made "
                << "with another budget, batch, tuner parameters or version)\n";
    }
  }
  std::cout << "best " << format_ms(s.best_latency_ms);
  if (s.best_trial) std::cout << " at trial " << *s.best_trial << ": " << s.best_config.dump();
  std::cout << "\n";
  std::cout << "elapsed " << s.elapsed_s << " s, virtual device time " << s.virtual_time_s
            << " s\n";
  if (!a.summary.empty()) write_json_file(a.summary, s.to_json());
  return 0;
}

RecordStore open_existing(const std::string& path) {
  if (!std::filesystem::exists(path)) throw UsageError(path + ": no such record store");
  try {
    return RecordStore::open_read_only(path);
  } catch (const std::runtime_error& e) {
    throw UsageError(e.what());  // not a store, or a damaged one: the file given is at fault
  }
}

int run_best(const std::string& db, bool as_json) {
  RecordStore store = open_existing(db);
  auto session = store.session();
  if (!session) throw UsageError(db + " holds no tuning session yet");
  TuneSummary s = summarize(store.records(), *session, 0, 1);
  if (as_json) {
    json j{{"task", s.task},
           {"target", s.target},
           {"best_latency_ms", s.best_latency_ms ? json(*s.best_latency_ms) : json(nullptr)},
           {"best_trial", s.best_trial ? json(*s.best_trial) : json(nullptr)},
           {"best_config", s.best_config},
           {"trials", s.trials}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  if (!s.best_latency_ms) {
    // Standard output holds a configuration or nothing, so that a script can take it as is.
    std::cerr << "ml2tuner: no successful run among " << s.trials << " trials of " << s.task
              << "\n";
    return 1;
  }
  std::cout << s.best_config.dump() << "\n";
  std::cerr << "best " << format_ms(s.best_latency_ms) << " at trial " << *s.best_trial << " of "
            << s.trials << " (" << s.task << " on " << s.target << ", tuner " << s.tuner
            << ", seed " << s.seed << ")\n";
  return 0;
}

int run_space(const TargetArgs& a) {
  std::unique_ptr<Target> target = make_target(a.target, a.options);
  const Space& space = target->space();
  std::cout << target->task() << " on " << target->name() << ": " << space.size()
            << " configurations, " << space.num_knobs() << " knobs\n";
  for (const Knob& k : space.knobs()) {
    std::cout << "  " << k.name() << ": " << k.describe_domain() << "\n";
  }
  return 0;
}

// export: the store as JSON lines, or its measurements as a Kernel Tuner cache. A cache names its
// configurations by their knob values, so it is written with the space of the target the store was
// tuned on: the target options must give that space (its digest is checked).
int run_export(const std::string& db, const std::string& out, const std::string& format,
               TargetArgs target_args, bool task_given, bool template_given) {
  RecordStore store = open_existing(db);
  std::ostringstream text;
  if (format == "jsonl") {
    store.export_jsonl(text);
  } else {
    const std::optional<SessionInfo> session = store.session();
    if (!session) throw UsageError(db + " holds no tuning session yet");
    if (target_args.target.empty()) target_args.target = session->target;
    if (target_args.target == "vta" && session->target == "vta") {
      // The store's task names its workload and template (resnet18.C9@vta-<hw>/extended); the
      // hardware is named by its parameters, so a file or the extended preset needs --hw.
      const size_t at = session->task.find('@'), slash = session->task.rfind('/');
      if (!task_given && at != std::string::npos) {
        target_args.options.task = session->task.substr(0, at);
      }
      if (!template_given && slash != std::string::npos && slash > at) {
        target_args.options.tmpl = session->task.substr(slash + 1);
      }
    }
    std::unique_ptr<Target> target = make_target(target_args.target, target_args.options);
    if (target->name() != session->target || target->task() != session->task ||
        target->space().digest() != session->space_digest) {
      throw UsageError(db + " was tuned on " + session->task + " (target " + session->target +
                       "), not on " + target->task() + " (target " + target->name() +
                       "); give the --target, --task, --template, --hw or --space it was tuned "
                       "with");
    }
    // Kernel Tuner's kernel and device names: the task's two halves (kernel@device).
    const std::string task = target->task();
    const size_t at = task.find('@');
    write_kernel_tuner_cache(text, target->space(), store.records(), task.substr(0, at),
                             at == std::string::npos ? target->name() : task.substr(at + 1));
  }
  if (out.empty()) {
    std::cout << text.str();
  } else {
    write_text(out, text.str());
  }
  return 0;
}

// Adds --set NAME=VALUE options (a dash in NAME reads as an underscore) to `params`, which may
// already hold parameters given otherwise, `how[name]` saying how ("--plan-size 32"). A name
// given twice with two values is refused.
void add_sets(const std::vector<std::string>& sets, std::map<std::string, std::string>& params,
              std::map<std::string, std::string> how = {}) {
  for (const std::string& set : sets) {
    const size_t eq = set.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError("--set " + set + ": expected NAME=VALUE, e.g. --set label=throughput");
    }
    std::string name = set.substr(0, eq);
    std::replace(name.begin(), name.end(), '-', '_');
    const std::string value = set.substr(eq + 1);
    const std::string given = "--set " + name + "=" + value;
    if (auto it = params.find(name);
        it != params.end() &&
        canonical_param_value(name, it->second) != canonical_param_value(name, value)) {
      throw UsageError("parameter " + name + " is given twice (" + how[name] + " and " + given +
                       "); give it once");
    }
    params[name] = value;
    how[name] = given;
  }
}

// A user's mistake: one line, exit status 2.
int input_error(const std::exception& err) {
  std::cerr << "ml2tuner: error: " << one_line(err.what()) << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ml2tuner: an autotuner for deep-learning accelerator code (ML²Tuner)", "ml2tuner"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ml2tuner 0.1.0");

  TuneArgs tune;
  CLI::App* t = app.add_subcommand("tune", "tune a task on a target");
  tune.target.add_to(t);
  t->add_option("--tuner", tune.options.tuner, "strategy: " + join(strategy_names()))
      ->capture_default_str();
  t->add_option("--trials", tune.options.trials, "measurement budget of the session (>= 0)")
      ->capture_default_str();
  t->add_option("--batch", tune.options.batch, "trials asked per round (>= 1)")
      ->capture_default_str();
  t->add_option("--seed", tune.options.seed, "random seed")->capture_default_str();
  t->add_option("--jobs", tune.options.jobs, "build worker processes (1..256)")
      ->capture_default_str();
  t->add_option("--db", tune.db, "record store (SQLite); an existing one is resumed");
  t->add_option("--history", tune.history,
                "record store of another session of the same space (another device, another "
                "run), repeatable: model-based tuners learn a prior from its runs first, as "
                "AutoTVM's transfer learning");
  t->add_option("--summary", tune.summary, "write the session summary as JSON");
  t->add_option("--build-timeout", tune.options.build_timeout_s, "seconds per build")
      ->capture_default_str();
  t->add_option("--run-timeout", tune.options.run_timeout_s, "seconds per run")
      ->capture_default_str();
  t->add_option("--worker-memory-mb", tune.options.worker_memory_mb,
                "memory a worker may allocate, MiB (0: unlimited)")
      ->capture_default_str();
  // Tuner parameters, generated from their one declaration (strategy_params()).
  std::map<std::string, std::string> param_text;
  std::vector<std::pair<std::string, CLI::Option*>> param_options;
  for (const StrategyParam& p : strategy_params()) {
    std::string flag = p.name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    CLI::Option* o = t->add_option(
        "--" + flag, param_text[p.name],
        p.description + " [default " + p.default_value + "; tuners: " + join(p.tuners) + "]");
    param_options.emplace_back(p.name, o);
  }
  std::vector<std::string> tune_sets;
  t->add_option(
      "--set", tune_sets,
      "a tuner parameter NAME=VALUE (repeatable), as in bench: --set alpha=2 is --alpha 2");
  t->add_flag("--quiet", tune.quiet, "no progress line");

  std::string best_db;
  bool best_json = false;
  CLI::App* b = app.add_subcommand("best", "print the best configuration of a record store");
  b->add_option("--db", best_db, "record store")->required();
  b->add_flag("--json", best_json, "print a JSON object with latency and trial");

  std::string export_db, export_out, export_format = "jsonl";
  TargetArgs export_target;
  CLI::App* e = app.add_subcommand(
      "export", "write a record store as JSON lines, or its measurements as a Kernel Tuner cache");
  e->add_option("--db", export_db, "record store")->required();
  e->add_option("--out", export_out,
                "output file (default: standard output; .gz: gzip-compressed)");
  e->add_option("--format", export_format,
                "jsonl (every record, for import) or kernel-tuner (what was measured, as a Kernel "
                "Tuner cache, which the replay target and Kernel Tuner read; needs the target "
                "options the store was tuned with)")
      ->check(CLI::IsMember({"jsonl", "kernel-tuner"}))
      ->capture_default_str();
  export_target.target.clear();  // default: the store's
  export_target.add_to(e);

  std::string import_db, import_in;
  CLI::App* im = app.add_subcommand("import", "read JSON lines into a record store");
  im->add_option("--db", import_db, "record store (created if missing)")->required();
  im->add_option("--in", import_in, "JSON lines file written by export")->required();

  TargetArgs space_args;
  CLI::App* sp = app.add_subcommand("space", "describe a target's search space");
  space_args.add_to(sp);

  BenchOptions bench;
  CLI::App* bn = app.add_subcommand(
      "bench", "tasks x tuners x seeds with the paper's metrics (results.json, results.md)");
  bn->add_option("--suite", bench.suite, "resnet18 (VTA) or a recorded space file or glob")
      ->capture_default_str();
  bn->add_option("--tasks", bench.tasks, "resnet18 layers to run (C2,C9,...); default: all")
      ->delimiter(',');
  bn->add_option("--template", bench.tmpl, "VTA template")->capture_default_str();
  bn->add_option("--hw", bench.hw, "VTA hardware preset or file")->capture_default_str();
  bn->add_option("--tuners", bench.tuners, "tuners, comma-separated; must include xgb")
      ->delimiter(',');
  bn->add_option("--trials", bench.trials, "trials per run (capped at the space size)")
      ->capture_default_str();
  bn->add_option("--seeds", bench.seeds, "seeds 1..K per task and tuner")->capture_default_str();
  bn->add_option("--jobs", bench.jobs, "runs in parallel")->capture_default_str();
  bn->add_option("--out", bench.out, "output folder (resumable)")->required();
  bn->add_flag("--quiet", bench.quiet, "no progress lines");
  bn->add_option("--history", bench.history,
                 "record store file or glob, repeatable: each run learns first from those of its "
                 "space that tuned another task (leave one task out), as tune --history");
  std::vector<std::string> bench_sets;
  bn->add_option("--set", bench_sets,
                 "a tuner parameter NAME=VALUE (repeatable; see tune --help), passed to the tuners "
                 "that read it; use a fresh --out for each setting");

  std::string compare_base, compare_new, compare_out;
  std::vector<std::string> compare_tuners;
  CLI::App* cmp = app.add_subcommand(
      "compare", "two benches run by run: paired differences of samples to equal and the rest");
  cmp->add_option("base", compare_base, "the first bench: its --out folder or its results.json")
      ->required();
  cmp->add_option("new", compare_new, "the second bench, the same way")->required();
  cmp->add_option("--tuners", compare_tuners,
                  "tuners to compare, comma-separated (default: all both have but xgb)")
      ->delimiter(',');
  cmp->add_option("--json", compare_out, "also write the comparison as JSON to this file");

  std::vector<std::function<int()>> vta_runners;
  add_vta_commands(app, vta_runners);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::cout << "ml2tuner 0.1.0\n";
    return 0;
  } catch (const CLI::ParseError& err) {
    std::cerr << "ml2tuner: error: " << one_line(err.what()) << " (see ml2tuner --help)\n";
    return 2;
  }

  try {
    if (t->parsed()) {
      std::map<std::string, std::string> how;
      for (const auto& [name, option] : param_options) {
        if (option->count() == 0) continue;
        tune.options.params[name] = param_text[name];
        how[name] = option->get_name() + " " + param_text[name];
      }
      add_sets(tune_sets, tune.options.params, how);
      return run_tune(tune);
    }
    if (b->parsed()) return run_best(best_db, best_json);
    if (e->parsed()) {
      return run_export(export_db, export_out, export_format, export_target, e->count("--task") > 0,
                        e->count("--template") > 0);
    }
    if (im->parsed()) {
      if (!std::filesystem::exists(import_in)) throw UsageError(import_in + ": no such file");
      std::istringstream in(read_maybe_gzipped(import_in));  // as export wrote it, .gz or not
      size_t n = 0;
      const bool created = !std::filesystem::exists(import_db);
      try {
        RecordStore store(import_db);
        n = store.import_jsonl(in);
      } catch (const std::runtime_error& e) {
        if (created) remove_store_files(import_db);  // a refused import leaves no store behind
        throw UsageError(e.what());  // a line of the file, not a store, or another session's
      }
      std::cerr << "imported " << n << " records into " << import_db << "\n";
      return 0;
    }
    if (sp->parsed()) return run_space(space_args);
    if (bn->parsed()) {
      add_sets(bench_sets, bench.params);
      StopSignals signals;
      bench.stop_requested = [] { return stop_requested(); };
      try {
        run_bench(bench);
      } catch (const BenchStopped& stopped) {
        std::cerr << "ml2tuner: stopped by " << stop_signal_name() << " with " << stopped.finished
                  << " of " << stopped.total << " runs finished; they are in " << bench.out
                  << ", and the same command resumes the others\n";
        return stop_exit_code();
      }
      std::cout << (std::filesystem::path(bench.out) / "results.md").string() << "\n";
      return 0;
    }
    if (cmp->parsed()) {
      const json c =
          compare_bench(read_results(compare_base), read_results(compare_new), compare_tuners);
      if (!compare_out.empty()) write_json_file(compare_out, c);
      std::cout << compare_markdown(c);
      return 0;
    }
    for (const auto& run : vta_runners) {
      if (int rc = run(); rc >= 0) return rc;
    }
  } catch (const UsageError& err) {
    return input_error(err);
  } catch (const std::filesystem::filesystem_error& err) {
    // A path that cannot be used as given (too long, a loop of links, no permission...).
    std::string paths = err.path1().string();
    if (!err.path2().empty()) paths += " -> " + err.path2().string();
    std::cerr << "ml2tuner: error: " << one_line(paths.empty() ? std::string(err.what()) : paths)
              << ": " << one_line(err.code().message()) << "\n";
    return 2;
  } catch (const std::invalid_argument& err) {
    return input_error(err);
  } catch (const OtherSessionError& err) {  // a --db of another session: the input is at fault
    return input_error(err);
  } catch (const std::exception& err) {
    std::cerr << "ml2tuner: error: " << one_line(err.what()) << "\n";
    return 1;
  }
  return 2;
}

}  // namespace ml2::cli
