#include "ml2tuner/space.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace ml2 {
namespace {

using nlohmann::json;

// Brute force over the cross product, for checking the tree against.
std::vector<Config> cross_product(const std::vector<Knob>& knobs) {
  std::vector<Config> all{{}};
  for (const Knob& k : knobs) {
    std::vector<Config> next;
    for (const Config& c : all) {
      for (uint32_t e = 0; e < k.size(); ++e) {
        Config d = c;
        d.push_back(e);
        next.push_back(d);
      }
    }
    all = std::move(next);
  }
  return all;
}

Space conv_like_space() {
  SpaceBuilder b;
  b.add(Knob::Values("block_x", {1, 2, 4, 8, 16, 32, 64}));
  b.add(Knob::Values("block_y", {1, 2, 4, 8, 16, 32}),
        {[](const Assignment& a) { return a[0] * a[1] >= 16 && a[0] * a[1] <= 256; }});
  b.add(Knob::Split("tile", 12, 2));
  b.add(Knob::Bool("unroll"), {[](const Assignment& a) { return a.parts(2)[1] > 1 || a[3] == 0; }});
  b.add(Knob::Choice("order", {"xy", "yx"}));
  return std::move(b).build();
}

TEST(SpaceKnobs, Domains) {
  EXPECT_EQ(Knob::Range("r", 2, 10, 3).size(), 3u);  // 2, 5, 8
  EXPECT_EQ(Knob::Range("r", 2, 10, 3).value(2), 8);
  EXPECT_EQ(Knob::Bool("b").size(), 2u);
  // Ordered factorisations of 12 into 2 parts: 1x12 2x6 3x4 4x3 6x2 12x1.
  Knob s2 = Knob::Split("s", 12, 2);
  ASSERT_EQ(s2.size(), 6u);
  EXPECT_EQ(s2.parts(1)[0], 2);
  EXPECT_EQ(s2.parts(1)[1], 6);
  // 3-way factorisations of 8 = 2^3: C(3+2, 2) = 10.
  Knob s3 = Knob::Split("s", 8, 3);
  EXPECT_EQ(s3.size(), 10u);
  for (uint32_t e = 0; e < s3.size(); ++e) {
    auto p = s3.parts(e);
    EXPECT_EQ(p[0] * p[1] * p[2], 8);
  }
  // power2 of 10: inner 1, 2, 4, 8 with ceil outer 10, 5, 3, 2.
  Knob p2 = Knob::Split("p", 10, 2, Knob::SplitPolicy::kPower2);
  ASSERT_EQ(p2.size(), 4u);
  EXPECT_EQ(p2.parts(2)[0], 3);
  EXPECT_EQ(p2.parts(2)[1], 4);
  // Both: the 8 factorisations of 56 plus the power-of-two tiles 16 and 32 (outer 4 and 2).
  Knob both = Knob::Split("b", 56, 2, Knob::SplitPolicy::kFactorsOrPower2);
  ASSERT_EQ(both.size(), 10u);
  EXPECT_EQ(both.parts(8)[0], 4);
  EXPECT_EQ(both.parts(8)[1], 16);
  EXPECT_EQ(both.parts(9)[1], 32);
  EXPECT_THROW(Knob::Values("v", {1, 1}), std::invalid_argument);
  EXPECT_THROW(Knob::Range("v", 3, 1), std::invalid_argument);
  EXPECT_THROW(Knob::Choice("c", {}), std::invalid_argument);
}

TEST(SpaceKnobs, JsonValues) {
  Knob c = Knob::Choice("order", {"xy", "yx"});
  EXPECT_EQ(c.to_json(1), json("yx"));
  EXPECT_EQ(c.find(json("yx")), 1u);
  EXPECT_FALSE(c.find(json("zz")).has_value());
  Knob r = Knob::Recorded("r", {json(16), json(0.5), json("fast")});
  EXPECT_EQ(r.value(0), 16);
  EXPECT_EQ(r.value(1), 1);  // non-integers are numbered by position
  EXPECT_EQ(r.find(json(16.0)), 0u);
  EXPECT_EQ(r.find(json("fast")), 2u);
  EXPECT_EQ(r.to_json(1), json(0.5));
  Knob s = Knob::Split("s", 12, 2);
  EXPECT_EQ(s.find(json::array({3, 4})), 2u);
  EXPECT_FALSE(s.find(json::array({5, 4})).has_value());
  Knob b = Knob::Bool("b");
  EXPECT_EQ(b.find(json(true)), 1u);
  EXPECT_EQ(b.find(json(0)), 0u);
}

TEST(Space, TreeMatchesFilteredCrossProduct) {
  Space s = conv_like_space();
  // Count the same space by filtering the cross product with the same predicates.
  uint64_t expected = 0;
  std::vector<Config> valid;
  for (const Config& c : cross_product(s.knobs())) {
    Assignment a(s.knobs(), c.data(), c.size() - 1);
    bool ok = a[0] * a[1] >= 16 && a[0] * a[1] <= 256 && (a.parts(2)[1] > 1 || a[3] == 0);
    if (ok) {
      ++expected;
      valid.push_back(c);
    }
  }
  ASSERT_EQ(s.size(), expected);
  // Indices follow the lexicographic order of entry indices.
  for (uint64_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(s.at(i), valid[i]);
    EXPECT_EQ(s.index_of(valid[i]), i);
  }
}

TEST(Space, RejectsInvalidConfigurations) {
  Space s = conv_like_space();
  Config bad = s.at(0);
  bad[0] = 0;  // block_x = 1
  bad[1] = 0;  // block_y = 1: product 1 < 16
  EXPECT_FALSE(s.contains(bad));
  EXPECT_FALSE(s.index_of(Config{0, 0}).has_value());  // wrong length
  EXPECT_THROW(s.at(s.size()), std::out_of_range);
}

TEST(Space, PrunesPrefixesWithoutCompletion) {
  SpaceBuilder b;
  b.add(Knob::Range("a", 0, 3));
  b.add(Knob::Range("b", 0, 3));
  // Only a == 2 has completions: every other prefix must vanish from the tree.
  b.add(Knob::Range("c", 0, 3),
        {[](const Assignment& x) { return x[0] == 2 && x[1] + x[2] == 3; }});
  Space s = std::move(b).build();
  EXPECT_EQ(s.size(), 4u);
  for (uint64_t i = 0; i < s.size(); ++i) {
    Config c = s.at(i);
    EXPECT_EQ(c[0], 2u);
    EXPECT_EQ(c[1] + c[2], 3u);
    EXPECT_EQ(s.index_of(c), i);
  }
  EXPECT_THROW(
      [] {
        SpaceBuilder e;
        e.add(Knob::Range("a", 0, 3), {[](const Assignment&) { return false; }});
        return std::move(e).build();
      }(),
      std::invalid_argument);
}

TEST(Space, BuildFromListedConfigurations) {
  SpaceBuilder b;
  b.add(Knob::Values("x", {1, 2, 3}));
  b.add(Knob::Values("y", {10, 20}));
  std::vector<Config> listed{{2, 1}, {0, 0}, {2, 0}, {0, 0}, {1, 1}};
  Space s = std::move(b).build_from(listed);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s.at(0), (Config{0, 0}));
  EXPECT_EQ(s.at(1), (Config{1, 1}));
  EXPECT_EQ(s.at(3), (Config{2, 1}));
  EXPECT_FALSE(s.contains(Config{0, 1}));
  EXPECT_EQ(s.index_of(Config{2, 0}), 2u);
}

TEST(Space, NeighboursChangeExactlyOneKnob) {
  Space s = conv_like_space();
  for (uint64_t i = 0; i < s.size(); i += 7) {
    Config c = s.at(i);
    std::vector<uint64_t> nb = s.neighbours(i);
    std::set<uint64_t> seen(nb.begin(), nb.end());
    EXPECT_EQ(seen.size(), nb.size());
    for (uint64_t j : nb) {
      Config d = s.at(j);
      int changed = 0;
      for (size_t k = 0; k < c.size(); ++k) changed += c[k] != d[k];
      EXPECT_EQ(changed, 1);
    }
    // And every valid one-knob change is listed.
    size_t expected = 0;
    for (size_t k = 0; k < c.size(); ++k) {
      for (uint32_t e = 0; e < s.knobs()[k].size(); ++e) {
        if (e == c[k]) continue;
        Config d = c;
        d[k] = e;
        expected += s.contains(d);
      }
    }
    EXPECT_EQ(nb.size(), expected);
  }
}

TEST(Space, SamplingIsUniformAndSeeded) {
  Space s = conv_like_space();
  std::mt19937_64 a(7), b(7);
  std::map<uint64_t, int> hist;
  const int draws = 200000;
  for (int i = 0; i < draws; ++i) {
    uint64_t x = s.sample(a);
    ASSERT_EQ(x, s.sample(b));
    ASSERT_LT(x, s.size());
    ++hist[x];
  }
  EXPECT_EQ(hist.size(), s.size());
  const double expected = static_cast<double>(draws) / static_cast<double>(s.size());
  for (const auto& [idx, n] : hist) {
    EXPECT_NEAR(n, expected, 6 * std::sqrt(expected)) << "index " << idx;
  }
}

TEST(Space, FeaturesFlattenParts) {
  Space s = conv_like_space();
  ASSERT_EQ(s.num_features(), 6u);
  EXPECT_EQ(s.feature_names()[2], "tile[0]");
  std::vector<double> f(s.num_features());
  Config c = s.at(5);
  s.features(5, f);
  EXPECT_EQ(f[0], static_cast<double>(s.knobs()[0].value(c[0])));
  EXPECT_EQ(f[3], static_cast<double>(s.knobs()[2].parts(c[2])[1]));
  EXPECT_EQ(f[5], static_cast<double>(c[4]));
}

TEST(Space, JsonRoundTripAndErrors) {
  Space s = conv_like_space();
  for (uint64_t i = 0; i < s.size(); i += 5) {
    EXPECT_EQ(s.from_json(s.to_json(s.at(i))), s.at(i));
  }
  json j = s.to_json(s.at(3));
  json unknown = j;
  unknown["bogus"] = 1;
  try {
    s.from_json(unknown);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown knob 'bogus'"), std::string::npos);
  }
  json out_of_domain = j;
  out_of_domain["block_x"] = 3;
  EXPECT_THROW(s.from_json(out_of_domain), std::invalid_argument);
  json missing = j;
  missing.erase("order");
  EXPECT_THROW(s.from_json(missing), std::invalid_argument);
  json breaks = j;
  breaks["block_x"] = 1;
  breaks["block_y"] = 1;
  try {
    s.from_json(breaks);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("block_y"), std::string::npos) << e.what();
  }
}

TEST(Space, DigestDistinguishesSpaces) {
  EXPECT_EQ(conv_like_space().digest(), conv_like_space().digest());
  SpaceBuilder b;
  b.add(Knob::Values("block_x", {1, 2, 4, 8, 16, 32, 64}));
  EXPECT_NE(std::move(b).build().digest(), conv_like_space().digest());
}

TEST(Space, TenMillionConfigurations) {
  // 10^7 candidates; the constraint on the last knob removes 10^6 of them.
  SpaceBuilder b;
  for (int k = 0; k < 6; ++k) b.add(Knob::Range("k" + std::to_string(k), 0, 9));
  b.add(Knob::Range("k6", 0, 9), {[](const Assignment& a) { return a[5] + a[6] != 9; }});
  Space s = std::move(b).build();
  EXPECT_EQ(s.size(), 9000000u);
  EXPECT_LT(s.memory_bytes(), 300u << 20);
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1000; ++i) {
    uint64_t x = s.sample(rng);
    Config c = s.at(x);
    EXPECT_NE(s.knobs()[5].value(c[5]) + s.knobs()[6].value(c[6]), 9);
    EXPECT_EQ(s.index_of(c), x);
  }
}

}  // namespace
}  // namespace ml2
