#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include "ml2tuner/model.h"
#include "util/random.h"

namespace ml2 {
namespace {

// Knob-like features: each column takes one of 16 levels in [0, 1).
FeatureMatrix random_configs(size_t rows, size_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  FeatureMatrix x(rows, cols);
  for (float& v : x.values) v = static_cast<float>(std::floor(uniform01(rng) * 16) / 16);
  return x;
}

// A synthetic latency surface (ms): a valley in x0, an interaction, a linear term; 1 to ~6 ms.
double latency_of(const float* r) {
  return 1.0 + 6.0 * (r[0] - 0.3) * (r[0] - 0.3) + 2.0 * r[1] * r[2] + 0.5 * r[3];
}

std::vector<double> latencies(const FeatureMatrix& x) {
  std::vector<double> l(x.rows);
  for (size_t i = 0; i < x.rows; ++i) l[i] = latency_of(x.row(i));
  return l;
}

// Indices of the k largest values.
std::set<size_t> top_k(const std::vector<double>& v, size_t k) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] > v[b]; });
  return std::set<size_t>(idx.begin(), idx.begin() + static_cast<long>(k));
}

size_t overlap(const std::set<size_t>& a, const std::set<size_t>& b) {
  size_t n = 0;
  for (size_t i : a) n += b.count(i);
  return n;
}

// Kendall's tau-a.
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = i + 1; j < a.size(); ++j) {
      const double s = (a[i] - a[j]) * (b[i] - b[j]);
      sum += s > 0 ? 1 : s < 0 ? -1 : 0;
    }
  }
  return sum / (static_cast<double>(a.size()) * (a.size() - 1) / 2);
}

double stddev(const std::vector<double>& v) {
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  double sq = 0;
  for (double x : v) sq += (x - mean) * (x - mean);
  return std::sqrt(sq / v.size());
}

class PerformanceModelLabels : public ::testing::TestWithParam<PerfLabel> {};

TEST_P(PerformanceModelLabels, RanksFasterConfigurationsHigher) {
  // Top-10 overlap between the predicted and the true fastest held-out points, averaged over
  // three data sets (one data set's overlap swings by a few points, rank:pairwise's most: it
  // samples one pair per row and round and does not weight the top of the order).
  ModelOptions o;
  o.label = GetParam();
  double mean_overlap = 0, mean_tau = 0;
  for (uint64_t seed : {1, 3, 5}) {
    const FeatureMatrix train = random_configs(500, 8, seed),
                        test = random_configs(400, 8, seed + 1);
    PerformanceModel m(o);
    m.fit(train, latencies(train));
    ASSERT_TRUE(m.trained());
    std::vector<double> speed = latencies(test);
    for (double& l : speed) l = -l;
    const std::vector<double> score = m.score(test);
    mean_overlap += overlap(top_k(score, 10), top_k(speed, 10)) / 3.0;
    mean_tau += kendall_tau(score, speed) / 3.0;
  }
  EXPECT_GE(mean_overlap, GetParam() == PerfLabel::kRank ? 4.0 : 7.0) << to_string(GetParam());
  EXPECT_GT(mean_tau, 0.8) << to_string(GetParam());
}

INSTANTIATE_TEST_SUITE_P(PerformanceModel, PerformanceModelLabels,
                         ::testing::Values(PerfLabel::kThroughput, PerfLabel::kLogLatency,
                                           PerfLabel::kRank),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(PerformanceModel, PredictsLatencyForThroughputAndLogLabels) {
  const FeatureMatrix train = random_configs(500, 8, 3), test = random_configs(300, 8, 4);
  const std::vector<double> truth = latencies(test);
  for (PerfLabel label : {PerfLabel::kThroughput, PerfLabel::kLogLatency}) {
    ModelOptions o;
    o.label = label;
    PerformanceModel m(o);
    m.fit(train, latencies(train));
    const std::vector<double> predicted = m.predict_latency_ms(test);
    ASSERT_EQ(predicted.size(), test.rows);
    EXPECT_LT(rmse(predicted, truth), 0.25 * stddev(truth)) << to_string(label);
  }
}

// Latency = baseline x the synthetic surface, with a baseline that spans a factor of ~40 and is
// hard to learn from the features alone (an exponential of a product): given the baseline, the
// model only has the surface left to learn.
std::vector<double> baseline_of(const FeatureMatrix& x) {
  std::vector<double> b(x.rows);
  for (size_t i = 0; i < x.rows; ++i) {
    const float* r = x.row(i);
    b[i] = std::exp(3.0 * r[4] + 2.0 * r[5] * r[6]);
  }
  return b;
}

TEST(PerformanceModel, LearnsRelativeToABaseline) {
  const FeatureMatrix train = random_configs(60, 8, 11), test = random_configs(400, 8, 12);
  auto scaled = [](const FeatureMatrix& x) {
    std::vector<double> l = latencies(x);
    const std::vector<double> b = baseline_of(x);
    for (size_t i = 0; i < l.size(); ++i) l[i] *= b[i];
    return l;
  };
  const std::vector<double> truth = scaled(test);
  std::vector<double> log_truth;
  for (double l : truth) log_truth.push_back(std::log(l));
  for (PerfLabel label : {PerfLabel::kThroughput, PerfLabel::kLogLatency}) {
    ModelOptions o;
    o.label = label;
    PerformanceModel with(o), without(o);
    with.fit(train, scaled(train), baseline_of(train));
    without.fit(train, scaled(train));
    auto log_error = [&](const std::vector<double>& predicted) {
      std::vector<double> lp;
      for (double p : predicted) lp.push_back(std::log(p));
      return rmse(lp, log_truth);
    };
    const double e_with = log_error(with.predict_latency_ms(test, baseline_of(test)));
    const double e_without = log_error(without.predict_latency_ms(test));
    EXPECT_LT(e_with, 0.5 * e_without) << to_string(label);
    // Scores order the latencies themselves, baseline included.
    std::vector<double> speed = truth;
    for (double& l : speed) l = -l;
    EXPECT_GT(kendall_tau(with.score(test, baseline_of(test)), speed), 0.85) << to_string(label);
  }
}

TEST(PerformanceModel, RefusesAMismatchedBaseline) {
  const FeatureMatrix x = random_configs(50, 8, 13);
  const std::vector<double> b = baseline_of(x);
  PerformanceModel with, without;
  with.fit(x, latencies(x), b);
  without.fit(x, latencies(x));
  EXPECT_THROW(with.score(x), std::invalid_argument);  // fitted with one, asked without
  EXPECT_THROW(without.score(x, b), std::invalid_argument);
  EXPECT_THROW(with.predict_latency_ms(x), std::invalid_argument);
  EXPECT_THROW(with.score(x, std::vector<double>(3, 1.0)), std::invalid_argument);  // size
  std::vector<double> bad = b;
  bad[7] = 0;
  EXPECT_THROW(PerformanceModel().fit(x, latencies(x), bad), std::invalid_argument);
  ModelOptions rank;
  rank.label = PerfLabel::kRank;
  EXPECT_THROW(PerformanceModel(rank).fit(x, latencies(x), b), std::invalid_argument);
}

TEST(PerformanceModel, RankModelHasNoLatency) {
  const FeatureMatrix x = random_configs(50, 4, 5);
  ModelOptions o;
  o.label = PerfLabel::kRank;
  PerformanceModel m(o);
  m.fit(x, latencies(x));
  EXPECT_THROW(m.predict_latency_ms(x), std::logic_error);
}

TEST(PerformanceModel, FewerThanTwoRowsLeaveItUntrained) {
  const FeatureMatrix one = random_configs(1, 4, 6), many = random_configs(5, 4, 7);
  PerformanceModel m;
  m.fit(one, {2.0});
  EXPECT_FALSE(m.trained());
  EXPECT_EQ(m.score(many), std::vector<double>(5, 0.0));
  EXPECT_THROW(m.predict_latency_ms(many), std::logic_error);
  // A refit on too little forgets the previous model.
  m.fit(many, latencies(many));
  EXPECT_TRUE(m.trained());
  m.fit(FeatureMatrix(0, 4), {});
  EXPECT_FALSE(m.trained());
}

TEST(PerformanceModel, RejectsBadLatencies) {
  const FeatureMatrix x = random_configs(3, 2, 8);
  PerformanceModel m;
  EXPECT_THROW(m.fit(x, {1.0, 2.0}), std::invalid_argument);
  EXPECT_THROW(m.fit(x, {1.0, 0.0, 2.0}), std::invalid_argument);
  EXPECT_THROW(m.fit(x, {1.0, -1.0, 2.0}), std::invalid_argument);
  EXPECT_THROW(m.fit(x, {1.0, std::nan(""), 2.0}), std::invalid_argument);
  ModelOptions log;
  log.label = PerfLabel::kLogLatency;
  EXPECT_THROW(PerformanceModel(log).fit(x, {1.0, HUGE_VAL, 2.0}), std::invalid_argument);
}

TEST(PerformanceModel, ThroughputKeepsFailedConfigurationsAsZero) {
  // AutoTVM keeps failed configurations with label 0: an infinite latency.
  FeatureMatrix x = random_configs(300, 4, 9);
  std::vector<double> l = latencies(x);
  for (size_t i = 0; i < x.rows; ++i) {
    if (x.row(i)[0] >= 0.75f) l[i] = std::numeric_limits<double>::infinity();
  }
  PerformanceModel m;
  m.fit(x, l);
  ASSERT_TRUE(m.trained());
  const std::vector<double> s = m.score(x);
  for (size_t i = 0; i < x.rows; ++i) {
    if (std::isinf(l[i])) {
      EXPECT_LT(s[i], 0.1);
    }
  }
}

TEST(PerformanceModel, SameSeedAndThreadsAreReproducible) {
  const FeatureMatrix train = random_configs(400, 8, 10), test = random_configs(1000, 8, 11);
  ModelOptions o;
  o.threads = 2;
  o.seed = 7;
  PerformanceModel a(o), b(o);
  a.fit(train, latencies(train));
  b.fit(train, latencies(train));
  EXPECT_EQ(a.score(test), b.score(test));
}

// From a few dozen rows, the mean of a bagged ensemble ranks unseen configurations better than one
// booster: summed over thirty training sets of 60 rows, its top-10 overlap with the true fastest is
// higher (154 against 131).
// And it is deterministic: the same seed gives the same ensemble.
TEST(PerformanceModel, ABaggedEnsembleRanksBetterFromFewRows) {
  const FeatureMatrix test = random_configs(400, 8, 99);
  std::vector<double> speed = latencies(test);
  for (double& l : speed) l = -l;
  ModelOptions single, bagged;
  single.label = bagged.label = PerfLabel::kLogLatency;
  bagged.ensemble = 5;
  bagged.subsample = 0.7;
  size_t single_overlap = 0, bagged_overlap = 0;
  for (uint64_t seed = 20; seed < 50; ++seed) {
    const FeatureMatrix train = random_configs(60, 8, seed);
    PerformanceModel one(single), many(bagged), again(bagged);
    one.fit(train, latencies(train));
    many.fit(train, latencies(train));
    again.fit(train, latencies(train));
    single_overlap += overlap(top_k(one.score(test), 10), top_k(speed, 10));
    bagged_overlap += overlap(top_k(many.score(test), 10), top_k(speed, 10));
    EXPECT_EQ(many.score(test), again.score(test));
    EXPECT_NE(many.score(test), one.score(test));
  }
  EXPECT_GT(bagged_overlap, single_overlap)
      << "single " << single_overlap << ", bagged " << bagged_overlap;
}

TEST(PerformanceModel, RejectsABadEnsemble) {
  ModelOptions o;
  o.ensemble = 0;
  EXPECT_THROW(PerformanceModel{o}, std::invalid_argument);
  o.ensemble = 3;
  o.subsample = 0;
  EXPECT_THROW(PerformanceModel{o}, std::invalid_argument);
  o.subsample = 1.5;
  EXPECT_THROW(PerformanceModel{o}, std::invalid_argument);
}

TEST(PerformanceModel, LabelNamesRoundTrip) {
  for (PerfLabel l : {PerfLabel::kThroughput, PerfLabel::kLogLatency, PerfLabel::kRank}) {
    EXPECT_EQ(perf_label_from_string(to_string(l)), l);
  }
  EXPECT_STREQ(to_string(PerfLabel::kLogLatency), "log_latency");
  EXPECT_THROW(perf_label_from_string("latency"), std::invalid_argument);
}

// ---- ValidityModel ----

// Invalid when x0 > x1: compile errors where x0 > 0.8 (checked first), runtime errors where
// x1 > 0.8, wrong answers elsewhere in the invalid region.
Status outcome_of(const float* r) {
  if (r[0] <= r[1]) return Status::kOk;
  if (r[0] > 0.8f) return Status::kCompileError;
  if (r[1] > 0.8f) return Status::kRuntimeError;
  return Status::kWrongAnswer;
}

std::vector<Status> outcomes(const FeatureMatrix& x) {
  std::vector<Status> s(x.rows);
  for (size_t i = 0; i < x.rows; ++i) s[i] = outcome_of(x.row(i));
  return s;
}

TEST(ValidityModel, LearnsTheValidRegion) {
  const FeatureMatrix train = random_configs(600, 4, 20), test = random_configs(400, 4, 21);
  ValidityModel m;
  m.fit(train, outcomes(train));
  ASSERT_TRUE(m.trained());
  const std::vector<double> p = m.p_valid(test);
  const std::vector<Status> truth = outcomes(test);
  double tp = 0, fp = 0, fn = 0;  // "invalid" is the positive class
  for (size_t i = 0; i < test.rows; ++i) {
    EXPECT_GE(p[i], 0.0);
    EXPECT_LE(p[i], 1.0);
    const bool predicted_invalid = p[i] < 0.5, invalid = truth[i] != Status::kOk;
    tp += predicted_invalid && invalid;
    fp += predicted_invalid && !invalid;
    fn += !predicted_invalid && invalid;
  }
  EXPECT_GT(tp / (tp + fp), 0.9) << "precision";
  EXPECT_GT(tp / (tp + fn), 0.9) << "recall";
}

TEST(ValidityModel, PredictsTheFailureKind) {
  // Without the wrong-answer band: every failure is a compile error (x0 > 0.8) or a runtime
  // error (x1 > 0.8, x0 <= 0.8).
  const FeatureMatrix train = random_configs(800, 3, 22), test = random_configs(400, 3, 23);
  auto kind = [](const float* r) {
    if (r[0] > 0.8f) return Status::kCompileError;
    if (r[1] > 0.8f) return Status::kRuntimeError;
    return Status::kOk;
  };
  std::vector<Status> y(train.rows);
  for (size_t i = 0; i < train.rows; ++i) y[i] = kind(train.row(i));
  ValidityModel m;
  m.fit(train, y);
  const std::vector<std::optional<Status>> k = m.likely_failure(test);
  ASSERT_EQ(k.size(), test.rows);
  int failures = 0, correct = 0;
  for (size_t i = 0; i < test.rows; ++i) {
    ASSERT_TRUE(k[i].has_value());
    const Status truth = kind(test.row(i));
    if (truth == Status::kOk) continue;
    ++failures;
    correct += *k[i] == truth;
  }
  ASSERT_GT(failures, 50);
  EXPECT_GT(correct, 0.9 * failures);
}

TEST(ValidityModel, StaysAtThePriorWithOneClass) {
  const FeatureMatrix x = random_configs(20, 3, 24), q = random_configs(4, 3, 25);
  ValidityModel m;
  EXPECT_EQ(m.p_valid(q), std::vector<double>(4, 1.0));  // nothing seen
  m.fit(x, std::vector<Status>(20, Status::kOk));
  EXPECT_FALSE(m.trained());
  EXPECT_EQ(m.p_valid(q), std::vector<double>(4, 1.0));
  m.fit(x, std::vector<Status>(20, Status::kCrash));
  EXPECT_FALSE(m.trained());
  EXPECT_EQ(m.p_valid(q), std::vector<double>(4, 0.0));
  // Only failures, all of one kind with enough examples: that kind everywhere.
  EXPECT_EQ(m.likely_failure(q), std::vector<std::optional<Status>>(4, Status::kCrash));
  m.fit(FeatureMatrix(0, 3), {});
  EXPECT_EQ(m.p_valid(q), std::vector<double>(4, 1.0));
}

TEST(ValidityModel, TooFewExamplesGiveNoKind) {
  const FeatureMatrix x = random_configs(40, 3, 26);
  std::vector<Status> y(40, Status::kOk);
  for (size_t i = 0; i < 7; ++i) y[i] = Status::kCompileError;  // below min_per_kind = 8
  for (size_t i = 7; i < 12; ++i) y[i] = Status::kRunTimeout;   // below too
  ValidityModel m;
  m.fit(x, y);
  EXPECT_TRUE(m.trained());  // valid and invalid both seen
  EXPECT_EQ(m.likely_failure(x), std::vector<std::optional<Status>>(40, std::nullopt));

  // One kind reaching the threshold: answered everywhere, no kind model needed.
  y[12] = Status::kCompileError;
  m.fit(x, y);
  EXPECT_EQ(m.likely_failure(x), std::vector<std::optional<Status>>(40, Status::kCompileError));
}

TEST(ValidityModel, RejectsMismatchedSizes) {
  ValidityModel m;
  EXPECT_THROW(m.fit(random_configs(3, 2, 27), {Status::kOk}), std::invalid_argument);
}

TEST(Rmse, KnownAnswer) {
  EXPECT_DOUBLE_EQ(rmse({1, 2, 3}, {1, 2, 3}), 0.0);
  EXPECT_DOUBLE_EQ(rmse({0, 0}, {3, 4}), std::sqrt(12.5));
  EXPECT_THROW(rmse({1}, {1, 2}), std::invalid_argument);
  EXPECT_TRUE(std::isnan(rmse({}, {})));
}

}  // namespace
}  // namespace ml2
