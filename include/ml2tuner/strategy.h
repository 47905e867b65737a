// Search strategies: what to measure next.
//
// Call order, per round (the tuner drives it; see tuner.h):
//   1. ask(n)                   a proposal of configurations to build; empty: the strategy is done;
//   2. the tuner builds them (in parallel);
//   3. choose(built, n)         only for a proposal with committed == false: which successfully
//                               built candidates to run (at most n);
//   4. the tuner runs the trials;
//   5. tell(results)            every outcome of the round: trials, and probes that were only
//                               built.
// A resumed session first replays the stored rounds with the same calls, the stored outcomes
// standing in for the measurements, for as long as the strategy proposes and chooses what the
// store holds; a strategy must therefore depend only on its seed and on what it is told. Stored
// rounds after the first one it departs from are told without ask(): recall_round(), then tell().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ml2tuner/measure.h"
#include "ml2tuner/space.h"

namespace ml2 {

struct Proposal {
  std::vector<uint64_t> configs;  // space indices, no duplicates
  // true: every proposed configuration is a trial (a failed build consumes its trial, as in
  // AutoTVM). false: they are probes, built to learn from; choose() then picks the trials.
  bool committed = true;
};

// One outcome the strategy learns from.
struct Outcome {
  uint64_t index = 0;
  Stage stage = Stage::kBuild;  // the last stage reached
  Status status = Status::kOk;
  std::optional<double> latency_ms;        // a successful run
  const HiddenFeatures* hidden = nullptr;  // valid during the tell() call
  // The digest of a successful build's artifact (empty if none): candidates with the same digest
  // compiled to the same program, so running one measures the others.
  std::string artifact_digest;
  bool trial = false;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;

  // Called after each round with all its outcomes.
  virtual void tell(std::span<const Outcome> outcomes) = 0;
  // On resume, called before a stored round that is told without being asked for, with every
  // outcome stored for that round (its trials and the candidates only built): a strategy can
  // restore what it had predicted for them, so that its metrics cover the whole run.
  virtual void recall_round(std::span<const Outcome> outcomes) { (void)outcomes; }
  // Called at the start of each round with the trials left in the budget (n >= 1).
  virtual Proposal ask(size_t n) = 0;
  // Called after building a non-committed proposal with the candidates that built successfully;
  // returns positions into `built` (at most n) to run as trials. Default: the first n.
  virtual std::vector<size_t> choose(std::span<const Outcome> built, size_t n);

  // What the strategy measured about itself (model errors, validity precision...), for reports.
  virtual std::map<std::string, double> metrics() const { return {}; }
};

// One outcome of the same space measured in another session: on another device, with another
// hardware configuration, or an earlier run. A tuning history (AutoTVM's transfer learning,
// ModelBasedTuner.load_history): the model-based tuners (xgb, p, pv, pa, ml2) learn a prior from
// it before their first round.
struct HistoryRecord {
  uint64_t index = 0;                // in this space
  Status status = Status::kOk;       // kOk: a successful run; else how it failed
  std::optional<double> latency_ms;  // a successful run's
};

struct StrategyOptions {
  uint64_t seed = 0;
  // Tuner parameters by name ("plan_size" -> "64"); each tuner accepts only the ones it declares
  // (see strategy_params()).
  std::map<std::string, std::string> params;
  // Empty: tune from scratch. Otherwise at least history_min records, for a model-based tuner
  // (make_strategy refuses others).
  std::vector<HistoryRecord> history;
};

// A declared tuner parameter, for help texts and CLI options.
struct StrategyParam {
  std::string name, default_value, description;
  std::vector<std::string> tuners;
};
const std::vector<StrategyParam>& strategy_params();
// A parameter's value in the one form that compares equal when the tuner would read the same
// setting: a number in its shortest form ("7.0" and "7" give "7", "1e-1" gives "0.1"), a named
// choice (or a value that does not parse, or an undeclared name) as given.
std::string canonical_param_value(const std::string& name, const std::string& value);

// Built-in strategies by name: random, grid, xgb (AutoTVM's XGBTuner), ga (AutoTVM's GATuner),
// ml2 (ML²Tuner) and its ablations p, pv, pa. Throws std::invalid_argument for an unknown name
// (listing the known ones), a bad parameter, a history given to a tuner that learns nothing from
// one, or a history smaller than history_min or holding an index outside the space.
std::unique_ptr<Strategy> make_strategy(const std::string& name, const Space& space,
                                        const StrategyOptions& options);
// What make_strategy checks, without learning from the history: throws as make_strategy would.
void check_strategy(const std::string& name, const Space& space, const StrategyOptions& options);
std::vector<std::string> strategy_names();

}  // namespace ml2
