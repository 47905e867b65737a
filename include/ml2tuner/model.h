// Cost and validity models: one XGBoost wrapper (C API), and the three models of ML²Tuner.
//
//   Booster        XGBoost through its C API: dense training, batched prediction, save/load;
//                  every call checked (a failure throws with the call and XGBGetLastError());
//                  deterministic for a seed and a fixed thread count.
//   PerformanceModel  ModelP (knob features) and ModelA (knob + hidden features): regression on
//                  successfully run configurations; score() is higher for faster.
//   ValidityModel  ModelV: P(valid) from every outcome (build failures, run failures, successful
//                  runs; built-but-unrun candidates are unlabelled and never passed to it), and the
//                  most likely failure kind where enough examples of each kind exist.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ml2tuner/measure.h"

namespace ml2 {

// Row-major float features; NaN marks a missing value (XGBoost treats it as missing).
struct FeatureMatrix {
  size_t rows = 0, cols = 0;
  std::vector<float> values;

  FeatureMatrix() = default;
  FeatureMatrix(size_t r, size_t c) : rows(r), cols(c), values(r * c, 0.0f) {}
  float* row(size_t r) { return values.data() + r * cols; }
  const float* row(size_t r) const { return values.data() + r * cols; }
};

struct BoosterOptions {
  // AutoTVM's XGBTuner parameters (tuning-methods.md).
  int max_depth = 3;
  double eta = 0.3;
  double gamma = 1e-4;
  double min_child_weight = 1;
  double subsample = 1;
  double lambda = 1;
  double alpha = 0;
  // "reg:squarederror", "rank:pairwise", "binary:logistic" or "multi:softprob".
  std::string objective = "reg:squarederror";
  int num_class = 0;  // multi:softprob only
  int rounds = 100;
  uint64_t seed = 0;
  int threads = 1;  // fixed, for determinism
  // The prediction before the first tree (XGBoost's base_score); unset: XGBoost's default, 0.5.
  // A model that learns a residual on top of another's prediction starts from 0.
  std::optional<double> base_score;
};

class Booster {
 public:
  Booster();
  ~Booster();
  Booster(Booster&&) noexcept;
  Booster& operator=(Booster&&) noexcept;

  // Trains from scratch. `group` (rank:pairwise only) gives the sizes of consecutive query groups.
  // Throws std::invalid_argument for inconsistent sizes, std::runtime_error for an XGBoost error.
  static Booster train(const FeatureMatrix& x, const std::vector<float>& y,
                       const BoosterOptions& options, const std::vector<unsigned>& group = {});
  // As above, calling after_round(round, booster) after each boosting round (round counts from
  // 0); training stops when it returns false. AutoTVM's early stopping is built on this.
  static Booster train(const FeatureMatrix& x, const std::vector<float>& y,
                       const BoosterOptions& options, const std::vector<unsigned>& group,
                       const std::function<bool(int round, const Booster&)>& after_round);
  // One prediction per row (num_class per row for multi:softprob), in a single call.
  std::vector<float> predict(const FeatureMatrix& x) const;
  // The model as XGBoost's own bytes; load() restores it exactly.
  std::string save() const;
  static Booster load(const std::string& bytes, int threads = 1);
  bool trained() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What a performance model learns from: how latency becomes a label.
enum class PerfLabel {
  kThroughput,  // (1 / latency) / the best so far, in (0, 1] (AutoTVM's); the default
  kLogLatency,  // -log(latency)
  kRank,        // pairwise ranking (rank:pairwise) on -latency
};
PerfLabel perf_label_from_string(const std::string& name);  // throws std::invalid_argument
const char* to_string(PerfLabel label);

struct ModelOptions {
  int rounds = 100;  // boosting rounds (the paper compares 100 and 300)
  PerfLabel label = PerfLabel::kThroughput;
  uint64_t seed = 0;
  int threads = 1;
  // Members of a bagged ensemble: each is trained with its own seed on a random `subsample` of
  // the rows per boosting round (XGBoost's subsample), and the model predicts their mean. With a
  // few dozen rows one tree ensemble fits the noise of which rows it saw; the mean of several
  // ranks the unseen configurations more reliably. 1: one booster, every row (AutoTVM's).
  int ensemble = 1;
  double subsample = 1;
};

// The lowest normalised throughput (throughput / the best) a prediction is read as: a prediction
// at or below zero reads as 10^4 times slower than the best.
inline constexpr double kMinNormalisedThroughput = 1e-4;

// A performance model may learn relative to a baseline: a positive prior per row in any unit
// (e.g. a compile-time cost estimate). It then learns latency / baseline, and its scores and
// latencies are for the latency itself (score: -log(latency) or throughput up to a constant
// factor). A model fitted with a baseline needs one for every score or prediction, and one
// fitted without refuses one; rank labels take none (a margin cannot be rescaled).
class PerformanceModel {
 public:
  explicit PerformanceModel(ModelOptions options = {});
  // Fits on successfully run configurations. Needs at least two rows; fewer leaves it untrained.
  void fit(const FeatureMatrix& x, const std::vector<double>& latency_ms,
           const std::vector<double>& baseline = {});
  // Higher is predicted faster. Untrained: all zero.
  std::vector<double> score(const FeatureMatrix& x, const std::vector<double>& baseline = {}) const;
  // Predicted latency (ms) where the label allows it (throughput and log-latency), for RMSE.
  std::vector<double> predict_latency_ms(const FeatureMatrix& x,
                                         const std::vector<double>& baseline = {}) const;
  bool trained() const { return !members_.empty(); }

 private:
  // The members' mean raw prediction per row.
  std::vector<double> predict_raw(const FeatureMatrix& x) const;

  // Throws for a baseline that is malformed or, when `after_fit`, does not match the fit.
  void check_baseline(const FeatureMatrix& x, const std::vector<double>& baseline, const char* call,
                      bool after_fit) const;

  ModelOptions options_;
  std::vector<Booster> members_;  // empty: untrained
  double best_throughput_ = 0;
  bool with_baseline_ = false;
};

struct ValidityOptions {
  int rounds = 100;
  uint64_t seed = 0;
  int threads = 1;
  int min_per_kind = 8;  // examples a failure kind needs before it is predicted
};

class ValidityModel {
 public:
  explicit ValidityModel(ValidityOptions options = {});
  // Every labelled outcome: kOk for a successful run, the failure status otherwise.
  void fit(const FeatureMatrix& x, const std::vector<Status>& outcome);
  // P(valid) per row. Untrained (or only one class seen): the share of valid outcomes seen, or
  // 1 when nothing has been seen.
  std::vector<double> p_valid(const FeatureMatrix& x) const;
  // The most likely failure status per row (nullopt when too few failures of any kind were seen).
  std::vector<std::optional<Status>> likely_failure(const FeatureMatrix& x) const;
  bool trained() const;

 private:
  ValidityOptions options_;
  Booster binary_, kinds_;
  std::vector<Status> kind_of_class_;
  double prior_valid_ = 1;
};

// Error of predictions against truth (root mean square).
double rmse(const std::vector<double>& predicted, const std::vector<double>& truth);

}  // namespace ml2
