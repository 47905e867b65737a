// ML²Tuner's three models on top of Booster.
//
// PerformanceModel labels (ModelOptions::label); the booster keeps AutoTVM's XGBTuner
// parameters (BoosterOptions' defaults) with the rounds, seed and threads given:
//   kThroughput  y = (1 / latency) / max(1 / latency) = min(latency) / latency, in (0, 1], with
//                reg:squarederror (AutoTVM's "reg" with its normalisation by the best so far). A
//                latency of +infinity (a failed configuration, as AutoTVM keeps them) gets y = 0.
//                score = prediction. Latency back: min(latency) / max(prediction, 1e-4), so a
//                prediction at or below zero reads as 10^4 times slower than the best.
//   kLogLatency  y = -log(latency), reg:squarederror; score = prediction; latency = exp(-pred).
//   kRank        rank:pairwise over one query group holding every row, y = -latency (only the
//                order of the labels matters to the pairwise objective); score = prediction, a
//                margin with no unit, so predict_latency_ms refuses it.
// With a baseline b (a positive prior per row), every label is computed from latency / b instead
// of the latency, and b is put back on the way out: score = prediction - log(b) (kLogLatency) or
// prediction / b (kThroughput, a throughput up to the constant best factor); latency back =
// b x the latency above. A rank label takes no baseline.
// Latencies must be positive; +infinity is accepted for kThroughput only. Fewer than two rows
// (or, for kThroughput, no finite latency) leave the model untrained; score() is then all zero.
//
// ValidityModel:
//   binary_  binary:logistic, y = 1 for kOk and 0 for any failure. When only one class has been
//            seen it stays untrained and p_valid() answers the prior: the share of kOk outcomes
//            (1 when nothing has been seen). No class reweighting (scale_pos_weight): the
//            probability is used against a threshold, and reweighting would bias it.
//   kinds_   multi:softprob over the failure statuses with at least min_per_kind examples, in
//            Status order (kind_of_class_ maps class index -> Status), trained on the failures
//            of those kinds only. likely_failure() answers "if this row fails, how": the argmax
//            class (the lower class on a tie). With exactly one such kind every row answers it;
//            with none, nullopt for every row.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "ml2tuner/model.h"

namespace ml2 {
namespace {

BoosterOptions booster_options(int rounds, uint64_t seed, int threads, std::string objective) {
  BoosterOptions o;  // AutoTVM's XGBTuner parameters
  o.rounds = rounds;
  o.seed = seed;
  o.threads = threads;
  o.objective = std::move(objective);
  return o;
}

}  // namespace

PerfLabel perf_label_from_string(const std::string& name) {
  if (name == "throughput") return PerfLabel::kThroughput;
  if (name == "log_latency") return PerfLabel::kLogLatency;
  if (name == "rank") return PerfLabel::kRank;
  throw std::invalid_argument("unknown performance label '" + name +
                              "' (expected throughput, log_latency or rank)");
}

const char* to_string(PerfLabel label) {
  switch (label) {
    case PerfLabel::kThroughput:
      return "throughput";
    case PerfLabel::kLogLatency:
      return "log_latency";
    case PerfLabel::kRank:
      return "rank";
  }
  throw std::logic_error("internal: PerfLabel value without a name");
}

// ---- PerformanceModel ----

PerformanceModel::PerformanceModel(ModelOptions options) : options_(options) {
  if (options_.ensemble < 1) {
    throw std::invalid_argument("PerformanceModel: ensemble must be at least 1, got " +
                                std::to_string(options_.ensemble));
  }
  if (!(options_.subsample > 0 && options_.subsample <= 1)) {
    throw std::invalid_argument("PerformanceModel: subsample must be in (0, 1], got " +
                                std::to_string(options_.subsample));
  }
}

void PerformanceModel::check_baseline(const FeatureMatrix& x, const std::vector<double>& baseline,
                                      const char* call, bool after_fit) const {
  if (after_fit && baseline.empty() == with_baseline_) {
    throw std::invalid_argument(std::string("PerformanceModel::") + call +
                                ": the model was fitted " + (with_baseline_ ? "with" : "without") +
                                " a baseline");
  }
  if (baseline.empty()) return;
  if (options_.label == PerfLabel::kRank) {
    throw std::invalid_argument(std::string("PerformanceModel::") + call +
                                ": a rank label takes no baseline");
  }
  if (baseline.size() != x.rows) {
    throw std::invalid_argument(std::string("PerformanceModel::") + call + ": " +
                                std::to_string(baseline.size()) + " baselines for " +
                                std::to_string(x.rows) + " rows");
  }
  for (double b : baseline) {
    if (!(b > 0) || !std::isfinite(b)) {
      throw std::invalid_argument(std::string("PerformanceModel::") + call + ": baseline " +
                                  std::to_string(b) + " is not a positive finite number");
    }
  }
}

void PerformanceModel::fit(const FeatureMatrix& x, const std::vector<double>& latency_ms,
                           const std::vector<double>& baseline) {
  if (latency_ms.size() != x.rows) {
    throw std::invalid_argument("PerformanceModel::fit: " + std::to_string(latency_ms.size()) +
                                " latencies for " + std::to_string(x.rows) + " rows");
  }
  check_baseline(x, baseline, "fit", false);
  // With a baseline the model learns latency / baseline.
  std::vector<double> relative = latency_ms;
  if (!baseline.empty()) {
    for (size_t i = 0; i < relative.size(); ++i) relative[i] /= baseline[i];
  }
  double best = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < relative.size(); ++i) {
    const double l = latency_ms[i];
    const bool inf_ok = options_.label == PerfLabel::kThroughput && std::isinf(l);
    if (!(l > 0) || (!std::isfinite(l) && !inf_ok)) {
      throw std::invalid_argument("PerformanceModel::fit: latency " + std::to_string(l) +
                                  " ms is not a positive finite number");
    }
    best = std::min(best, relative[i]);
  }
  members_.clear();
  best_throughput_ = 0;
  with_baseline_ = !baseline.empty();
  if (x.rows < 2 || !std::isfinite(best)) return;

  std::vector<float> y(x.rows);
  std::string objective = "reg:squarederror";
  switch (options_.label) {
    case PerfLabel::kThroughput:
      for (size_t i = 0; i < x.rows; ++i) y[i] = static_cast<float>(best / relative[i]);
      break;
    case PerfLabel::kLogLatency:
      for (size_t i = 0; i < x.rows; ++i) y[i] = static_cast<float>(-std::log(relative[i]));
      break;
    case PerfLabel::kRank:
      objective = "rank:pairwise";
      for (size_t i = 0; i < x.rows; ++i) y[i] = static_cast<float>(-relative[i]);
      break;
  }
  for (int m = 0; m < options_.ensemble; ++m) {
    BoosterOptions o = booster_options(options_.rounds, options_.seed + static_cast<uint64_t>(m),
                                       options_.threads, objective);
    o.subsample = options_.subsample;
    members_.push_back(Booster::train(x, y, o));  // rank: Booster makes one group of every row
  }
  best_throughput_ = 1.0 / best;
}

std::vector<double> PerformanceModel::predict_raw(const FeatureMatrix& x) const {
  std::vector<double> out(x.rows, 0.0);
  for (const Booster& b : members_) {
    const std::vector<float> p = b.predict(x);
    for (size_t i = 0; i < out.size(); ++i) out[i] += p[i];
  }
  for (double& v : out) v /= static_cast<double>(members_.size());
  return out;
}

std::vector<double> PerformanceModel::score(const FeatureMatrix& x,
                                            const std::vector<double>& baseline) const {
  if (!trained()) return std::vector<double>(x.rows, 0.0);
  check_baseline(x, baseline, "score", true);
  std::vector<double> out = predict_raw(x);
  for (size_t i = 0; i < baseline.size(); ++i) {
    if (options_.label == PerfLabel::kLogLatency) {
      out[i] -= std::log(baseline[i]);
    } else {
      out[i] /= baseline[i];
    }
  }
  return out;
}

std::vector<double> PerformanceModel::predict_latency_ms(
    const FeatureMatrix& x, const std::vector<double>& baseline) const {
  if (options_.label == PerfLabel::kRank) {
    throw std::logic_error("PerformanceModel: a rank model predicts an order, not a latency");
  }
  if (!trained()) throw std::logic_error("PerformanceModel: not trained");
  check_baseline(x, baseline, "predict_latency_ms", true);
  const std::vector<double> p = predict_raw(x);
  std::vector<double> out(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    if (options_.label == PerfLabel::kThroughput) {
      out[i] = 1.0 / (std::max(p[i], kMinNormalisedThroughput) * best_throughput_);
    } else {
      out[i] = std::exp(-p[i]);
    }
    if (!baseline.empty()) out[i] *= baseline[i];
  }
  return out;
}

// ---- ValidityModel ----

ValidityModel::ValidityModel(ValidityOptions options) : options_(options) {}

bool ValidityModel::trained() const { return binary_.trained(); }

void ValidityModel::fit(const FeatureMatrix& x, const std::vector<Status>& outcome) {
  if (outcome.size() != x.rows) {
    throw std::invalid_argument("ValidityModel::fit: " + std::to_string(outcome.size()) +
                                " outcomes for " + std::to_string(x.rows) + " rows");
  }
  binary_ = Booster();
  kinds_ = Booster();
  kind_of_class_.clear();

  const std::vector<Status>& statuses = all_statuses();
  std::vector<size_t> count(statuses.size(), 0);
  for (Status s : outcome) ++count[static_cast<size_t>(s)];
  const size_t valid = count[static_cast<size_t>(Status::kOk)];
  prior_valid_ = x.rows == 0 ? 1.0 : static_cast<double>(valid) / static_cast<double>(x.rows);

  if (valid > 0 && valid < x.rows) {
    std::vector<float> y(x.rows);
    for (size_t i = 0; i < x.rows; ++i) y[i] = outcome[i] == Status::kOk ? 1.0f : 0.0f;
    binary_ = Booster::train(
        x, y, booster_options(options_.rounds, options_.seed, options_.threads, "binary:logistic"));
  }

  const size_t min_per_kind = static_cast<size_t>(std::max(1, options_.min_per_kind));
  std::vector<int> class_of(statuses.size(), -1);
  for (Status s : statuses) {
    if (s != Status::kOk && count[static_cast<size_t>(s)] >= min_per_kind) {
      class_of[static_cast<size_t>(s)] = static_cast<int>(kind_of_class_.size());
      kind_of_class_.push_back(s);
    }
  }
  if (kind_of_class_.size() < 2) return;  // likely_failure answers without a model

  std::vector<size_t> rows;
  for (size_t i = 0; i < x.rows; ++i) {
    if (class_of[static_cast<size_t>(outcome[i])] >= 0) rows.push_back(i);
  }
  FeatureMatrix xk(rows.size(), x.cols);
  std::vector<float> y(rows.size());
  for (size_t k = 0; k < rows.size(); ++k) {
    std::copy(x.row(rows[k]), x.row(rows[k]) + x.cols, xk.row(k));
    y[k] = static_cast<float>(class_of[static_cast<size_t>(outcome[rows[k]])]);
  }
  BoosterOptions o =
      booster_options(options_.rounds, options_.seed, options_.threads, "multi:softprob");
  o.num_class = static_cast<int>(kind_of_class_.size());
  kinds_ = Booster::train(xk, y, o);
}

std::vector<double> ValidityModel::p_valid(const FeatureMatrix& x) const {
  if (!binary_.trained()) return std::vector<double>(x.rows, prior_valid_);
  const std::vector<float> p = binary_.predict(x);
  return std::vector<double>(p.begin(), p.end());
}

std::vector<std::optional<Status>> ValidityModel::likely_failure(const FeatureMatrix& x) const {
  if (kind_of_class_.empty()) return std::vector<std::optional<Status>>(x.rows);
  if (!kinds_.trained()) {
    return std::vector<std::optional<Status>>(x.rows, kind_of_class_.front());
  }
  const std::vector<float> p = kinds_.predict(x);
  const size_t k = kind_of_class_.size();
  std::vector<std::optional<Status>> out(x.rows);
  for (size_t i = 0; i < x.rows; ++i) {
    const float* row = p.data() + i * k;
    out[i] = kind_of_class_[static_cast<size_t>(std::max_element(row, row + k) - row)];
  }
  return out;
}

// ---- rmse ----

double rmse(const std::vector<double>& predicted, const std::vector<double>& truth) {
  if (predicted.size() != truth.size()) {
    throw std::invalid_argument("rmse: " + std::to_string(predicted.size()) + " predictions for " +
                                std::to_string(truth.size()) + " values");
  }
  if (predicted.empty()) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    const double d = predicted[i] - truth[i];
    sum += d * d;
  }
  return std::sqrt(sum / static_cast<double>(truth.size()));
}

}  // namespace ml2
