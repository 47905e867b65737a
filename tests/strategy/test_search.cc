#include "strategy/search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "ml2tuner/model.h"
#include "strategy/grid_space.h"

namespace ml2 {
namespace {

TEST(SpaceKnobs, MagnitudeMarksTheKnobsWhosePartsAreSizes) {
  using nlohmann::json;
  EXPECT_TRUE(Knob::Range("r", 1, 8).magnitude());
  EXPECT_TRUE(Knob::Values("v", {1, 16, 64}).magnitude());
  EXPECT_TRUE(Knob::Split("s", 12, 3).magnitude());
  EXPECT_TRUE(Knob::Recorded("block", {json(16), json(32)}).magnitude());
  EXPECT_FALSE(Knob::Values("offset", {-1, 0, 1}).magnitude());
  EXPECT_FALSE(Knob::Bool("b").magnitude());
  EXPECT_FALSE(Knob::Choice("order", {"xy", "yx"}).magnitude());
  EXPECT_FALSE(Knob::Recorded("mixed", {json(16), json(0.5)}).magnitude());
  EXPECT_FALSE(Knob::Recorded("names", {json("fast"), json("slow")}).magnitude());
}

TEST(Annealer, FindsTheTopOfAKnownScore) {
  Space space = grid_space(40, 40);
  auto score = [&](const std::vector<uint64_t>& pts) {
    std::vector<double> s;
    for (uint64_t p : pts) {
      Config c = space.at(p);
      const double x = c[0], y = c[1];
      s.push_back(-((x - 17) * (x - 17) + (y - 5) * (y - 5)));
    }
    return s;
  };
  Annealer a(space, {}, 3);
  const uint64_t best = *space.index_of(Config{17, 5});
  std::vector<uint64_t> top = a.find_maximums(score, 10, {});
  ASSERT_EQ(top.size(), 10u);
  EXPECT_EQ(top[0], best);
  // Excluded points are never returned.
  std::vector<uint64_t> again = a.find_maximums(score, 10, {best});
  EXPECT_EQ(std::count(again.begin(), again.end(), best), 0);
  EXPECT_EQ(std::set<uint64_t>(again.begin(), again.end()).size(), again.size());
}

TEST(Annealer, ScoresEachPointOncePerCall) {
  // 144 points for 128 walkers: the walk steps onto points it scored before over and over, and
  // within one call (the models fixed) each is scored once; the next call scores afresh.
  Space space = grid_space(12, 12);
  std::map<uint64_t, int> scored;
  auto score = [&](const std::vector<uint64_t>& pts) {
    std::vector<double> s;
    for (uint64_t p : pts) {
      ++scored[p];
      Config c = space.at(p);
      s.push_back(-std::abs(static_cast<double>(c[0]) - 7) -
                  std::abs(static_cast<double>(c[1]) - 2));
    }
    return s;
  };
  Annealer a(space, {}, 5);
  const std::vector<uint64_t> first = a.find_maximums(score, 8, {});
  EXPECT_EQ(first.front(), *space.index_of(Config{7, 2}));
  EXPECT_GT(scored.size(), 100u);
  for (const auto& [p, n] : scored) EXPECT_EQ(n, 1) << p;
  scored.clear();
  a.find_maximums(score, 8, {});
  EXPECT_FALSE(scored.empty());
  for (const auto& [p, n] : scored) EXPECT_EQ(n, 1) << p;
}

Space mixed_space() {
  SpaceBuilder b;
  b.add(Knob::Values("block_x", {1, 2, 4, 8}));
  b.add(Knob::Values("block_y", {1, 3}));
  b.add(Knob::Split("tile", 12, 2));
  b.add(Knob::Values("fixed", {15}));  // one value: no pairs
  b.add(Knob::Bool("unroll"));
  b.add(Knob::Choice("order", {"xy", "yx"}));
  return std::move(b).build();
}

TEST(Search, KnobPairsAddTheLogarithmOfEveryProductOfTwoSizes) {
  const Space space = mixed_space();
  std::vector<uint64_t> all(space.size());
  for (uint64_t i = 0; i < space.size(); ++i) all[i] = i;
  const FeatureMatrix knob = knob_features(space, all);
  const FeatureMatrix pairs = KnobPairs(space).extend(knob);
  // 7 knob features (the split has two); the sizes that vary are block_x, block_y and both tile
  // parts: 6 pairs.
  ASSERT_EQ(knob.cols, 7u);
  ASSERT_EQ(pairs.cols, 13u);
  ASSERT_EQ(pairs.rows, knob.rows);
  const std::vector<std::pair<size_t, size_t>> expected = {{0, 1}, {0, 2}, {0, 3},
                                                           {1, 2}, {1, 3}, {2, 3}};
  for (size_t r = 0; r < knob.rows; ++r) {
    for (size_t c = 0; c < knob.cols; ++c) EXPECT_EQ(pairs.row(r)[c], knob.row(r)[c]);
    for (size_t p = 0; p < expected.size(); ++p) {
      const auto [a, b] = expected[p];
      const double want = std::log2(1.0 + knob.row(r)[a]) + std::log2(1.0 + knob.row(r)[b]);
      EXPECT_NEAR(pairs.row(r)[knob.cols + p], want, 1e-5);
    }
  }
  // A space without two varying sizes gets no pairs.
  SpaceBuilder b;
  b.add(Knob::Values("x", {1, 2, 4}));
  b.add(Knob::Choice("order", {"a", "b"}));
  const Space small = std::move(b).build();
  EXPECT_EQ(KnobPairs(small).extend(knob_features(small, {0, 1})).cols, 2u);
  EXPECT_THROW(KnobPairs(small).extend(knob), std::invalid_argument);  // another space's rows
}

TEST(Search, KnobPairsLetAValidityModelLearnAProductLimit) {
  // Valid where x * y <= 96, a resource limit such as threads per block or a buffer's entries.
  SpaceBuilder b;
  b.add(Knob::Range("x", 1, 40));
  b.add(Knob::Range("y", 1, 40));
  const Space space = std::move(b).build();
  auto status = [&](uint64_t i) {
    const Config c = space.at(i);
    return (c[0] + 1) * (c[1] + 1) <= 96 ? Status::kOk : Status::kCompileError;
  };
  std::vector<uint64_t> all(space.size());
  for (uint64_t i = 0; i < space.size(); ++i) all[i] = i;
  const KnobPairs pairs(space);
  size_t wrong_knobs = 0, wrong_pairs = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint64_t> train;
    std::vector<Status> outcome;
    for (int k = 0; k < 150; ++k) {
      train.push_back(space.sample(rng));
      outcome.push_back(status(train.back()));
    }
    ValidityOptions o;
    o.seed = seed;
    ValidityModel with_knobs(o), with_pairs(o);
    with_knobs.fit(knob_features(space, train), outcome);
    with_pairs.fit(pairs.extend(knob_features(space, train)), outcome);
    const std::vector<double> pk = with_knobs.p_valid(knob_features(space, all));
    const std::vector<double> pp = with_pairs.p_valid(pairs.extend(knob_features(space, all)));
    for (uint64_t i : all) {
      const bool valid = status(i) == Status::kOk;
      wrong_knobs += (pk[i] >= 0.5) != valid;
      wrong_pairs += (pp[i] >= 0.5) != valid;
    }
  }
  EXPECT_LT(wrong_pairs * 2, wrong_knobs) << "knobs " << wrong_knobs << ", pairs " << wrong_pairs;
}

}  // namespace
}  // namespace ml2
