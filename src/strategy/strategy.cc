// Built-in strategies and the name -> factory registry.
//
// random: uniform sampling without replacement, as a lazily shuffled permutation of the space
//         (a Fisher-Yates shuffle whose swaps live in a hash map, so a space of 10^9 costs only
//         what has been drawn). Measured configurations are skipped, so a resumed session draws
//         exactly what an uninterrupted one would have.
// grid:   the space in index order (knobs vary lexicographically, the last knob fastest).
#include "ml2tuner/strategy.h"

#include <cmath>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "strategy/builtin.h"
#include "strategy/params.h"
#include "util/random.h"

namespace ml2 {

std::vector<size_t> Strategy::choose(std::span<const Outcome> built, size_t n) {
  std::vector<size_t> picked;
  for (size_t i = 0; i < built.size() && picked.size() < n; ++i) picked.push_back(i);
  return picked;
}

namespace {

// Remembers what has been measured so that a strategy never proposes it again.
class MeasuredSet {
 public:
  void tell(std::span<const Outcome> outcomes) {
    for (const Outcome& o : outcomes) {
      if (o.trial) measured_.insert(o.index);
    }
  }
  bool contains(uint64_t index) const { return measured_.count(index) != 0; }

 private:
  std::unordered_set<uint64_t> measured_;
};

class RandomStrategy final : public Strategy {
 public:
  RandomStrategy(const Space& space, uint64_t seed) : size_(space.size()), rng_(seed) {}
  std::string name() const override { return "random"; }
  void tell(std::span<const Outcome> outcomes) override { measured_.tell(outcomes); }

  Proposal ask(size_t n) override {
    Proposal p;
    while (p.configs.size() < n && drawn_ < size_) {
      const uint64_t x = draw();
      if (!measured_.contains(x)) p.configs.push_back(x);
    }
    return p;
  }

 private:
  uint64_t at(uint64_t pos) const {
    auto it = swapped_.find(pos);
    return it == swapped_.end() ? pos : it->second;
  }
  uint64_t draw() {
    const uint64_t j = drawn_ + uniform_below(rng_, size_ - drawn_);
    const uint64_t picked = at(j);
    swapped_[j] = at(drawn_);
    swapped_.erase(drawn_);
    ++drawn_;
    return picked;
  }

  uint64_t size_;
  std::mt19937_64 rng_;
  uint64_t drawn_ = 0;
  std::unordered_map<uint64_t, uint64_t> swapped_;
  MeasuredSet measured_;
};

class GridStrategy final : public Strategy {
 public:
  explicit GridStrategy(const Space& space) : size_(space.size()) {}
  std::string name() const override { return "grid"; }
  void tell(std::span<const Outcome> outcomes) override { measured_.tell(outcomes); }

  Proposal ask(size_t n) override {
    Proposal p;
    for (; p.configs.size() < n && next_ < size_; ++next_) {
      if (!measured_.contains(next_)) p.configs.push_back(next_);
    }
    return p;
  }

 private:
  uint64_t size_;
  uint64_t next_ = 0;
  MeasuredSet measured_;
};

struct Entry {
  const char* name;
  std::unique_ptr<Strategy> (*make)(const Space&, const Params&, uint64_t seed,
                                    const std::vector<HistoryRecord>& history);
};

// ML²Tuner and its ablations, by the levels they use.
constexpr const char* kMl2Levels[] = {"ml2", "p", "pv", "pa"};
template <const char* const& levels>
std::unique_ptr<Strategy> make_ml2_variant(const Space& s, const Params& p, uint64_t seed,
                                           const std::vector<HistoryRecord>& h) {
  return make_ml2_strategy(s, p, seed, levels, h);
}

// The one place built-in strategies are registered.
const Entry kStrategies[] = {
    {"random",
     [](const Space& s, const Params&, uint64_t seed, const std::vector<HistoryRecord>&)
         -> std::unique_ptr<Strategy> { return std::make_unique<RandomStrategy>(s, seed); }},
    {"grid",
     [](const Space& s, const Params&, uint64_t, const std::vector<HistoryRecord>&)
         -> std::unique_ptr<Strategy> { return std::make_unique<GridStrategy>(s); }},
    {"xgb", make_xgb_strategy},
    {"ga", [](const Space& s, const Params& p, uint64_t seed,
              const std::vector<HistoryRecord>&) { return make_ga_strategy(s, p, seed); }},
    {"ml2", make_ml2_variant<kMl2Levels[0]>},
    {"p", make_ml2_variant<kMl2Levels[1]>},
    {"pv", make_ml2_variant<kMl2Levels[2]>},
    {"pa", make_ml2_variant<kMl2Levels[3]>},
};

// Refuses a history the tuner cannot learn from: the tuner learns nothing from one (AutoTVM's
// GATuner, random and grid search ignore it silently; a user who gave one expects it to count),
// it is smaller than history_min, or it names configurations outside the space.
void check_history(const std::string& name, const Space& space, const Params& params,
                   const std::vector<HistoryRecord>& history) {
  if (history.empty()) return;
  // The tuners that learn from a history are those that read history_min.
  const auto spec = std::find_if(param_specs().begin(), param_specs().end(),
                                 [](const ParamSpec& p) { return p.name == "history_min"; });
  if (spec == param_specs().end()) throw std::logic_error("internal: history_min undeclared");
  if (std::find(spec->tuners.begin(), spec->tuners.end(), name) == spec->tuners.end()) {
    std::string learners;
    for (const std::string& t : spec->tuners) learners += (learners.empty() ? "" : ", ") + t;
    throw std::invalid_argument("tuner " + name +
                                " learns nothing from a tuning history (--history); give one of " +
                                learners + ", or no history");
  }
  const auto min = static_cast<size_t>(params.integer("history_min"));
  if (history.size() < min) {
    throw std::invalid_argument(
        "the tuning history holds " + std::to_string(history.size()) +
        " records of this space, fewer than history_min=" + std::to_string(min) +
        "; give more, or --set history_min=" + std::to_string(history.size()) +
        " to learn from these");
  }
  size_t runs = 0;
  for (const HistoryRecord& r : history) {
    if (r.index >= space.size()) {
      throw std::invalid_argument("the tuning history names configuration " +
                                  std::to_string(r.index) + " of a space of " +
                                  std::to_string(space.size()) + "; it is from another space");
    }
    if (r.status == Status::kOk &&
        (!r.latency_ms || !(*r.latency_ms > 0) || !std::isfinite(*r.latency_ms))) {
      throw std::invalid_argument("the tuning history holds a successful run of configuration " +
                                  std::to_string(r.index) + " without a positive finite latency");
    }
    runs += r.status == Status::kOk;
  }
  if (runs < 2) {
    throw std::invalid_argument("the tuning history holds " + std::to_string(runs) +
                                (runs == 1 ? " successful run" : " successful runs") +
                                "; a prior of performance needs at least 2: give stores that ran "
                                "configurations successfully");
  }
}

}  // namespace

const std::vector<StrategyParam>& strategy_params() {
  static const std::vector<StrategyParam> all = [] {
    std::vector<StrategyParam> v;
    for (const ParamSpec& s : param_specs())
      v.push_back({s.name, s.default_value, s.description, s.tuners});
    return v;
  }();
  return all;
}

std::vector<std::string> strategy_names() {
  std::vector<std::string> names;
  for (const Entry& e : kStrategies) names.emplace_back(e.name);
  return names;
}

void check_strategy(const std::string& name, const Space& space, const StrategyOptions& options) {
  // Built without the history (cheap: nothing is learnt), which checks the parameters as the
  // strategy reads them; then the history itself.
  make_strategy(name, space, {options.seed, options.params, {}});
  check_history(name, space, Params(name, options.params), options.history);
}

std::unique_ptr<Strategy> make_strategy(const std::string& name, const Space& space,
                                        const StrategyOptions& options) {
  for (const Entry& e : kStrategies) {
    if (name != e.name) continue;
    const Params params(name, options.params);
    check_history(name, space, params, options.history);
    return e.make(space, params, options.seed, options.history);
  }
  std::string known;
  for (const Entry& e : kStrategies) known += (known.empty() ? "" : ", ") + std::string(e.name);
  throw std::invalid_argument("unknown tuner '" + name + "'; known tuners: " + known);
}

}  // namespace ml2
