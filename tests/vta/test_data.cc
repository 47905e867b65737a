// Tests of the VTA operator data: deterministic tensors, the reference conv2d/dense with its
// requantisation, the DRAM packings and the prepared-data cache.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "vta/data.h"
#include "vta/hw_config.h"
#include "vta/workload.h"

namespace ml2::vta {
namespace {

Workload conv(int64_t n, int64_t h, int64_t w, int64_t ci, int64_t co, int64_t k, int64_t pad,
              int64_t stride, int shift) {
  Workload wl;
  wl.name = "test";
  wl.n = n;
  wl.h = h;
  wl.w = w;
  wl.ci = ci;
  wl.co = co;
  wl.k = k;
  wl.pad = pad;
  wl.stride = stride;
  wl.shift = shift;
  return wl;
}

TEST(VtaData, TensorsAreDrawnByteByByteFromMt19937_64) {
  const Workload w = conv(1, 2, 3, 2, 2, 1, 0, 1, 8);
  const Tensors t = make_tensors(w, 5489);
  ASSERT_EQ(t.inp.size(), 12u);
  ASSERT_EQ(t.wgt.size(), 4u);
  // The low bytes of the first draws of std::mt19937_64(5489), fixed by the C++ standard
  // (the first draw is 14514284786278117030).
  EXPECT_EQ(t.inp[0], -90);
  EXPECT_EQ(t.inp[1], 28);
  EXPECT_EQ(t.inp[2], -8);
  EXPECT_EQ(t.inp[3], -110);
  // The weights continue the same stream after the inputs.
  std::mt19937_64 gen(5489);
  for (int i = 0; i < 12; ++i) gen();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(t.wgt[static_cast<size_t>(i)], static_cast<int8_t>(gen() & 0xff)) << i;
  }
}

TEST(VtaData, TensorsAreDeterministicAndCoverTheInt8Range) {
  const Workload w = conv(1, 16, 16, 16, 16, 3, 1, 1, 8);
  const Tensors a = make_tensors(w, 7), b = make_tensors(w, 7), c = make_tensors(w, 8);
  EXPECT_EQ(a.inp, b.inp);
  EXPECT_EQ(a.wgt, b.wgt);
  EXPECT_NE(a.inp, c.inp);
  bool lo = false, hi = false;
  for (int8_t v : a.inp) {
    lo = lo || v == -128;
    hi = hi || v == 127;
  }
  EXPECT_TRUE(lo && hi);
}

TEST(VtaData, ReferenceIdentity1x1ConvCopiesTheInput) {
  const Workload w = conv(2, 3, 5, 16, 16, 1, 0, 1, /*shift=*/0);
  Tensors t = make_tensors(w, 1);
  std::fill(t.wgt.begin(), t.wgt.end(), int8_t{0});
  for (int64_t c = 0; c < 16; ++c) t.wgt[static_cast<size_t>(c * 16 + c)] = 1;
  EXPECT_EQ(reference_output(w, t), t.inp);
}

TEST(VtaData, Reference3x3WithPaddingOn4x4) {
  const Workload w = conv(1, 4, 4, 1, 1, 3, 1, 1, /*shift=*/0);
  Tensors t;
  t.inp.assign(16, 1);
  t.wgt.assign(9, 1);
  // All ones: each output counts the input pixels its window covers.
  const std::vector<int8_t> count = {4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4};
  EXPECT_EQ(reference_output(w, t), count);
  // inp[y][x] = 4y + x; a kernel taking the centre and its right neighbour:
  // out[y][x] = v(y, x) + v(y, x + 1), with zero past the right edge.
  for (int i = 0; i < 16; ++i) t.inp[static_cast<size_t>(i)] = static_cast<int8_t>(i);
  t.wgt.assign(9, 0);
  t.wgt[4] = 1;  // kh = 1, kw = 1
  t.wgt[5] = 1;  // kh = 1, kw = 2
  const std::vector<int8_t> want = {1, 3, 5, 3, 9, 11, 13, 7, 17, 19, 21, 11, 25, 27, 29, 15};
  EXPECT_EQ(reference_output(w, t), want);
  // A corner weight: out[y][x] = v(y - 1, x - 1).
  t.wgt.assign(9, 0);
  t.wgt[0] = 2;
  const std::vector<int8_t> corner = {0, 0, 0, 0, 0, 0, 2, 4, 0, 8, 10, 12, 0, 16, 18, 20};
  EXPECT_EQ(reference_output(w, t), corner);
}

TEST(VtaData, ReferenceStride2) {
  const Workload w = conv(1, 4, 4, 1, 1, 1, 0, 2, 0);
  Tensors t;
  for (int i = 0; i < 16; ++i) t.inp.push_back(static_cast<int8_t>(i));
  t.wgt = {3};
  EXPECT_EQ(w.oh(), 2);
  EXPECT_EQ(reference_output(w, t), (std::vector<int8_t>{0, 6, 24, 30}));
  // 3x3, pad 1, stride 2 on 4x4: outputs at (0,0), (0,2), (2,0), (2,2) of the padded window sum.
  const Workload w3 = conv(1, 4, 4, 1, 1, 3, 1, 2, 0);
  t.wgt.assign(9, 1);
  // (0,0): rows 0-1, cols 0-1: 0+1+4+5 = 10; (0,2): rows 0-1, cols 1-3: 1+2+3+5+6+7 = 24;
  // (2,0): rows 1-3, cols 0-1: 4+5+8+9+12+13 = 51; (2,2): rows 1-3, cols 1-3: 90.
  EXPECT_EQ(reference_output(w3, t), (std::vector<int8_t>{10, 24, 51, 90}));
}

TEST(VtaData, ReferenceDense) {
  Workload w;
  w.name = "dense";
  w.dense = true;
  w.n = 2;
  w.ci = 3;
  w.co = 2;
  w.shift = 0;
  Tensors t;
  t.inp = {1, 2, 3, -1, 0, 4};   // [2][3]
  t.wgt = {1, 1, 1, 2, -1, 10};  // [2][3]
  // n0: (6, 2-2+30 = 30); n1: (-1+4 = 3, -2+40 = 38)
  EXPECT_EQ(reference_output(w, t), (std::vector<int8_t>{6, 30, 3, 38}));
}

TEST(VtaData, RequantisationShiftsArithmeticallyAndClips) {
  auto one = [](int8_t x, int8_t wv, int shift) {
    const Workload w = conv(1, 1, 1, 1, 1, 1, 0, 1, shift);
    Tensors t;
    t.inp = {x};
    t.wgt = {wv};
    return static_cast<int>(reference_output(w, t)[0]);
  };
  EXPECT_EQ(one(-128, -128, 0), 127);  // 16384 clips
  EXPECT_EQ(one(-128, -128, 7), 127);  // 128 clips
  EXPECT_EQ(one(-128, -128, 8), 64);   // 16384 >> 8
  EXPECT_EQ(one(127, -128, 0), -128);  // -16256 clips
  EXPECT_EQ(one(127, -128, 8), -64);   // -16256 >> 8 = -63.5 rounded down
  EXPECT_EQ(one(-3, 1, 1), -2);        // arithmetic shift rounds towards -inf
  EXPECT_EQ(one(100, 1, 31), 0);
  EXPECT_EQ(one(-100, 1, 31), -1);
  // Accumulation over many channels, clipped only at the end.
  const Workload w = conv(1, 1, 1, 64, 1, 1, 0, 1, 8);
  Tensors t;
  t.inp.assign(64, 100);
  t.wgt.assign(64, 100);
  EXPECT_EQ(reference_output(w, t)[0], 127);  // 640000 >> 8 = 2500
  for (size_t i = 0; i < 32; ++i) t.wgt[i] = -100;
  EXPECT_EQ(reference_output(w, t)[0], 0);
}

TEST(VtaData, PackingFollowsTheDramLayouts) {
  HwConfig hw;
  hw.log_batch = 1;  // B = 2, BL = 16
  const Workload w = conv(4, 3, 5, 32, 48, 3, 1, 1, 8);
  const Tensors t = make_tensors(w, 3);
  std::vector<uint8_t> inp(static_cast<size_t>(packed_inp_bytes(w)));
  std::vector<uint8_t> wgt(static_cast<size_t>(packed_wgt_bytes(w)));
  ASSERT_EQ(inp.size(), 4u * 32 * 3 * 5);
  ASSERT_EQ(wgt.size(), 48u * 32 * 9);
  pack_inputs(hw, w, t, inp.data());
  pack_weights(hw, w, t, wgt.data());
  // inp [N/B][CI/BL][H][W][B][BL]: n = 3 (block 1, lane 1), ci = 17 (block 1, lane 1), y 2, x 4.
  const size_t plain_inp = ((3 * 32 + 17) * 3 + 2) * 5 + 4;
  const size_t packed_inp = ((((1 * 2 + 1) * 3 + 2) * 5 + 4) * 2 + 1) * 16 + 1;
  EXPECT_EQ(static_cast<int8_t>(inp[packed_inp]), t.inp[plain_inp]);
  // wgt [CO/BL][CI/BL][K][K][BL_out][BL_in]: co = 40 (block 2, lane 8), ci = 5, kh 2, kw 1.
  const size_t plain_wgt = ((40 * 32 + 5) * 3 + 2) * 3 + 1;
  const size_t packed_wgt = (((2 * 2 + 0) * 3 + 2) * 3 + 1) * 256 + 8 * 16 + 5;
  EXPECT_EQ(static_cast<int8_t>(wgt[packed_wgt]), t.wgt[plain_wgt]);
  // Every byte lands somewhere: the packings are permutations.
  std::vector<int> hist_plain(256), hist_packed(256);
  for (int8_t v : t.inp) ++hist_plain[static_cast<uint8_t>(v)];
  for (uint8_t v : inp) ++hist_packed[v];
  EXPECT_EQ(hist_plain, hist_packed);
}

TEST(VtaData, OutputPackUnpackRoundTrip) {
  for (int log_batch : {0, 1}) {
    HwConfig hw;
    hw.log_batch = log_batch;
    const Workload w = conv(2, 6, 6, 16, 32, 3, 1, 2, 8);
    std::vector<int8_t> out(static_cast<size_t>(packed_out_bytes(w)));
    ASSERT_EQ(out.size(), 2u * 32 * 3 * 3);
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int8_t>(i * 37 + 11);
    std::vector<uint8_t> packed(out.size(), 0xAA);
    pack_output(hw, w, out, packed.data());
    EXPECT_EQ(unpack_output(hw, w, packed.data()), out);
    // out [N/B][CO/BL][OH][OW][B][BL]: n 1, co 17, oh 2, ow 0.
    const size_t plain = ((1 * 32 + 17) * 3 + 2) * 3 + 0;
    const size_t b = static_cast<size_t>(hw.batch());
    const size_t packed_at = ((((1 / b) * 2 + 1) * 3 + 2) * 3 + 0) * b * 16 + (1 % b) * 16 + 1;
    EXPECT_EQ(static_cast<int8_t>(packed[packed_at]), out[plain]);
  }
}

TEST(VtaData, PackingRejectsShapesThatDoNotBlock) {
  HwConfig hw;
  const Workload w = conv(1, 2, 2, 8, 16, 1, 0, 1, 8);
  const Tensors t = make_tensors(w, 1);
  std::vector<uint8_t> buf(static_cast<size_t>(packed_inp_bytes(w)));
  EXPECT_THROW(pack_inputs(hw, w, t, buf.data()), std::invalid_argument);
}

TEST(VtaData, PreparedDataIsCachedPerKey) {
  HwConfig hw;
  const Workload w = Workload::parse("conv2d:h=8,w=8,ci=16,co=32,k=3,pad=1");
  const PreparedData& a = prepared(hw, w, 11);
  const PreparedData& again = prepared(hw, w, 11);
  EXPECT_EQ(&a, &again);
  const Tensors t = make_tensors(w, 11);
  EXPECT_EQ(a.reference, reference_output(w, t));
  std::vector<uint8_t> inp(static_cast<size_t>(packed_inp_bytes(w)));
  pack_inputs(hw, w, t, inp.data());
  EXPECT_EQ(a.inp_packed, inp);
  EXPECT_EQ(unpack_output(hw, w, a.out_packed.data()), a.reference);
  // Another seed, another shift, another hardware block: other entries.
  const PreparedData& b = prepared(hw, w, 12);
  EXPECT_NE(a.inp_packed, b.inp_packed);
  Workload w2 = w;
  w2.shift = 4;
  EXPECT_NE(prepared(hw, w2, 11).reference, prepared(hw, w, 11).reference);
  // Eviction keeps the cache small and recomputes the same data.
  const std::vector<int8_t> ref = prepared(hw, w, 11).reference;
  for (uint64_t seed = 100; seed < 110; ++seed) prepared(hw, w, seed);
  EXPECT_EQ(prepared(hw, w, 11).reference, ref);
}

TEST(VtaData, ReferenceIsFastOnResnetC2) {
  const Workload w = Workload::parse("resnet18.C2");
  const Tensors t = make_tensors(w, 1);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int8_t> out = reference_output(w, t);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(out.size(), 64u * 56 * 56);
  RecordProperty("reference_ms", std::to_string(ms));
  EXPECT_LT(ms, 1000.0) << "115 M MACs";
}

}  // namespace
}  // namespace ml2::vta
