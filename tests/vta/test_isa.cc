#include "vta/isa.h"

#include <gtest/gtest.h>

#include <random>

namespace ml2::vta {
namespace {

// Reads `width` bits at `offset` of a 128-bit word, independently of the encoder.
uint64_t bits(const Word128& w, int offset, int width) {
  unsigned __int128 v = (static_cast<unsigned __int128>(w.hi) << 64) | w.lo;
  return static_cast<uint64_t>((v >> offset) & ((static_cast<unsigned __int128>(1) << width) - 1));
}

struct Expected {
  const char* name;
  int offset, width;
};

// The default build's layouts, written out from hw_spec.h (uint64_t bit-fields in declaration
// order; a field that does not fit the rest of its 64-bit unit starts the next one).
const Expected kMem[] = {{"opcode", 0, 3},        {"pop_prev_dep", 3, 1},  {"pop_next_dep", 4, 1},
                         {"push_prev_dep", 5, 1}, {"push_next_dep", 6, 1}, {"memory_type", 7, 3},
                         {"sram_base", 10, 16},   {"dram_base", 26, 32},   {"y_size", 64, 16},
                         {"x_size", 80, 16},      {"x_stride", 96, 16},    {"y_pad_0", 112, 4},
                         {"y_pad_1", 116, 4},     {"x_pad_0", 120, 4},     {"x_pad_1", 124, 4}};
const Expected kGemm[] = {
    {"opcode", 0, 3},           {"pop_prev_dep", 3, 1},     {"pop_next_dep", 4, 1},
    {"push_prev_dep", 5, 1},    {"push_next_dep", 6, 1},    {"reset_reg", 7, 1},
    {"uop_bgn", 8, 13},         {"uop_end", 21, 14},        {"iter_out", 35, 14},
    {"iter_in", 49, 14},        {"dst_factor_out", 64, 11}, {"dst_factor_in", 75, 11},
    {"src_factor_out", 86, 11}, {"src_factor_in", 97, 11},  {"wgt_factor_out", 108, 10},
    {"wgt_factor_in", 118, 10}};
const Expected kAlu[] = {{"opcode", 0, 3},
                         {"pop_prev_dep", 3, 1},
                         {"pop_next_dep", 4, 1},
                         {"push_prev_dep", 5, 1},
                         {"push_next_dep", 6, 1},
                         {"reset_reg", 7, 1},
                         {"uop_bgn", 8, 13},
                         {"uop_end", 21, 14},
                         {"iter_out", 35, 14},
                         {"iter_in", 49, 14},
                         {"dst_factor_out", 64, 11},
                         {"dst_factor_in", 75, 11},
                         {"src_factor_out", 86, 11},
                         {"src_factor_in", 97, 11},
                         {"alu_opcode", 108, 3},
                         {"use_imm", 111, 1},
                         {"imm", 112, 16}};
const Expected kUop[] = {{"dst_idx", 0, 11}, {"src_idx", 11, 11}, {"wgt_idx", 22, 10}};

void expect_layout(const std::vector<Field>& got, const Expected* want, size_t n) {
  ASSERT_EQ(got.size(), n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(got[i].name, want[i].name);
    EXPECT_EQ(got[i].offset, want[i].offset) << want[i].name;
    EXPECT_EQ(got[i].width, want[i].width) << want[i].name;
  }
}

TEST(VtaIsa, DefaultLayoutsMatchHwSpec) {
  Isa isa(HwConfig{});
  expect_layout(isa.layout(Opcode::kLoad), kMem, std::size(kMem));
  expect_layout(isa.layout(Opcode::kStore), kMem, std::size(kMem));
  expect_layout(isa.layout(Opcode::kGemm), kGemm, std::size(kGemm));
  expect_layout(isa.layout(Opcode::kAlu), kAlu, std::size(kAlu));
  expect_layout(isa.uop_layout(), kUop, std::size(kUop));
  EXPECT_EQ(isa.layout(Opcode::kFinish).size(), 5u);
}

// Each field of each instruction type, encoded alone with a distinctive value, lands exactly at
// its documented bits and nowhere else.
void check_fields(Opcode op, const Expected* want, size_t n) {
  Isa isa(HwConfig{});
  const auto& layout = isa.layout(op);
  for (size_t i = 1; i < n; ++i) {  // field 0 is the opcode itself
    Insn insn;
    insn.opcode = static_cast<int64_t>(op);
    const int64_t value = (int64_t{1} << want[i].width) - 1 - (want[i].width > 2 ? 1 : 0);
    insn.*layout[i].member = layout[i].is_signed ? -2 : value;
    const Word128 w = isa.encode(insn);
    const uint64_t mask = want[i].width == 64 ? ~0ull : (uint64_t{1} << want[i].width) - 1;
    const uint64_t expect_field = static_cast<uint64_t>(insn.*layout[i].member) & mask;
    EXPECT_EQ(bits(w, want[i].offset, want[i].width), expect_field) << want[i].name;
    EXPECT_EQ(bits(w, 0, 3), static_cast<uint64_t>(op)) << want[i].name;
    // Clearing the field and the opcode leaves nothing set.
    Word128 rest = w;
    for (int b = 0; b < want[i].width; ++b) {
      const int pos = want[i].offset + b;
      (pos < 64 ? rest.lo : rest.hi) &= ~(uint64_t{1} << (pos % 64));
    }
    rest.lo &= ~uint64_t{7};
    EXPECT_EQ(rest, Word128{}) << want[i].name;
    EXPECT_EQ(isa.decode(w), insn) << want[i].name;
  }
}

TEST(VtaIsa, LoadStoreFieldsByBit) { check_fields(Opcode::kLoad, kMem, std::size(kMem)); }
TEST(VtaIsa, StoreFieldsByBit) { check_fields(Opcode::kStore, kMem, std::size(kMem)); }
TEST(VtaIsa, GemmFieldsByBit) { check_fields(Opcode::kGemm, kGemm, std::size(kGemm)); }
TEST(VtaIsa, AluFieldsByBit) { check_fields(Opcode::kAlu, kAlu, std::size(kAlu)); }

TEST(VtaIsa, FinishAndUopEncoding) {
  Isa isa(HwConfig{});
  Insn f;
  f.opcode = static_cast<int64_t>(Opcode::kFinish);
  f.pop_next_dep = 1;
  const Word128 w = isa.encode(f);
  EXPECT_EQ(w.lo, 3u | (1u << 4));
  EXPECT_EQ(w.hi, 0u);
  Uop u{0x5A5, 0x3C3, 0x2F1};
  const uint32_t word = isa.encode(u);
  EXPECT_EQ(word & 0x7FF, 0x5A5u);
  EXPECT_EQ((word >> 11) & 0x7FF, 0x3C3u);
  EXPECT_EQ(word >> 22, 0x2F1u);
  EXPECT_EQ(isa.decode_uop(word), u);
}

TEST(VtaIsa, RandomRoundTripsAndTruncation) {
  Isa isa(HwConfig{});
  std::mt19937_64 rng(3);
  for (Opcode op : {Opcode::kLoad, Opcode::kStore, Opcode::kGemm, Opcode::kAlu}) {
    for (int rep = 0; rep < 200; ++rep) {
      Insn insn;
      insn.opcode = static_cast<int64_t>(op);
      for (const Field& f : isa.layout(op)) {
        if (f.name == "opcode") continue;
        const uint64_t span = static_cast<uint64_t>(f.max_value() - f.min_value()) + 1;
        insn.*f.member = f.min_value() + static_cast<int64_t>(rng() % span);
      }
      EXPECT_TRUE(isa.fits(insn));
      EXPECT_EQ(isa.decode(isa.encode(insn)), insn);
    }
  }
  // A value too wide for its field is truncated, as the hardware would see it.
  Insn g;
  g.opcode = static_cast<int64_t>(Opcode::kGemm);
  g.iter_in = 16384 + 5;  // 14-bit field
  EXPECT_FALSE(isa.fits(g));
  EXPECT_EQ(isa.decode(isa.encode(g)).iter_in, 5);
  Insn a;
  a.opcode = static_cast<int64_t>(Opcode::kAlu);
  a.imm = -128;
  EXPECT_EQ(isa.decode(isa.encode(a)).imm, -128);
}

TEST(VtaIsa, WidthsFollowTheConfiguration) {
  HwConfig hw = HwConfig::preset("extended");
  Isa isa(hw);
  // 12-bit input factors, 9-bit weight factors; the micro-op keeps the accumulator width for
  // src_idx, as hw_spec.h declares it.
  const auto& gemm = isa.layout(Opcode::kGemm);
  auto width = [](const std::vector<Field>& fs, const std::string& name) {
    for (const Field& f : fs) {
      if (f.name == name) return f.width;
    }
    return -1;
  };
  EXPECT_EQ(width(gemm, "src_factor_out"), 12);
  EXPECT_EQ(width(gemm, "wgt_factor_in"), 9);
  EXPECT_EQ(width(isa.uop_layout(), "src_idx"), 11);
  EXPECT_EQ(gemm.back().offset + gemm.back().width, 128);
}

TEST(VtaIsa, InconsistentLayoutsAreRejected) {
  HwConfig hw;
  hw.log_wgt_buff_size = 22;  // 16-bit weight factors: the GEMM instruction no longer fits
  EXPECT_THROW(Isa{hw}, std::invalid_argument);
}

}  // namespace
}  // namespace ml2::vta
