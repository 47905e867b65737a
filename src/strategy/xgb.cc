// `xgb`: the TVM-like baseline, AutoTVM's XGBTuner (apache/tvm v0.13.0
// python/tvm/autotvm/tuner/{model_based_tuner,xgboost_cost_model,sa_model_optimizer}.py), the
// yardstick ML²Tuner is measured against. Kept faithful on purpose:
//   - every proposed configuration is a trial (a failed build consumes it);
//   - the first plan is random; after each plan_size new results the model is refit on every
//     result (failures kept with label 0, successes as throughput normalised by the best) and
//     simulated annealing picks the plan_size best unvisited configurations;
//   - ε-greedy: the last ε·plan_size trials of each plan are uniformly random unvisited ones;
//   - XGBoost with AutoTVM's parameters, up to max_rounds rounds, stopping after 20 rounds without
//     a better average recall@plan_size on the training set (evaluated every 2nd round);
//   - features: the knob values ("knob" features).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "strategy/builtin.h"
#include "strategy/search.h"
#include "util/random.h"

namespace ml2 {
namespace {

// AutoTVM's average recall curve score on the top n: the share of the true top-i among the first
// i predictions, averaged over i < n (recall_curve, xgb_average_recalln_curve_score).
double average_recall(const std::vector<float>& pred, const std::vector<float>& label, size_t n) {
  const size_t m = pred.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return pred[a] > pred[b]; });
  // Rank of each label value among all labels (0 = best).
  std::vector<size_t> by_label(m);
  std::iota(by_label.begin(), by_label.end(), 0);
  std::stable_sort(by_label.begin(), by_label.end(),
                   [&](size_t a, size_t b) { return label[a] > label[b]; });
  std::vector<size_t> rank(m);
  for (size_t r = 0; r < m; ++r) rank[by_label[r]] = r;
  double sum = 0;
  const size_t top = std::min(n, m);
  for (size_t i = 0; i < top; ++i) {
    size_t hits = 0;
    for (size_t j = 0; j < i; ++j) hits += rank[order[j]] <= i;  // AutoTVM: ranks[:i] <= i
    sum += static_cast<double>(hits) / static_cast<double>(i + 1);
  }
  return sum / static_cast<double>(n);
}

class XgbStrategy final : public Strategy {
 public:
  XgbStrategy(const Space& space, const Params& p, uint64_t seed)
      : space_(space),
        rng_(seed),
        plan_size_(static_cast<size_t>(p.integer("plan_size"))),
        epsilon_(p.number("epsilon")),
        max_rounds_(p.integer("max_rounds")),
        seed_(seed),
        annealer_(space,
                  {p.integer("sa_walkers"), p.integer("sa_iterations"), p.integer("sa_early_stop")},
                  seed ^ 0x5eed5eedULL) {}

  std::string name() const override { return "xgb"; }

  Proposal ask(size_t n) override {
    Proposal out;
    const uint64_t size = space_.size();
    while (out.configs.size() < n && visited_.size() < size) {
      while (pt_ < plan_.size() && visited_.count(plan_[pt_])) ++pt_;
      uint64_t index;
      if (xgb_takes_random(pt_, plan_.size(), plan_size_, epsilon_)) {
        do {
          index = uniform_below(rng_, size);
        } while (visited_.count(index));
      } else {
        index = plan_[pt_];
      }
      visited_.insert(index);
      out.configs.push_back(index);
    }
    return out;
  }

  void tell(std::span<const Outcome> outcomes) override {
    for (const Outcome& o : outcomes) {
      if (!o.trial) continue;
      xs_.push_back(o.index);
      const double y = o.latency_ms && o.status == Status::kOk ? 1.0 / *o.latency_ms : 0.0;
      ys_.push_back(y);
      best_ = std::max(best_, y);
      visited_.insert(o.index);
    }
    if (xs_.size() >= plan_size_ * (fits_ + 1) && best_ > 1e-12) refit();
  }

  std::map<std::string, double> metrics() const override {
    return {{"model_fits", static_cast<double>(fits_)}};
  }

 private:
  void refit() {
    const FeatureMatrix x = knob_features(space_, xs_);
    std::vector<float> y(ys_.size());
    for (size_t i = 0; i < ys_.size(); ++i) y[i] = static_cast<float>(ys_[i] / best_);
    BoosterOptions o;  // AutoTVM's parameters are BoosterOptions' defaults
    o.objective = "reg:squarederror";
    o.rounds = max_rounds_;
    o.seed = seed_ + fits_;
    double best_score = -1;
    int best_round = 0;
    Booster model = Booster::train(x, y, o, {}, [&](int round, const Booster& b) {
      if ((round + 1) % 2 != 0) return true;  // evaluated every 2nd round
      const double score = average_recall(b.predict(x), y, plan_size_);
      if (score > best_score) {
        best_score = score;
        best_round = round;
      }
      return round - best_round < 20;
    });
    auto score = [&](const std::vector<uint64_t>& points) {
      const std::vector<float> p = model.predict(knob_features(space_, points));
      return std::vector<double>(p.begin(), p.end());
    };
    plan_ = annealer_.find_maximums(score, plan_size_, visited_);
    pt_ = 0;
    ++fits_;
  }

  const Space& space_;
  std::mt19937_64 rng_;
  size_t plan_size_;
  double epsilon_;
  int max_rounds_;
  uint64_t seed_;
  Annealer annealer_;
  std::unordered_set<uint64_t> visited_;
  std::vector<uint64_t> plan_;
  size_t pt_ = 0;
  std::vector<uint64_t> xs_;
  std::vector<double> ys_;
  double best_ = 0;
  size_t fits_ = 0;
};

}  // namespace

bool xgb_takes_random(size_t pt, size_t plan_len, size_t plan_size, double epsilon) {
  const auto random_tail = static_cast<size_t>(epsilon * static_cast<double>(plan_size));
  return pt + std::min(random_tail, plan_len) >= plan_len;
}

std::unique_ptr<Strategy> make_xgb_strategy(const Space& space, const Params& params,
                                            uint64_t seed) {
  return std::make_unique<XgbStrategy>(space, params, seed);
}

}  // namespace ml2
