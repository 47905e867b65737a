#include "vta/compiler.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "vta/simulator.h"

namespace ml2::vta {
namespace {

using nlohmann::json;

const HwConfig kHw{};

Schedule stock(const Workload& w, const json& config) {
  const Space space = make_space(w, kHw, Template::kStock);
  return schedule_of(space, space.from_json(config), Template::kStock);
}

TEST(VtaSchedule, StockSpaceSizesMatchAutoTvm) {
  // vta.md: d(N/B) d(OH) d(OW) d(CI/16) d(CO/16) 4.
  const std::map<std::string, uint64_t> expected = {
      {"resnet18.C2", 2304}, {"resnet18.C3", 1728}, {"resnet18.C4", 1728}, {"resnet18.C5", 2304},
      {"resnet18.C6", 1280}, {"resnet18.C7", 1280}, {"resnet18.C8", 1600}, {"resnet18.C9", 480},
      {"resnet18.C10", 480}, {"resnet18.C11", 576}};
  for (const auto& [name, size] : expected) {
    EXPECT_EQ(make_space(Workload::parse(name), kHw, Template::kStock).size(), size) << name;
  }
  // dense_packed.vta: d(N/B) d(CI/16) d(CO/16) 2 = 1 * 6 * 6 * 2 for 512 -> 1008.
  EXPECT_EQ(make_space(Workload::parse("resnet18.fc"), kHw, Template::kStock).size(), 72u);
}

TEST(VtaSchedule, ExtendedSpaceIsLarge) {
  const Space s = make_space(Workload::parse("resnet18.C2"), kHw, Template::kExtended);
  EXPECT_GE(s.size(), 10000u);
  EXPECT_EQ(s.size(), 48600u);  // 10 * 10 * 3 * 3 * 3 * 3 * 2 * 3
}

TEST(VtaCompiler, CompileErrorsAreVtasLoweringErrors) {
  const Workload c2 = Workload::parse("resnet18.C2");
  // Several input-channel blocks per padded load: TVM cannot pad below the two outer dims.
  CompileResult pad = compile(kHw, c2,
                              stock(c2, {{"tile_b", {1, 1}},
                                         {"tile_h", {8, 7}},
                                         {"tile_w", {8, 7}},
                                         {"tile_ci", {2, 2}},
                                         {"tile_co", {1, 4}},
                                         {"oc_nthread", 1},
                                         {"h_nthread", 1}}),
                              1);
  ASSERT_FALSE(pad.ok);
  EXPECT_EQ(pad.error, "Do not support pad on the innermost block");
  // A whole 56x56 output plane needs 3136 accumulator entries > 2048.
  CompileResult big = compile(kHw, c2,
                              stock(c2, {{"tile_b", {1, 1}},
                                         {"tile_h", {1, 56}},
                                         {"tile_w", {1, 56}},
                                         {"tile_ci", {4, 1}},
                                         {"tile_co", {4, 1}},
                                         {"oc_nthread", 1},
                                         {"h_nthread", 1}}),
                              1);
  ASSERT_FALSE(big.ok);
  EXPECT_EQ(big.error,
            "Allocation exceed bound of memory tag local.acc_buffer: 1 thread(s) x 3136 entries > "
            "2048");
  // Virtual threads double every buffer: 28x56 fits once, not twice.
  CompileResult two = compile(kHw, c2,
                              stock(c2, {{"tile_b", {1, 1}},
                                         {"tile_h", {2, 28}},
                                         {"tile_w", {1, 56}},
                                         {"tile_ci", {4, 1}},
                                         {"tile_co", {4, 1}},
                                         {"oc_nthread", 1},
                                         {"h_nthread", 2}}),
                              1);
  ASSERT_FALSE(two.ok);
  EXPECT_NE(two.error.find("local.acc_buffer: 2 thread(s) x 1568 entries > 2048"),
            std::string::npos)
      << two.error;
  const Workload c10 = Workload::parse("resnet18.C10");
  // 16 channel blocks of a 13x13 strided window: 2704 input entries.
  CompileResult inp = compile(kHw, c10,
                              stock(c10, {{"tile_b", {1, 1}},
                                          {"tile_h", {1, 7}},
                                          {"tile_w", {1, 7}},
                                          {"tile_ci", {1, 16}},
                                          {"tile_co", {32, 1}},
                                          {"oc_nthread", 1},
                                          {"h_nthread", 1}}),
                              1);
  ASSERT_FALSE(inp.ok);
  EXPECT_NE(inp.error.find("local.inp_buffer: 1 thread(s) x 2704 entries"), std::string::npos)
      << inp.error;
  // An unpadded strided window over several channel blocks is not a 2-D DMA pattern.
  CompileResult strided = compile(kHw, c10,
                                  stock(c10, {{"tile_b", {1, 1}},
                                              {"tile_h", {1, 7}},
                                              {"tile_w", {7, 1}},
                                              {"tile_ci", {8, 2}},
                                              {"tile_co", {32, 1}},
                                              {"oc_nthread", 1},
                                              {"h_nthread", 1}}),
                                  1);
  ASSERT_FALSE(strided.ok);
  EXPECT_NE(strided.error.find("cannot detect 2d pattern"), std::string::npos) << strided.error;
}

TEST(VtaCompiler, TokensBalanceAndFeaturesAreDeterministic) {
  const Workload c9 = Workload::parse("resnet18.C9");
  const Space space = make_space(c9, kHw, Template::kStock);
  int compiled = 0;
  for (uint64_t i = 0; i < space.size(); i += 7) {
    const Schedule s = schedule_of(space, space.at(i), Template::kStock);
    CompileResult a = compile(kHw, c9, s, 1), b = compile(kHw, c9, s, 1);
    ASSERT_EQ(a.ok, b.ok);
    EXPECT_EQ(a.hidden, b.hidden);
    if (!a.ok) continue;
    ++compiled;
    EXPECT_EQ(a.program.serialize(), b.program.serialize());
    for (const char* q :
         {"load_to_compute", "compute_to_load", "compute_to_store", "store_to_compute"}) {
      EXPECT_EQ(a.hidden.at(std::string("dep_push.") + q), a.hidden.at(std::string("dep_pop.") + q))
          << q << " at " << space.to_json(space.at(i)).dump();
    }
    EXPECT_EQ(a.hidden.at("insn.FINISH"), 1);
  }
  EXPECT_GT(compiled, 5);
}

// Every valid stock configuration of C9, C10 and C11 computes exactly the reference output.
class VtaStockLayer : public ::testing::TestWithParam<const char*> {};

TEST_P(VtaStockLayer, EveryValidConfigurationMatchesTheReference) {
  const Workload w = Workload::parse(GetParam());
  const Space space = make_space(w, kHw, Template::kStock);
  int valid = 0;
  for (uint64_t i = 0; i < space.size(); ++i) {
    CompileResult r = compile(kHw, w, schedule_of(space, space.at(i), Template::kStock), 1);
    if (!r.ok) continue;
    ++valid;
    const SimResult sim = simulate(kHw, r.program);
    ASSERT_EQ(sim.status, Status::kOk) << space.to_json(space.at(i)).dump() << ": " << sim.message;
    EXPECT_EQ(sim.mismatches, 0);
    EXPECT_GT(sim.cycles, 0);
  }
  EXPECT_GT(valid, 50);
}

INSTANTIATE_TEST_SUITE_P(ResNet18, VtaStockLayer,
                         ::testing::Values("resnet18.C9", "resnet18.C10", "resnet18.C11"));

// Calls check() on up to `want` valid configurations among `draws` seeded draws from the extended
// space of `name`; returns how many it checked.
int check_extended_samples(
    const char* name, uint64_t seed, int draws, int want,
    const std::function<void(const Space&, const Config&, const CompileResult&)>& check) {
  const Workload w = Workload::parse(name);
  const Space space = make_space(w, kHw, Template::kExtended);
  std::mt19937_64 rng(seed);
  int valid = 0;
  for (int draw = 0; draw < draws && valid < want; ++draw) {
    const Config c = space.at(space.sample(rng));
    CompileResult r = compile(kHw, w, schedule_of(space, c, Template::kExtended), 1);
    if (!r.ok) continue;
    ++valid;
    check(space, c, r);
  }
  return valid;
}

// The extended template's partial tiles, folds, four threads and weight reuse compute correctly
// too, on a seeded sample of each space.
TEST(VtaCompiler, ExtendedTemplateSamplesMatchTheReference) {
  for (const char* name : {"resnet18.C5", "resnet18.C7", "resnet18.C11", "resnet18.fc",
                           "conv2d:h=9,w=11,ci=32,co=48,k=3,pad=1,stride=1"}) {
    const int valid = check_extended_samples(
        name, 11, 400, 25, [&](const Space& space, const Config& c, const CompileResult& r) {
          const SimResult sim = simulate(kHw, r.program);
          EXPECT_EQ(sim.status, Status::kOk)
              << name << " " << space.to_json(c).dump() << ": " << sim.message;
        });
    EXPECT_GT(valid, 5) << name;
  }
}

// The compile-time estimate sums the simulator's own instruction costs per module, so on every
// configuration it equals the time each module is busy in the simulation, and the busiest module
// bounds the run from below (the run overlaps the modules at best) while the sum of all three
// bounds it from above (one module is always busy in a program that does not deadlock).
TEST(VtaCompiler, EstimateIsTheSimulatorsBusyTimeWithoutTheDataflow) {
  for (const char* name : {"resnet18.C9", "resnet18.C4"}) {
    const int valid = check_extended_samples(
        name, 5, 600, 40, [&](const Space& space, const Config& c, const CompileResult& r) {
          SimOptions timing;
          timing.functional = false;
          const SimResult sim = simulate(kHw, r.program, timing);
          ASSERT_EQ(sim.status, Status::kOk) << sim.message;
          const std::string at = std::string(name) + " " + space.to_json(c).dump();
          EXPECT_EQ(r.hidden.at("estimate.load_cycles"), sim.load_busy) << at;
          EXPECT_EQ(r.hidden.at("estimate.compute_cycles"), sim.compute_busy) << at;
          EXPECT_EQ(r.hidden.at("estimate.store_cycles"), sim.store_busy) << at;
          EXPECT_LE(r.hidden.at("estimate"), sim.cycles) << at;
          EXPECT_GE(r.hidden.at("estimate.serial_cycles"), sim.cycles) << at;
        });
    EXPECT_GT(valid, 20) << name;
  }
}

TEST(VtaCompiler, DenseStockSpaceMatchesTheReference) {
  const Workload w = Workload::parse("dense:n=4,ci=64,co=96");
  const Space space = make_space(w, kHw, Template::kStock);
  for (uint64_t i = 0; i < space.size(); ++i) {
    CompileResult r = compile(kHw, w, schedule_of(space, space.at(i), Template::kStock), 1);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(simulate(kHw, r.program).status, Status::kOk) << space.to_json(space.at(i)).dump();
  }
}

TEST(VtaCompiler, ExtendedHardwareMicroOpIndexOverflowIsAWrongAnswer) {
  // On the extended preset the input buffer has 4096 entries but a micro-op's src_idx keeps the
  // accumulator's 11 bits (hw_spec.h): a schedule whose input tiles use entries above 2047
  // compiles, and computes garbage at run time. Its hidden features show the overflow.
  const HwConfig hw = HwConfig::preset("extended");
  // C3's strided 3x3 windows are large: two 14x28 tiles need 2 x 1653 input entries.
  const Workload w = Workload::parse("resnet18.C3");
  const Space space = make_space(w, hw, Template::kStock);
  int overflowing = 0, fine = 0;
  for (uint64_t i = 0; i < space.size(); ++i) {
    CompileResult r = compile(hw, w, schedule_of(space, space.at(i), Template::kStock), 1);
    if (!r.ok) continue;
    const bool over = r.hidden.at("field_headroom.uop_src_idx") > 1.0;
    const SimResult sim = simulate(hw, r.program);
    if (over) {
      ++overflowing;
      EXPECT_EQ(sim.status, Status::kWrongAnswer) << space.to_json(space.at(i)).dump();
    } else {
      ++fine;
      EXPECT_EQ(sim.status, Status::kOk) << space.to_json(space.at(i)).dump() << sim.message;
    }
  }
  EXPECT_GT(overflowing, 0);
  EXPECT_GT(fine, 0);
}

}  // namespace
}  // namespace ml2::vta
