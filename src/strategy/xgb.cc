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
// With a tuning history, AutoTVM's transfer learning (ModelBasedTuner.load_history,
// XGBoostCostModel.fit_log and load_basemodel):
//   - a base model learns the history first (label: throughput normalised by the history's best,
//     failures 0; up to 400 rounds, stopping after 100 without a better recall@2*plan_size);
//   - the first plan is the base model's plan_size best configurations by simulated annealing
//     (ε-greedy as every plan) instead of random ones;
//   - each refit learns on top of w * the base model's prediction (XGBoost's base margin; here,
//     equivalently, the residual from 0), and predicts its own output + w * the base model's,
//     w = history_weight(samples), until w reaches 0 and the base model is dropped.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
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

// Trains a booster as AutoTVM's refit does: up to `rounds` rounds, evaluating the average recall
// at `recall_n` on the training set every `every` rounds and stopping after `patience` rounds
// without a better one. `offset` (empty, or one per row) is a prediction the model learns on top
// of: the booster then starts from 0 and learns y - offset, and recall is scored on its output +
// offset.
Booster train_with_recall(const FeatureMatrix& x, const std::vector<float>& y,
                          const std::vector<float>& offset, int rounds, uint64_t seed,
                          size_t recall_n, int every, int patience) {
  BoosterOptions o;  // AutoTVM's parameters are BoosterOptions' defaults
  o.objective = "reg:squarederror";
  o.rounds = rounds;
  o.seed = seed;
  std::vector<float> target = y;
  if (!offset.empty()) {
    o.base_score = 0.0;
    for (size_t i = 0; i < y.size(); ++i) target[i] = y[i] - offset[i];
  }
  double best_score = -1;
  int best_round = 0;
  return Booster::train(x, target, o, {}, [&](int round, const Booster& b) {
    if ((round + 1) % every != 0) return true;
    std::vector<float> pred = b.predict(x);
    for (size_t i = 0; i < offset.size(); ++i) pred[i] += offset[i];
    const double score = average_recall(pred, y, recall_n);
    if (score > best_score) {
      best_score = score;
      best_round = round;
    }
    return round - best_round < patience;
  });
}

class XgbStrategy final : public Strategy {
 public:
  XgbStrategy(const Space& space, const Params& p, uint64_t seed,
              const std::vector<HistoryRecord>& history)
      : space_(space),
        rng_(seed),
        plan_size_(static_cast<size_t>(p.integer("plan_size"))),
        epsilon_(p.number("epsilon")),
        max_rounds_(p.integer("max_rounds")),
        seed_(seed),
        annealer_(space,
                  {p.integer("sa_walkers"), p.integer("sa_iterations"), p.integer("sa_early_stop")},
                  seed ^ 0x5eed5eedULL) {
    if (!history.empty()) learn_history(history);
  }

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
  // The base model, and the first plan from it (fit_log, then load_history's find_maximums).
  void learn_history(const std::vector<HistoryRecord>& history) {
    std::vector<uint64_t> idx;
    std::vector<float> y;
    float best = 0;
    for (const HistoryRecord& r : history) {
      idx.push_back(r.index);
      y.push_back(r.status == Status::kOk && r.latency_ms ? static_cast<float>(1.0 / *r.latency_ms)
                                                          : 0.0f);
      best = std::max(best, y.back());
    }
    if (!(best > 0)) return;  // nothing ran: the history ranks nothing
    for (float& v : y) v /= best;
    base_ = train_with_recall(knob_features(space_, idx), y, {}, 400, seed_ ^ 0xba5eULL,
                              2 * plan_size_, 1, 100);
    plan_ = annealer_.find_maximums(
        [&](const std::vector<uint64_t>& points) {
          return base_scores(knob_features(space_, points), 1.0);
        },
        plan_size_, visited_);
    pt_ = 0;
  }

  // w x the base model's prediction of each row of knob features.
  std::vector<double> base_scores(const FeatureMatrix& x, double w) const {
    const std::vector<float> p = base_->predict(x);
    std::vector<double> out(p.size());
    for (size_t i = 0; i < p.size(); ++i) out[i] = w * p[i];
    return out;
  }

  void refit() {
    const FeatureMatrix x = knob_features(space_, xs_);
    std::vector<float> y(ys_.size());
    for (size_t i = 0; i < ys_.size(); ++i) y[i] = static_cast<float>(ys_[i] / best_);
    const double w = base_ ? history_weight(xs_.size()) : 0.0;
    if (base_ && w == 0) base_.reset();  // AutoTVM discards the base model
    std::vector<float> offset;
    if (base_) {
      for (double v : base_scores(x, w)) offset.push_back(static_cast<float>(v));
    }
    // Evaluated every 2nd round.
    Booster model = train_with_recall(x, y, offset, max_rounds_, seed_ + fits_, plan_size_, 2, 20);
    auto score = [&](const std::vector<uint64_t>& points) {
      const FeatureMatrix f = knob_features(space_, points);
      const std::vector<float> p = model.predict(f);
      std::vector<double> out(p.begin(), p.end());
      if (base_) {
        const std::vector<double> b = base_scores(f, w);
        for (size_t i = 0; i < out.size(); ++i) out[i] += b[i];
      }
      return out;
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
  std::optional<Booster> base_;  // learnt from a tuning history, until its weight reaches 0
};

}  // namespace

bool xgb_takes_random(size_t pt, size_t plan_len, size_t plan_size, double epsilon) {
  const auto random_tail = static_cast<size_t>(epsilon * static_cast<double>(plan_size));
  return pt + std::min(random_tail, plan_len) >= plan_len;
}

std::unique_ptr<Strategy> make_xgb_strategy(const Space& space, const Params& params, uint64_t seed,
                                            const std::vector<HistoryRecord>& history) {
  return std::make_unique<XgbStrategy>(space, params, seed, history);
}

}  // namespace ml2
