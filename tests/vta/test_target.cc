#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ml2tuner/vta.h"
#include "vta/simulator.h"

namespace ml2 {
namespace {

using nlohmann::json;

VtaOptions c9(double noise = 0, uint64_t noise_seed = 0) {
  VtaOptions o;
  o.task = "resnet18.C9";
  o.noise = noise;
  o.noise_seed = noise_seed;
  return o;
}

const json kValidC9 = {{"tile_b", {1, 1}},   {"tile_h", {1, 7}},  {"tile_w", {1, 7}},
                       {"tile_ci", {16, 1}}, {"tile_co", {8, 4}}, {"oc_nthread", 2},
                       {"h_nthread", 1}};

TEST(VtaTarget, TilesWhollyInThePadding) {
  // 2x2 input, padding 4, 1x1 kernel: a 10x10 output whose tiles may lie wholly in the padding.
  // Their loads were sized negative (wrapping to 65538 entries: out-of-range faults and hangs),
  // and a one-row tile's padding dimension was dropped, so it loaded a real row where zeros
  // belong. Now a tile in the top or bottom padding loads zero rows of padding and computes the
  // right answer; one in the left or right padding has a load of width 0, which VTA skips (as its
  // sim_driver does), so it computes on stale data: a wrong answer, as on the device.
  VtaOptions o;
  o.task = "conv2d:h=2,w=2,ci=16,co=16,k=1,pad=4";
  auto t = make_vta_target(o);
  auto run = [&](const json& tile_h, const json& tile_w) {
    const json c = {{"tile_b", {1, 1}},  {"tile_h", tile_h},  {"tile_w", tile_w},
                    {"tile_ci", {1, 1}}, {"tile_co", {1, 1}}, {"oc_nthread", 1},
                    {"h_nthread", 1}};
    BuildResult b = t->build(t->space().from_json(c));
    EXPECT_EQ(b.status, Status::kOk) << b.message;
    return t->run(b.artifact).status;
  };
  EXPECT_EQ(run({10, 1}, {1, 10}), Status::kOk);  // one-row tiles, 4 above and 4 below the input
  EXPECT_EQ(run({5, 2}, {1, 10}), Status::kOk);
  EXPECT_EQ(run({1, 10}, {10, 1}), Status::kWrongAnswer);  // one-column tiles beside it
  EXPECT_EQ(run({1, 10}, {5, 2}), Status::kWrongAnswer);
  for (uint64_t i = 0; i < t->space().size(); ++i) {  // never a fault or a hang
    const Status s = t->run(t->build(t->space().at(i)).artifact).status;
    EXPECT_TRUE(s == Status::kOk || s == Status::kWrongAnswer) << to_string(s);
  }
}

TEST(VtaTarget, BuildAndRunAValidConfiguration) {
  auto t = make_vta_target(c9());
  EXPECT_EQ(t->name(), "vta");
  EXPECT_EQ(t->task(), "resnet18.C9@vta-1x16_i8w8a32_15_15_18_17/stock");
  EXPECT_EQ(t->space().size(), 480u);
  const Config c = t->space().from_json(kValidC9);
  BuildResult b = t->build(c);
  ASSERT_EQ(b.status, Status::kOk) << b.message;
  EXPECT_DOUBLE_EQ(b.virtual_s, kBuildSeconds);
  EXPECT_GT(b.hidden.size(), 40u);
  RunResult r = t->run(b.artifact);
  ASSERT_EQ(r.status, Status::kOk) << r.message;
  EXPECT_GT(r.latency.mean_ms, 0.1);
  EXPECT_EQ(r.latency.repeats, 3);
  EXPECT_EQ(r.latency.std_ms, 0);  // no noise: every repeat is the same simulation
  EXPECT_NEAR(r.virtual_s, kRunOverheadSeconds + 3 * r.latency.mean_ms / 1000, 1e-12);
}

TEST(VtaTarget, HiddenFeaturesCostACompileOnly) {
  auto t = make_vta_target(c9());
  const Config c = t->space().from_json(kValidC9);
  const int64_t before = vta::simulations_run();
  BuildResult a = t->build(c), b = t->build(c);
  EXPECT_EQ(vta::simulations_run(), before);  // the simulator was never called
  EXPECT_EQ(a.hidden, b.hidden);
  EXPECT_EQ(a.artifact, b.artifact);
  t->run(a.artifact);
  EXPECT_EQ(vta::simulations_run(), before + 1);
}

TEST(VtaTarget, CompileErrorsAndBadArtifacts) {
  auto t = make_vta_target(c9());
  json pad = kValidC9;
  pad["tile_ci"] = {4, 4};
  BuildResult b = t->build(t->space().from_json(pad));
  EXPECT_EQ(b.status, Status::kCompileError);
  EXPECT_EQ(b.message, "Do not support pad on the innermost block");
  EXPECT_TRUE(b.artifact.empty());
  RunResult r = t->run("garbage");
  EXPECT_EQ(r.status, Status::kRuntimeError);
}

TEST(VtaTarget, SeededNoiseIsReproducible) {
  auto quiet = make_vta_target(c9());
  auto a = make_vta_target(c9(0.05, 7)), b = make_vta_target(c9(0.05, 7)),
       c = make_vta_target(c9(0.05, 8));
  const Config cfg = a->space().from_json(kValidC9);
  const std::string artifact = a->build(cfg).artifact;
  RunResult ra = a->run(artifact), rb = b->run(artifact), rc = c->run(artifact);
  const double exact = quiet->run(artifact).latency.mean_ms;
  EXPECT_EQ(ra.latency.mean_ms, rb.latency.mean_ms);
  EXPECT_NE(ra.latency.mean_ms, rc.latency.mean_ms);
  EXPECT_GT(ra.latency.std_ms, 0);
  EXPECT_NEAR(ra.latency.mean_ms, exact, 0.2 * exact);
}

TEST(VtaTarget, BadOptionsAreOneLineErrors) {
  const std::pair<VtaOptions, std::string> cases[] = {
      {[] {
         VtaOptions o;
         o.task = "resnet50.C1";
         return o;
       }(),
       "unknown workload 'resnet50.C1'"},
      {[] {
         VtaOptions o;
         o.task = "conv2d:h=4,w=4,ci=16,co=16,k=7";
         return o;
       }(),
       "kernel is larger than the padded input"},
      {[] {
         VtaOptions o;
         o.task = "conv2d:h=8,w=8,ci=24,co=16,k=3,pad=1";
         return o;
       }(),
       "multiples of the block size 16"},
      {[] {
         VtaOptions o;
         o.task = "dense:ci=16";
         return o;
       }(),
       "needs co="},
      {[] {
         VtaOptions o;
         o.tmpl = "fancy";
         return o;
       }(),
       "templates: stock, extended"},
      {[] {
         VtaOptions o;
         o.hw = "huge";
         return o;
       }(),
       "presets: default, extended"},
  };
  for (const auto& [options, expect] : cases) {
    try {
      make_vta_target(options);
      FAIL() << expect;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
}

TEST(VtaTarget, RegisteredByName) {
  TargetOptions o;
  o.task = "resnet18.C11";
  o.tmpl = "extended";
  auto t = make_target("vta", o);
  EXPECT_EQ(t->space().size(), 31104u);
}

}  // namespace
}  // namespace ml2
