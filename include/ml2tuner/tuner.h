// The tuning loop: ask the strategy, build in parallel, run in isolation, record, tell.
//
// Trials are the measurement budget: configurations a strategy commits to measuring (build, then
// run). A failed build of a trial consumes it, as in AutoTVM; probes that are only built count as
// builds. Every outcome is recorded in the store before the next measurement starts; a store that
// already holds the session is resumed: the strategy replays the stored rounds (see strategy.h),
// a round a kill interrupted is finished, and no measured configuration is measured again.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ml2tuner/record_store.h"
#include "ml2tuner/strategy.h"
#include "ml2tuner/target.h"
#include "ml2tuner/worker_pool.h"

namespace ml2 {

struct TuneOptions {
  std::string tuner = "random";
  std::map<std::string, std::string> params;  // tuner parameters (see strategy_params())
  uint64_t seed = 0;
  int64_t trials = 100;  // total budget of the session, including resumed trials
  int64_t batch = 64;    // trials asked per round
  int jobs = 2;          // build workers
  double build_timeout_s = 60;
  double run_timeout_s = 10;
  int64_t worker_memory_mb = 4096;
  // A tuning history (see StrategyOptions::history), for instance from load_history().
  std::vector<HistoryRecord> history;
};

// One record store read as a tuning history.
struct HistoryStore {
  std::string path;  // canonical: absolute, without links, "." or ".."
  SessionInfo session;
  // Its labelled outcomes (successful and failed runs, failed builds), at least one.
  std::vector<HistoryRecord> records;
};

// Reads the store at `path`. Throws std::invalid_argument naming the path for a file that is
// missing, not a record store, without a session, or without a labelled outcome.
HistoryStore read_history_store(const std::string& path);

// A tuning history read from record stores.
struct History {
  std::vector<HistoryRecord> records;  // the stores' outcomes, store after store
  std::vector<std::string> stores;     // the stores read, by canonical path
};

// The stores at `paths` as a history for a space with `space_digest`: each store once (the same
// file named twice, or otherwise, is read once), in the order first given. Throws as
// read_history_store, and for a store of another space.
History load_history(const std::vector<std::string>& paths, const std::string& space_digest);

// Throws std::invalid_argument with a one-line message for an option out of bounds.
void validate(const TuneOptions& options);

// The session a tuning run of `target` with `options` records into its store.
SessionInfo session_of(const Target& target, const TuneOptions& options);

// Progress after each completed measurement.
struct Progress {
  int64_t trials = 0;
  int64_t budget = 0;
  int64_t valid = 0;
  int64_t invalid = 0;
  std::optional<double> best_ms;
  double elapsed_s = 0;
  double virtual_s = 0;
};

struct TuneSummary {
  std::string task, target, tuner;
  uint64_t seed = 0;
  uint64_t space_size = 0;
  int64_t trials = 0;
  int64_t builds = 0;
  int64_t invalid_trials = 0;
  int64_t build_failures = 0;                   // every failed build, trial or probe
  int64_t run_failures = 0;                     // trials that failed while running
  std::map<std::string, int64_t> trial_status;  // trials per status name
  std::optional<double> best_latency_ms;
  nlohmann::json best_config;  // null if nothing ran successfully
  std::optional<int64_t> best_trial;
  double virtual_time_s = 0;
  double elapsed_s = 0;
  double strategy_s = 0;  // time this call spent in the strategy (models and search)
  int64_t rounds = 0;     // rounds this call ran
  std::map<std::string, double> strategy_metrics;  // Strategy::metrics() at the end
  int64_t resumed_trials = 0;                      // trials found in the store at start
  // Rounds found in the store at start, and how many of them the strategy replayed: asked again,
  // it proposed and chose what the store holds, so that a fully replayed session goes on exactly
  // as an uninterrupted one would. A strategy that departs from the store (made with another
  // budget or batch, or by another version) is told the later stored rounds as they were measured.
  int64_t stored_rounds = 0;
  int64_t replayed_rounds = 0;
  int64_t new_trials = 0;  // trials measured by this call
  nlohmann::json history;  // [{trial, config, stage, status, latency_ms}]
  // Per history entry, the virtual clock (s) when that trial's outcome was final: each round's
  // builds in parallel on the build jobs, then its runs one after another.
  std::vector<double> trial_virtual_s;

  nlohmann::json to_json() const;
};

// Summarises a session from its records (also used by `ml2tuner best`).
TuneSummary summarize(const std::vector<Record>& records, const SessionInfo& session,
                      uint64_t space_size, int build_jobs);

// Virtual time of a batch of builds on `jobs` parallel lanes (longest-first list scheduling).
double parallel_makespan(std::vector<double> durations, int jobs);

class Tuner {
 public:
  Tuner(const Target& target, RecordStore& store, TuneOptions options);
  void on_progress(std::function<void(const Progress&)> callback);
  // Runs until the budget is spent or the strategy is done. Throws std::invalid_argument for bad
  // options and OtherSessionError (a std::runtime_error) if the store holds another session.
  TuneSummary run();

 private:
  const Target& target_;
  RecordStore& store_;
  TuneOptions options_;
  std::function<void(const Progress&)> progress_;
};

}  // namespace ml2
