// Built-in strategies and the name -> factory registry.
//
// random: uniform sampling without replacement, as a lazily shuffled permutation of the space
//         (a Fisher-Yates shuffle whose swaps live in a hash map, so a space of 10^9 costs only
//         what has been drawn). Measured configurations are skipped, so a resumed session draws
//         exactly what an uninterrupted one would have.
// grid:   the space in index order (knobs vary lexicographically, the last knob fastest).
#include "ml2tuner/strategy.h"

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
  std::unique_ptr<Strategy> (*make)(const Space&, const Params&, uint64_t seed);
};

// The one place built-in strategies are registered.
const Entry kStrategies[] = {
    {"random",
     [](const Space& s, const Params&, uint64_t seed) -> std::unique_ptr<Strategy> {
       return std::make_unique<RandomStrategy>(s, seed);
     }},
    {"grid",
     [](const Space& s, const Params&, uint64_t) -> std::unique_ptr<Strategy> {
       return std::make_unique<GridStrategy>(s);
     }},
    {"xgb", make_xgb_strategy},
    {"ga", make_ga_strategy},
    {"ml2", [](const Space& s, const Params& p,
               uint64_t seed) { return make_ml2_strategy(s, p, seed, "ml2"); }},
    {"p", [](const Space& s, const Params& p,
             uint64_t seed) { return make_ml2_strategy(s, p, seed, "p"); }},
    {"pv", [](const Space& s, const Params& p,
              uint64_t seed) { return make_ml2_strategy(s, p, seed, "pv"); }},
    {"pa", [](const Space& s, const Params& p,
              uint64_t seed) { return make_ml2_strategy(s, p, seed, "pa"); }},
};

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

std::unique_ptr<Strategy> make_strategy(const std::string& name, const Space& space,
                                        const StrategyOptions& options) {
  for (const Entry& e : kStrategies) {
    if (name == e.name) return e.make(space, Params(name, options.params), options.seed);
  }
  std::string known;
  for (const Entry& e : kStrategies) known += (known.empty() ? "" : ", ") + std::string(e.name);
  throw std::invalid_argument("unknown tuner '" + name + "'; known tuners: " + known);
}

}  // namespace ml2
