#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "ml2tuner/model.h"
#include "util/random.h"

namespace ml2 {
namespace {

FeatureMatrix random_matrix(size_t rows, size_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  FeatureMatrix x(rows, cols);
  for (float& v : x.values) v = static_cast<float>(uniform01(rng));
  return x;
}

template <typename F>
std::vector<float> labels(const FeatureMatrix& x, F f) {
  std::vector<float> y(x.rows);
  for (size_t i = 0; i < x.rows; ++i) y[i] = static_cast<float>(f(x.row(i)));
  return y;
}

// Kendall's tau-a between two sequences (pairs tied in either count as discordant-free zeros).
double kendall_tau(const std::vector<float>& a, const std::vector<float>& b) {
  double concordant = 0, discordant = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = i + 1; j < a.size(); ++j) {
      const double s = (a[i] - a[j]) * (b[i] - b[j]);
      if (s > 0) ++concordant;
      if (s < 0) ++discordant;
    }
  }
  const double pairs = static_cast<double>(a.size()) * (a.size() - 1) / 2;
  return (concordant - discordant) / pairs;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

BoosterOptions with_objective(const std::string& objective, int rounds = 50) {
  BoosterOptions o;
  o.objective = objective;
  o.rounds = rounds;
  return o;
}

double linear(const float* r) { return 2.0 * r[0] - r[1]; }

TEST(Booster, RegressionLearnsLinearFunction) {
  const FeatureMatrix train = random_matrix(800, 4, 1), test = random_matrix(200, 4, 2);
  const Booster b =
      Booster::train(train, labels(train, linear), with_objective("reg:squarederror", 100));
  ASSERT_TRUE(b.trained());
  const std::vector<float> p = b.predict(test);
  ASSERT_EQ(p.size(), test.rows);
  double sq = 0;
  for (size_t i = 0; i < test.rows; ++i) sq += std::pow(p[i] - linear(test.row(i)), 2);
  // y spans [-1, 2] (standard deviation ~0.5); depth-3 trees approximate the plane closely.
  EXPECT_LT(std::sqrt(sq / test.rows), 0.1);
}

TEST(Booster, BinaryClassificationSeparatesLinearBoundary) {
  auto cls = [](const float* r) { return r[0] + r[1] > 1.0f ? 1.0 : 0.0; };
  const FeatureMatrix train = random_matrix(800, 3, 3), test = random_matrix(300, 3, 4);
  const Booster b = Booster::train(train, labels(train, cls), with_objective("binary:logistic"));
  const std::vector<float> p = b.predict(test);
  ASSERT_EQ(p.size(), test.rows);
  int correct = 0;
  for (size_t i = 0; i < test.rows; ++i) {
    EXPECT_GE(p[i], 0.0f);
    EXPECT_LE(p[i], 1.0f);
    correct += (p[i] > 0.5f) == (cls(test.row(i)) > 0.5);
  }
  EXPECT_GT(correct, 0.9 * test.rows);
}

TEST(Booster, MultiSoftprobGivesOneDistributionPerRow) {
  auto cls = [](const float* r) { return std::floor(std::min(r[0] * 3.0f, 2.0f)); };
  const FeatureMatrix train = random_matrix(600, 3, 5), test = random_matrix(300, 3, 6);
  BoosterOptions o = with_objective("multi:softprob");
  o.num_class = 3;
  const Booster b = Booster::train(train, labels(train, cls), o);
  const std::vector<float> p = b.predict(test);
  ASSERT_EQ(p.size(), test.rows * 3);
  int correct = 0;
  for (size_t i = 0; i < test.rows; ++i) {
    const float* q = p.data() + 3 * i;
    EXPECT_NEAR(q[0] + q[1] + q[2], 1.0, 1e-5);
    const int argmax = static_cast<int>(std::max_element(q, q + 3) - q);
    correct += argmax == static_cast<int>(cls(test.row(i)));
  }
  EXPECT_GT(correct, 0.9 * test.rows);
}

TEST(Booster, RankPairwiseOrdersMonotoneFunction) {
  auto f = [](const float* r) { return std::exp(2.0 * r[0]) + 0.5 * r[1] * r[1]; };
  const FeatureMatrix train = random_matrix(500, 4, 7), test = random_matrix(150, 4, 8);
  const Booster b = Booster::train(train, labels(train, f), with_objective("rank:pairwise", 100));
  const std::vector<float> p = b.predict(test);
  EXPECT_GT(kendall_tau(p, labels(test, f)), 0.8);
  // Explicit groups give the same model as the implicit single group.
  const Booster g = Booster::train(train, labels(train, f), with_objective("rank:pairwise", 100),
                                   {static_cast<unsigned>(train.rows)});
  EXPECT_TRUE(bitwise_equal(g.predict(test), p));
}

// base_score is the prediction before the first tree: a label equal to it leaves nothing to
// learn, so one round predicts it exactly; from XGBoost's default (0.5) one round of eta 0.3 only
// moves part of the way.
TEST(Booster, BaseScoreIsThePredictionBeforeTheFirstTree) {
  const FeatureMatrix x = random_matrix(64, 3, 7);
  const std::vector<float> y(64, 3.0f);
  BoosterOptions o;
  o.rounds = 1;
  o.base_score = 3.0;
  for (float p : Booster::train(x, y, o).predict(x)) EXPECT_FLOAT_EQ(p, 3.0f);
  o.base_score = 0.0;
  for (float p : Booster::train(x, y, o).predict(x)) EXPECT_NEAR(p, 0.3 * 3.0 * 64 / 65, 1e-5);
  o.base_score.reset();
  for (float p : Booster::train(x, y, o).predict(x))
    EXPECT_NEAR(p, 0.5 + 0.3 * 2.5 * 64 / 65, 1e-5);
}

TEST(Booster, AfterRoundSeesEachRoundAndCanStopTraining) {
  const FeatureMatrix train = random_matrix(300, 3, 18), test = random_matrix(100, 3, 19);
  const std::vector<float> y = labels(train, linear);
  std::vector<int> rounds;
  std::vector<float> at_round_6;
  const Booster stopped = Booster::train(train, y, with_objective("reg:squarederror", 50), {},
                                         [&](int round, const Booster& b) {
                                           rounds.push_back(round);
                                           if (round == 6) at_round_6 = b.predict(test);
                                           return round < 6;
                                         });
  EXPECT_EQ(rounds, (std::vector<int>{0, 1, 2, 3, 4, 5, 6}));
  // Stopping after round 6 leaves the 7-round model.
  const Booster seven = Booster::train(train, y, with_objective("reg:squarederror", 7));
  EXPECT_TRUE(bitwise_equal(stopped.predict(test), seven.predict(test)));
  EXPECT_TRUE(bitwise_equal(at_round_6, seven.predict(test)));
}

TEST(Booster, SaveLoadGivesIdenticalPredictions) {
  const FeatureMatrix train = random_matrix(400, 5, 9), test = random_matrix(300, 5, 10);
  const Booster b =
      Booster::train(train, labels(train, linear), with_objective("reg:squarederror"));
  const std::string bytes = b.save();
  ASSERT_FALSE(bytes.empty());
  const Booster one = Booster::load(bytes);
  const Booster four = Booster::load(bytes, 4);
  EXPECT_TRUE(one.trained());
  EXPECT_TRUE(bitwise_equal(one.predict(test), b.predict(test)));
  EXPECT_TRUE(bitwise_equal(four.predict(test), b.predict(test)));
  EXPECT_EQ(one.save(), bytes);
}

TEST(Booster, SameSeedAndThreadsGiveBitwiseIdenticalPredictions) {
  const FeatureMatrix train = random_matrix(1000, 20, 11), test = random_matrix(2000, 20, 12);
  const std::vector<float> y =
      labels(train, [](const float* r) { return std::sin(6 * r[0]) + r[1] * r[2] - 0.5 * r[3]; });
  for (int threads : {1, 4}) {
    BoosterOptions o = with_objective("reg:squarederror");
    o.subsample = 0.7;  // makes the seed matter
    o.seed = 42;
    o.threads = threads;
    const std::vector<float> a = Booster::train(train, y, o).predict(test);
    const std::vector<float> b = Booster::train(train, y, o).predict(test);
    EXPECT_TRUE(bitwise_equal(a, b)) << threads << " threads";
    o.seed = 43;
    EXPECT_FALSE(bitwise_equal(Booster::train(train, y, o).predict(test), a))
        << "the seed is not passed on";
  }
}

TEST(Booster, MissingValuesMatchXGBoostDMatrixPrediction) {
  FeatureMatrix train = random_matrix(500, 4, 13), test = random_matrix(200, 4, 14);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (size_t i = 0; i < train.values.size(); i += 7) train.values[i] = nan;
  for (size_t i = 0; i < test.values.size(); i += 5) test.values[i] = nan;
  std::vector<float> y(train.rows);
  for (size_t i = 0; i < train.rows; ++i) {
    y[i] = std::isnan(train.row(i)[0]) ? 3.0f : train.row(i)[0];
  }
  const Booster b = Booster::train(train, y, with_objective("reg:squarederror"));
  const std::vector<float> p = b.predict(test);
  for (size_t i = 0; i < test.rows; ++i) {
    if (std::isnan(test.row(i)[0])) {
      EXPECT_NEAR(p[i], 3.0, 0.1);
    }
  }

  // The same model through a DMatrix (XGBoost's usual path) gives the same values.
  const std::string bytes = b.save();
  BoosterHandle h = nullptr;
  ASSERT_EQ(XGBoosterCreate(nullptr, 0, &h), 0);
  ASSERT_EQ(XGBoosterLoadModelFromBuffer(h, bytes.data(), bytes.size()), 0);
  DMatrixHandle d = nullptr;
  ASSERT_EQ(XGDMatrixCreateFromMat(test.values.data(), test.rows, test.cols, nan, &d), 0);
  bst_ulong len = 0;
  const float* out = nullptr;
  ASSERT_EQ(XGBoosterPredict(h, d, 0, 0, 0, &len, &out), 0);
  const std::vector<float> via_dmatrix(out, out + len);
  XGDMatrixFree(d);
  XGBoosterFree(h);
  EXPECT_TRUE(bitwise_equal(p, via_dmatrix));
}

TEST(Booster, BadSizesThrowInvalidArgument) {
  const FeatureMatrix x = random_matrix(10, 3, 15);
  const std::vector<float> y(10, 1.0f);
  const BoosterOptions o = with_objective("reg:squarederror", 2);
  EXPECT_THROW(Booster::train(x, std::vector<float>(9, 1.0f), o), std::invalid_argument);
  EXPECT_THROW(Booster::train(FeatureMatrix(10, 0), y, o), std::invalid_argument);
  EXPECT_THROW(Booster::train(FeatureMatrix(0, 3), {}, o), std::invalid_argument);
  FeatureMatrix short_values = x;
  short_values.values.pop_back();
  EXPECT_THROW(Booster::train(short_values, y, o), std::invalid_argument);
  EXPECT_THROW(Booster::train(x, y, with_objective("rank:pairwise", 2), {4, 5}),
               std::invalid_argument);
  EXPECT_THROW(Booster::train(x, y, with_objective("multi:softprob", 2)), std::invalid_argument);
  BoosterOptions bad = o;
  bad.rounds = 0;
  EXPECT_THROW(Booster::train(x, y, bad), std::invalid_argument);
  bad = o;
  bad.threads = 0;
  EXPECT_THROW(Booster::train(x, y, bad), std::invalid_argument);

  const Booster b = Booster::train(x, y, o);
  EXPECT_THROW(b.predict(FeatureMatrix(4, 2)), std::invalid_argument);
  EXPECT_TRUE(b.predict(FeatureMatrix(0, 3)).empty());
}

TEST(Booster, XGBoostErrorsNameTheCallAndCarryXGBoostsMessage) {
  const FeatureMatrix x = random_matrix(20, 2, 16);
  const std::vector<float> y(20, 1.0f);
  auto message_of = [&](const BoosterOptions& o) -> std::string {
    try {
      Booster::train(x, y, o);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "(no exception)";
  };
  BoosterOptions o = with_objective("reg:squarederror", 2);
  o.max_depth = -5;
  std::string m = message_of(o);
  EXPECT_EQ(m.rfind("XGBoosterUpdateOneIter failed: ", 0), 0u) << m;
  EXPECT_NE(m.find("max_depth"), std::string::npos) << m;

  m = message_of(with_objective("nonsense", 2));
  EXPECT_EQ(m.rfind("XGBoosterUpdateOneIter failed: ", 0), 0u) << m;
  EXPECT_NE(m.find("nonsense"), std::string::npos) << m;

  try {
    Booster::load("not a model");
    ADD_FAILURE() << "loading garbage did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("XGBoosterLoadModelFromBuffer failed: ", 0), 0u)
        << e.what();
  }
}

TEST(Booster, UntrainedBoosterRefusesToPredictOrSave) {
  const Booster b;
  EXPECT_FALSE(b.trained());
  EXPECT_THROW(b.predict(FeatureMatrix(1, 1)), std::logic_error);
  EXPECT_THROW(b.save(), std::logic_error);
}

TEST(Booster, MovesTransferTheModel) {
  const FeatureMatrix x = random_matrix(50, 2, 17);
  Booster a = Booster::train(x, labels(x, linear), with_objective("reg:squarederror", 5));
  const std::vector<float> p = a.predict(x);
  Booster b = std::move(a);
  EXPECT_TRUE(bitwise_equal(b.predict(x), p));
  Booster c;
  c = std::move(b);
  EXPECT_TRUE(bitwise_equal(c.predict(x), p));
}

}  // namespace
}  // namespace ml2
