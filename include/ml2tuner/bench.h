// The evaluation harness: tasks x tuners x seeds, each run in its own record store (resumable),
// runs in parallel worker processes, and the paper's metrics over them.
//
// Metrics (per task, per tuner, per seed, and overall):
//   samples_to_equal   the trial at which a tuner first reaches the best latency `xgb` reached
//                      with the whole budget (same task and seed), divided by the trial at which
//                      xgb itself first reached it; a tuner that never reaches it counts as
//                      budget / xgb's trial (and is counted in `not_equalled`). Per seed also
//                      equal_trial (that trial, or null); beside the means, samples_to_equal_median
//                      and samples_to_equal_se (standard error of the mean over the runs)
//   invalid_trials     trials that failed (build_failures_in_trials + run_failures), and
//                      invalid_trials_reduction = 1 - invalid / xgb's invalid with the same budget
//   builds             every build, trials or not; extra_builds: builds that were never trials,
//                      and extra_build_s their virtual cost
//   rmse_p, rmse_a     error of log(latency) predicted by ModelP and ModelA before the runs
//   v_precision, v_recall   of ModelV's pre-build gate (invalid is the positive class)
//   v_kind_accuracy    how often ModelV's predicted failure kind was right, on the built
//                      candidates that failed; v_kind_majority: always the most common kind
//   best_latency_ms, gap_to_optimum (where the space's optimum is known), virtual_time_s,
//   strategy_s_per_round (tuner overhead: models and search per round)
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ml2 {

struct BenchOptions {
  std::string suite = "resnet18";  // "resnet18", or a recorded space file / glob
  std::vector<std::string> tasks;  // resnet18: layer names (C2 or resnet18.C2); empty: all ten
  std::string tmpl = "extended";
  std::string hw = "default";
  std::vector<std::string> tuners = {"xgb", "ml2"};
  int64_t trials = 1000;
  int seeds = 3;
  int jobs = 2;  // runs in parallel
  std::string out;
  bool quiet = false;
  // Tuner parameters by name (strategy_params()), each passed to the tuners that read it. Each run
  // folder records its settings (settings.json), and one made with others is refused: use a fresh
  // --out for each setting.
  std::map<std::string, std::string> params;
  // Record stores (files or globs) of earlier tuning runs: each run learns first from those of
  // its space that tuned another task (leave one task out; tune --history, AutoTVM's transfer
  // learning). Every tuner must learn from a history (xgb, p, pv, pa, ml2), each task must find
  // one, and none may lie inside `out`. Each run folder's settings list the stores it read.
  std::vector<std::string> history;
  // Asked while runs are in flight (after each run ends, and when a signal interrupts the wait);
  // once it returns true, no run is started, the runs in flight are ended (SIGTERM: their stores
  // keep what they measured, and the same bench resumes them exactly) and run_bench throws
  // BenchStopped. Empty: never.
  std::function<bool()> stop_requested;
};

// Thrown by run_bench when options.stop_requested asked it to stop.
struct BenchStopped : std::runtime_error {
  BenchStopped(size_t finished, size_t total)
      : std::runtime_error("bench stopped with " + std::to_string(finished) + " of " +
                           std::to_string(total) + " runs finished"),
        finished(finished),
        total(total) {}
  size_t finished, total;  // runs with a summary, of all the bench's runs
};

// Runs what is missing under options.out, then writes results.json, results.md and plots/ (SVG:
// overall.svg, the share of runs that have reached xgb's final best by each trial, and one
// convergence chart per task) there and returns results.json's content. Throws
// std::invalid_argument for bad options (unknown tuner, empty glob, no xgb among the tuners...).
nlohmann::json run_bench(const BenchOptions& options);

// Two benches' results.json compared run by run: for each tuner (default: every one both hold
// besides xgb), the runs of the same task and seed in both are paired, and for samples_to_equal,
// samples_to_1pct, time_to_equal, invalid_trials, run_failures and builds (lower is better for
// each) it reports under tuners.<tuner>.measures.<measure>: pairs, base and new means, their
// difference (new - base) with its standard error, and how many pairs went lower, higher or
// stayed the same; samples_to_equal also per task, and xgb_differs counts the pairs whose xgb run
// differs between the benches (then the ratios have different denominators). Throws
// std::invalid_argument for a malformed results.json or a tuner with no pair.
nlohmann::json compare_bench(const nlohmann::json& base, const nlohmann::json& changed,
                             const std::vector<std::string>& tuners = {});
// The comparison as Markdown tables.
std::string compare_markdown(const nlohmann::json& comparison);

}  // namespace ml2
