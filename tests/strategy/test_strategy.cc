#include "ml2tuner/strategy.h"

#include <gtest/gtest.h>

#include <set>

namespace ml2 {
namespace {

Space small_space() {
  SpaceBuilder b;
  b.add(Knob::Range("x", 0, 9));
  b.add(Knob::Range("y", 0, 9), {[](const Assignment& a) { return (a[0] + a[1]) % 3 != 0; }});
  return std::move(b).build();
}

std::vector<uint64_t> drain(Strategy& s, size_t batch, size_t limit = 1u << 20) {
  std::vector<uint64_t> all;
  while (all.size() < limit) {
    Proposal p = s.ask(batch);
    if (p.configs.empty()) break;
    EXPECT_TRUE(p.committed);
    EXPECT_LE(p.configs.size(), batch);
    std::vector<Outcome> told;
    for (uint64_t i : p.configs) {
      all.push_back(i);
      Outcome o;
      o.index = i;
      o.trial = true;
      told.push_back(o);
    }
    s.tell(told);
  }
  return all;
}

TEST(RandomStrategy, CoversTheSpaceWithoutReplacement) {
  Space space = small_space();
  auto s = make_strategy("random", space, {42});
  std::vector<uint64_t> all = drain(*s, 7);
  EXPECT_EQ(all.size(), space.size());
  EXPECT_EQ(std::set<uint64_t>(all.begin(), all.end()).size(), space.size());
}

TEST(RandomStrategy, SameSeedSameOrderOtherSeedOtherOrder) {
  Space space = small_space();
  auto a = make_strategy("random", space, {1});
  auto b = make_strategy("random", space, {1});
  auto c = make_strategy("random", space, {2});
  std::vector<uint64_t> ra = drain(*a, 5), rb = drain(*b, 13), rc = drain(*c, 5);
  EXPECT_EQ(ra, rb);  // batch size does not change the order
  EXPECT_NE(ra, rc);
}

TEST(RandomStrategy, ResumedSessionContinuesTheSameSequence) {
  Space space = small_space();
  auto full = make_strategy("random", space, {9});
  std::vector<uint64_t> whole = drain(*full, 8);
  // A new strategy told about the first 20 measurements proposes exactly what follows them.
  auto resumed = make_strategy("random", space, {9});
  std::vector<Outcome> history;
  for (size_t i = 0; i < 20; ++i) {
    Outcome o;
    o.index = whole[i];
    o.trial = true;
    history.push_back(o);
  }
  resumed->tell(history);
  std::vector<uint64_t> rest = drain(*resumed, 8);
  ASSERT_EQ(rest.size(), whole.size() - 20);
  EXPECT_TRUE(std::equal(rest.begin(), rest.end(), whole.begin() + 20));
}

TEST(RandomStrategy, ProbesAreNotMeasured) {
  Space space = small_space();
  auto s = make_strategy("random", space, {3});
  Proposal p = s->ask(4);
  std::vector<Outcome> told;
  for (uint64_t i : p.configs) {
    Outcome o;
    o.index = i;
    o.trial = false;  // only built: may be proposed again
    told.push_back(o);
  }
  s->tell(told);
  std::vector<uint64_t> rest = drain(*s, 100);
  EXPECT_EQ(rest.size(), space.size() - 4);  // the permutation already moved past them
}

TEST(GridStrategy, VisitsIndicesInOrderSkippingMeasured) {
  Space space = small_space();
  auto s = make_strategy("grid", space, {0});
  std::vector<Outcome> history(1);
  history[0].index = 2;
  history[0].trial = true;
  s->tell(history);
  std::vector<uint64_t> all = drain(*s, 10);
  ASSERT_EQ(all.size(), space.size() - 1);
  EXPECT_EQ(all[0], 0u);
  EXPECT_EQ(all[1], 1u);
  EXPECT_EQ(all[2], 3u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
}

TEST(StrategyRegistry, UnknownNameListsKnownOnes) {
  Space space = small_space();
  try {
    make_strategy("anneal", space, {0});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 "unknown tuner 'anneal'; known tuners: random, grid, xgb, ga, ml2, p, pv, pa");
  }
}

TEST(StrategyBase, ChooseDefaultsToTheFirstN) {
  Space space = small_space();
  auto s = make_strategy("random", space, {0});
  std::vector<Outcome> built(5);
  EXPECT_EQ(s->choose(built, 3), (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(s->choose(built, 9).size(), 5u);
}

}  // namespace
}  // namespace ml2
