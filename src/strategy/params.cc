#include "strategy/params.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "ml2tuner/strategy.h"

namespace ml2 {
namespace {

const std::vector<std::string> kModelTuners = {"ml2", "p", "pv", "pa"};
// The tuners with ModelV, which alone read the validity gate's parameters.
const std::vector<std::string> kValidityTuners = {"ml2", "pv"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

const std::vector<ParamSpec>& param_specs() {
  static const std::vector<ParamSpec> specs = {
      {"plan_size",
       "64",
       1,
       4096,
       true,
       {},
       "xgb: trials per plan; the model is refit after each plan_size new results (AutoTVM: 64)",
       {"xgb"}},
      {"epsilon",
       "0.05",
       0,
       1,
       false,
       {},
       "xgb: share of each plan replaced by random unvisited configurations (AutoTVM: 5 %)",
       {"xgb"}},
      {"max_rounds",
       "8000",
       1,
       100000,
       true,
       {},
       "xgb: boosting rounds at most; training stops after 20 rounds without a better "
       "average recall@plan_size on the training set (AutoTVM's early stopping)",
       {"xgb"}},
      {"sa_walkers",
       "128",
       1,
       65536,
       true,
       {},
       "simulated annealing: parallel walkers, kept between plans (AutoTVM: 128)",
       with({"xgb"}, kModelTuners)},
      {"sa_iterations",
       "500",
       1,
       100000,
       true,
       {},
       "simulated annealing: iterations at most (AutoTVM: 500)",
       with({"xgb"}, kModelTuners)},
      {"sa_early_stop",
       "50",
       1,
       100000,
       true,
       {},
       "simulated annealing: stop after this many iterations without a new best (AutoTVM: 50)",
       with({"xgb"}, kModelTuners)},
      {"n",
       "32",
       1,
       4096,
       true,
       {},
       "ml2: configurations run per round (N); the models are refit after each round",
       kModelTuners},
      {"n_without_hidden",
       "16",
       0,
       4096,
       true,
       {},
       "ml2: N once the builds have shown no hidden features (pa, ml2; from the first round's "
       "runs; at most n): ModelP, which proposed the candidates, also picks the runs, so smaller "
       "rounds refit it sooner at no extra builds; 0: n",
       {"ml2", "pa"}},
      {"alpha",
       "1",
       0,
       64,
       false,
       {},
       "ml2: build (alpha+1)*N candidates per round; ModelA picks the N to run (pa and ml2 "
       "build only the n_without_hidden they run once the builds have shown no hidden features: "
       "ModelA would rank by the knobs, as ModelP did)",
       kModelTuners},
      {"alpha_prior",
       "1",
       0,
       64,
       false,
       {},
       "ml2: alpha while ModelA learns relative to the target's compile-time estimate (see "
       "prior; from the first round, back to alpha once a build gives no estimate): more builds "
       "for a ModelA that ranks them well, traded against build time (pa, ml2)",
       {"ml2", "pa"}},
      {"run_cutoff",
       "1.15",
       0,
       100,
       false,
       {},
       "ml2: once a quarter of N is picked, a built candidate is run only if ModelA predicts its "
       "latency within this factor of the best (see run_cutoff_reference); the round ends sooner "
       "and the models are refit (pa, ml2, where builds reveal hidden features; 0: always run N)",
       {"ml2", "pa"}},
      {"run_cutoff_reference",
       "predicted",
       0,
       0,
       false,
       {"measured", "predicted"},
       "ml2: the latency the run cutoff multiplies: predicted, the lower of the best measured so "
       "far and the best ModelA predicts among the round's runnable candidates, so that a round "
       "whose candidates promise a large gain ends after the most promising ones and the models "
       "are refit; measured, the best measured so far (pa, ml2)",
       {"ml2", "pa"}},
      {"validity_threshold",
       "0.2",
       0,
       1,
       false,
       {},
       "ml2: candidates whose predicted P(valid) is below this are not built (pv, ml2)",
       kValidityTuners},
      {"validity_build_share",
       "0.5",
       0,
       1,
       false,
       {},
       "ml2: for a candidate whose failure, ModelV predicts, would be a build failure (which costs "
       "build time but no trial), the validity threshold is this share of validity_threshold "
       "(pv, ml2)",
       kValidityTuners},
      {"exploration",
       "0.1",
       0,
       1,
       false,
       {},
       "ml2: share of each round's runs given to random candidates, the validity gate's uncertain "
       "ones first, so that no region is sealed off",
       kModelTuners},
      {"local",
       "0.25",
       0,
       1,
       false,
       {},
       "ml2: share of each round's builds given to the best-scored untried one-knob neighbours of "
       "the best configurations run so far",
       kModelTuners},
      {"revisit",
       "0.1",
       0,
       1,
       false,
       {},
       "ml2: share of each round's builds given to candidates built earlier but never run, the "
       "best by the current models first (built again; all of them once nothing new is left)",
       kModelTuners},
      {"search",
       "gated",
       0,
       0,
       false,
       {"expected", "gated"},
       "ml2: what the search walks when ModelV is used (pv, ml2): gated, ModelP where P(valid) "
       "passes the threshold and nothing below it; expected, P(valid) x ModelP (with --label "
       "throughput; otherwise gated)",
       kValidityTuners},
      {"dedup",
       "program",
       0,
       0,
       false,
       {"program", "none"},
       "ml2: program, a built candidate whose artifact is the same program as one already run (or "
       "picked in the same round) is not run: its measurement would repeat that one's; none, "
       "every chosen candidate runs",
       kModelTuners},
      {"exploration_draw",
       "uniform",
       0,
       0,
       false,
       {"uniform", "valid"},
       "ml2: how the exploration share's runs are drawn from the built candidates the ranking "
       "left: uniform, at random; valid, in proportion to the post-build check's P(valid), "
       "fewer run failures where they cost trials, at some samples (pv, ml2)",
       kValidityTuners},
      {"validity_features",
       "knobs",
       0,
       0,
       false,
       {"knobs", "pairs"},
       "ml2: what ModelV sees before a build (pv, ml2): knobs, the knob features; pairs, also the "
       "sum of the logarithms of every two size-valued knob parts (the logarithm of their "
       "product, as resource limits are)",
       kValidityTuners},
      {"history_min",
       "500",
       1,
       1e9,
       true,
       {},
       "with --history: the fewest history records to learn a prior from (AutoTVM's "
       "min_seed_records); a smaller history is refused",
       with({"xgb"}, kModelTuners)},
      {"ensemble",
       "5",
       1,
       64,
       true,
       {},
       "ml2: members of ModelP's bagged ensemble (each on its own seed and a random subsample of "
       "the rows per boosting round; the model predicts their mean); 1, one booster on every row",
       kModelTuners},
      {"subsample",
       "0.7",
       0.1,
       1,
       false,
       {},
       "ml2: share of the rows each boosting round of an ensemble member sees (with ensemble > 1)",
       kModelTuners},
      {"rounds",
       "100",
       1,
       10000,
       true,
       {},
       "ml2: boosting rounds of ModelP, ModelV and ModelA (the paper compares 100 and 300)",
       kModelTuners},
      {"label",
       "auto",
       0,
       0,
       false,
       {"auto", "throughput", "log_latency", "rank"},
       "ml2: what ModelP and ModelA learn: throughput normalised by the best (AutoTVM's), "
       "-log(latency), or a pairwise rank; auto, -log(latency) while ModelA learns relative to "
       "the target's estimate (see prior), throughput otherwise",
       kModelTuners},
      {"prior",
       "estimate",
       0,
       0,
       false,
       {"estimate", "none"},
       "ml2: estimate, ModelA learns latency relative to the target's compile-time cost estimate "
       "(the hidden feature `estimate`, where every build gives one; until ModelA is trained the "
       "runs are chosen by it); none, ModelA learns latency itself",
       kModelTuners},
      {"pop_size",
       "100",
       2,
       100000,
       true,
       {},
       "ga: population size (AutoTVM GATuner: 100)",
       {"ga"}},
      {"elite_num",
       "3",
       0,
       100000,
       true,
       {},
       "ga: elites kept per generation (AutoTVM: 3)",
       {"ga"}},
      {"mutation_prob",
       "0.1",
       0,
       1,
       false,
       {},
       "ga: probability that each knob of a child mutates (AutoTVM: 0.1)",
       {"ga"}},
  };
  return specs;
}

namespace {

// A finite number as parameters are kept: whole numbers in fixed notation (100000, not 1e+05,
// which reads as 1 to an integer parser), others in the shortest form that reads back as the same
// double; -0 as 0.
std::string number_text(double x) {
  if (x == 0) x = 0;
  char text[400];  // room for any double in fixed notation
  const bool whole = std::floor(x) == x && std::abs(x) < 1e15;
  auto out = whole ? std::to_chars(text, text + sizeof text, x, std::chars_format::fixed)
                   : std::to_chars(text, text + sizeof text, x);
  return std::string(text, out.ptr);
}

}  // namespace

Params::Params(const std::string& tuner, const std::map<std::string, std::string>& given) {
  const auto& specs = param_specs();
  for (const auto& [name, value] : given) {
    auto it = std::find_if(specs.begin(), specs.end(),
                           [&](const ParamSpec& s) { return s.name == name; });
    if (it == specs.end()) {
      std::vector<std::string> names;
      for (const auto& s : specs) names.push_back(s.name);
      throw std::invalid_argument("unknown tuner parameter '" + name +
                                  "'; parameters: " + join(names));
    }
    if (std::find(it->tuners.begin(), it->tuners.end(), tuner) == it->tuners.end()) {
      throw std::invalid_argument("parameter '" + name + "' does not apply to tuner '" + tuner +
                                  "' (it applies to: " + join(it->tuners) + ")");
    }
  }
  for (const ParamSpec& s : specs) {
    if (std::find(s.tuners.begin(), s.tuners.end(), tuner) == s.tuners.end()) continue;
    auto g = given.find(s.name);
    const std::string value = g == given.end() ? s.default_value : g->second;
    std::string kept = value;  // a number as number_text writes it: "1e1" is read as 10
    if (!s.choices.empty()) {
      if (std::find(s.choices.begin(), s.choices.end(), value) == s.choices.end()) {
        throw std::invalid_argument("parameter '" + s.name + "' must be one of " + join(s.choices) +
                                    ", got '" + value + "'");
      }
    } else {
      size_t used = 0;
      double x = 0;
      try {
        x = std::stod(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != value.size() || value.empty() || !std::isfinite(x) ||
          (s.integer && std::floor(x) != x)) {
        throw std::invalid_argument("parameter '" + s.name + "' must be " +
                                    (s.integer ? "an integer" : "a number") + ", got '" + value +
                                    "'");
      }
      if (x < s.min || x > s.max) {
        char range[96];
        std::snprintf(range, sizeof range, "[%g, %g]", s.min, s.max);
        throw std::invalid_argument("parameter '" + s.name + "' must be in " + range + ", got " +
                                    value);
      }
      kept = number_text(x);
    }
    values_[s.name] = kept;
  }
}

std::string canonical_param_value(const std::string& name, const std::string& value) {
  const auto& specs = param_specs();
  auto it =
      std::find_if(specs.begin(), specs.end(), [&](const ParamSpec& s) { return s.name == name; });
  if (it == specs.end() || !it->choices.empty()) return value;
  double x = 0;
  size_t used = 0;
  try {
    x = std::stod(value, &used);  // as Params reads it
  } catch (const std::exception&) {
    return value;
  }
  if (used != value.size() || !std::isfinite(x)) return value;
  return number_text(x);
}

double Params::number(const std::string& name) const { return std::stod(text(name)); }
int Params::integer(const std::string& name) const {
  return static_cast<int>(std::llround(std::stod(text(name))));  // validated as an integer
}

const std::string& Params::text(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end())
    throw std::logic_error("internal: tuner reads undeclared '" + name + "'");
  return it->second;
}

}  // namespace ml2
