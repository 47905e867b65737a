// Tests of the VTA simulator on hand-written programs: functional results against the reference,
// the cost of every instruction, overlap and token synchronisation, deadlocks, token-queue
// capacity, runtime faults, field overflow and determinism; and its speed on a ResNet-18 C2
// program.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "vta/data.h"
#include "vta/hw_config.h"
#include "vta/isa.h"
#include "vta/program.h"
#include "vta/simulator.h"
#include "vta/workload.h"

namespace ml2::vta {
namespace {

// --- instruction helpers ---------------------------------------------------------------------

Insn mem(Opcode op, MemType m, int64_t sram, int64_t dram, int64_t y, int64_t x, int64_t stride) {
  Insn in;
  in.opcode = static_cast<int64_t>(op);
  in.memory_type = static_cast<int64_t>(m);
  in.sram_base = sram;
  in.dram_base = dram;
  in.y_size = y;
  in.x_size = x;
  in.x_stride = stride;
  return in;
}
Insn load(MemType m, int64_t sram, int64_t dram, int64_t y, int64_t x, int64_t stride) {
  return mem(Opcode::kLoad, m, sram, dram, y, x, stride);
}
Insn store(int64_t sram, int64_t dram, int64_t y, int64_t x, int64_t stride) {
  return mem(Opcode::kStore, MemType::kOut, sram, dram, y, x, stride);
}
// A zero-width load: costs only the instruction overhead and carries dependency bits.
Insn nop_load(MemType m) { return load(m, 0, 0, 0, 0, 0); }

Insn gemm(int64_t bgn, int64_t end, int64_t iter_out, int64_t iter_in, bool reset = false) {
  Insn in;
  in.opcode = static_cast<int64_t>(Opcode::kGemm);
  in.reset_reg = reset;
  in.uop_bgn = bgn;
  in.uop_end = end;
  in.iter_out = iter_out;
  in.iter_in = iter_in;
  return in;
}
Insn alu(AluOp op, int64_t imm, int64_t bgn, int64_t end, int64_t iter_out, int64_t iter_in) {
  Insn in = gemm(bgn, end, iter_out, iter_in);
  in.opcode = static_cast<int64_t>(Opcode::kAlu);
  in.alu_opcode = static_cast<int64_t>(op);
  in.use_imm = 1;
  in.imm = imm;
  return in;
}
Insn finish() { return Insn{}; }

Insn dst_factors(Insn in, int64_t out, int64_t inner) {
  in.dst_factor_out = out;
  in.dst_factor_in = inner;
  return in;
}
Insn src_factors(Insn in, int64_t out, int64_t inner) {
  in.src_factor_out = out;
  in.src_factor_in = inner;
  return in;
}
Insn wgt_factors(Insn in, int64_t out, int64_t inner) {
  in.wgt_factor_out = out;
  in.wgt_factor_in = inner;
  return in;
}
// Dependency bits: pop_prev, pop_next, push_prev, push_next.
Insn deps(Insn in, bool pop_prev, bool pop_next, bool push_prev, bool push_next) {
  in.pop_prev_dep = pop_prev;
  in.pop_next_dep = pop_next;
  in.push_prev_dep = push_prev;
  in.push_next_dep = push_next;
  return in;
}

// A small valid workload for programs that only exercise timing or faults.
Workload tiny() { return Workload::parse("dense:ci=16,co=16"); }

// Builds a Program: regions at 4 KiB boundaries sized for the workload, encoded instructions and
// micro-ops.
class Builder {
 public:
  explicit Builder(const HwConfig& hw, const Workload& w = tiny(), uint64_t seed = 1)
      : hw_(hw), isa_(hw) {
    p_.workload = w;
    p_.data_seed = seed;
    p_.inp_addr = 0;
    p_.wgt_addr = align(p_.inp_addr + static_cast<uint64_t>(packed_inp_bytes(w)));
    p_.out_addr = align(p_.wgt_addr + static_cast<uint64_t>(packed_wgt_bytes(w)));
    p_.uop_addr = align(p_.out_addr + static_cast<uint64_t>(packed_out_bytes(w)));
  }
  // DRAM bases in entries of each memory type.
  int64_t inp_base() const { return static_cast<int64_t>(p_.inp_addr) / hw_.inp_elem_bytes(); }
  int64_t wgt_base() const { return static_cast<int64_t>(p_.wgt_addr) / hw_.wgt_elem_bytes(); }
  int64_t out_base() const { return static_cast<int64_t>(p_.out_addr) / hw_.out_elem_bytes(); }
  int64_t uop_base() const { return static_cast<int64_t>(p_.uop_addr) / 4; }

  Builder& add(const Insn& in) {
    p_.insns.push_back(isa_.encode(in));
    return *this;
  }
  Builder& uop(int64_t dst, int64_t src, int64_t wgt) {
    p_.uops.push_back(isa_.encode(Uop{dst, src, wgt}));
    return *this;
  }
  // A raw word in the micro-op region (data for LOAD ACC).
  Builder& raw(uint32_t word) {
    p_.uops.push_back(word);
    return *this;
  }
  // Adds `in` and a FINISH that waits for it through the tokens of its module.
  Builder& solo(const Insn& in) {
    const MemType m = in.mem();
    if (in.op() == Opcode::kLoad && (m == MemType::kInp || m == MemType::kWgt)) {
      return add(deps(in, 0, 0, 0, 1)).add(deps(finish(), 1, 0, 0, 0));
    }
    if (in.op() == Opcode::kStore) return add(deps(in, 0, 0, 1, 0)).add(deps(finish(), 0, 1, 0, 0));
    return add(in).add(finish());
  }
  Program done(uint64_t extra_bytes = 0) const {
    Program p = p_;
    p.dram_bytes = align(p.uop_addr + 4 * p.uops.size() + extra_bytes);
    return p;
  }

 private:
  static uint64_t align(uint64_t a) { return (a + 4095) / 4096 * 4096; }
  HwConfig hw_;
  Isa isa_;
  Program p_;
};

SimResult run(const HwConfig& hw, const Program& p, bool functional = true) {
  SimOptions o;
  o.functional = functional;
  return simulate(hw, p, o);
}

// --- hand-written programs ---------------------------------------------------------------------

struct DenseOptions {
  int64_t uop_wgt_idx = 0;   // 0 is right
  int64_t gemm_iter_in = 2;  // 2 is right
  bool finish_waits_for_store = true;
};

// Dense n=BATCH, ci=co=2*BLOCK: two input blocks, 2x2 weight blocks, two output blocks, with
// every part of the pipeline: LOAD UOP, LOAD INP, LOAD WGT, GEMM reset, GEMM over loop factors,
// ALU SHR/MIN/MAX with immediates, STORE, FINISH, and the tokens between them.
Program dense_program(const HwConfig& hw, const DenseOptions& opt = {}) {
  Workload w;
  w.name = "dense test";
  w.dense = true;
  w.n = hw.batch();
  w.ci = w.co = 2 * hw.block();
  Builder b(hw, w, 7);
  b.uop(0, 0, opt.uop_wgt_idx);
  b.add(load(MemType::kUop, 0, b.uop_base(), 1, 1, 1));
  b.add(load(MemType::kInp, 0, b.inp_base(), 1, 2, 2));
  b.add(deps(load(MemType::kWgt, 0, b.wgt_base(), 1, 4, 4), 0, 0, 0, 1));
  b.add(dst_factors(gemm(0, 1, 2, 1, /*reset=*/true), 1, 0));
  // acc[co_blk] += inp[ci_blk] . wgt[co_blk * 2 + ci_blk]
  b.add(
      deps(wgt_factors(src_factors(dst_factors(gemm(0, 1, 2, opt.gemm_iter_in), 1, 0), 0, 1), 2, 1),
           1, 0, 0, 0));
  b.add(src_factors(dst_factors(alu(AluOp::kShr, w.shift, 0, 1, 2, 1), 1, 0), 1, 0));
  b.add(dst_factors(alu(AluOp::kMin, 127, 0, 1, 2, 1), 1, 0));
  b.add(deps(dst_factors(alu(AluOp::kMax, -128, 0, 1, 2, 1), 1, 0), 0, 0, 0, 1));
  b.add(deps(store(0, b.out_base(), 1, 2, 2), 1, 0, 1, 0));
  b.add(deps(finish(), 0, opt.finish_waits_for_store, 0, 0));
  return b.done();
}

// conv2d 4x4, 16 -> 16 channels, 3x3, pad 1 on the default VTA: one padded 2-D load of the
// input (6x6 entries), a 9-uop kernel looped over the 4x4 outputs.
Program conv3x3_program(const HwConfig& hw, int64_t wgt_shift = 0) {
  const Workload w = Workload::parse("conv2d:h=4,w=4,ci=16,co=16,k=3,pad=1");
  Builder b(hw, w, 3);
  for (int64_t kh = 0; kh < 3; ++kh) {
    for (int64_t kw = 0; kw < 3; ++kw) b.uop(0, kh * 6 + kw, kh * 3 + kw + wgt_shift);
  }
  b.uop(0, 0, 0);  // for the reset and the ALU
  b.add(load(MemType::kUop, 0, b.uop_base(), 1, 10, 10));
  Insn inp = load(MemType::kInp, 0, b.inp_base(), 4, 4, 4);
  inp.y_pad_0 = inp.y_pad_1 = inp.x_pad_0 = inp.x_pad_1 = 1;
  b.add(inp);
  b.add(deps(load(MemType::kWgt, 0, b.wgt_base(), 1, 9, 9), 0, 0, 0, 1));
  b.add(dst_factors(gemm(9, 10, 4, 4, true), 4, 1));
  b.add(deps(src_factors(dst_factors(gemm(0, 9, 4, 4), 4, 1), 6, 1), 1, 0, 0, 0));
  b.add(dst_factors(alu(AluOp::kShr, w.shift, 9, 10, 16, 1), 1, 0));
  b.add(dst_factors(alu(AluOp::kMin, 127, 9, 10, 16, 1), 1, 0));
  b.add(deps(dst_factors(alu(AluOp::kMax, -128, 9, 10, 16, 1), 1, 0), 0, 0, 0, 1));
  b.add(deps(store(0, b.out_base(), 1, 16, 16), 1, 0, 1, 0));
  b.add(deps(finish(), 0, 1, 0, 0));
  return b.done();
}

// ResNet-18 C2 (56x56, 64 -> 64, 3x3, pad 1) on the default VTA, tiled by `th` output rows with
// every channel on chip. With `split`, every micro-op of the 144-uop kernel is its own GEMM (many
// instructions); without, one GEMM per tile. Either way about 451k GEMM uop iterations.
Program c2_program(int64_t th, bool split) {
  const HwConfig hw;
  const Workload w = Workload::parse("resnet18.C2");
  Builder b(hw, w, 1);
  const int64_t dim = 56, cib = 4, cob = 4, row = dim + 2, tile_in = (th + 2) * row;
  for (int64_t co = 0; co < cob; ++co) {
    for (int64_t ci = 0; ci < cib; ++ci) {
      for (int64_t kh = 0; kh < 3; ++kh) {
        for (int64_t kw = 0; kw < 3; ++kw) {
          b.uop(co * th * dim, ci * tile_in + kh * row + kw, (co * cib + ci) * 9 + kh * 3 + kw);
        }
      }
    }
  }
  b.uop(0, 0, 0);
  b.add(load(MemType::kUop, 0, b.uop_base(), 1, 145, 145));
  b.add(load(MemType::kWgt, 0, b.wgt_base(), 1, 144, 144));
  for (int64_t y0 = 0; y0 < dim; y0 += th) {
    const bool first = y0 == 0;
    for (int64_t ci = 0; ci < cib; ++ci) {
      const int64_t r0 = y0 - 1, r1 = y0 + th + 1;
      const int64_t lo = std::max<int64_t>(r0, 0), hi = std::min<int64_t>(r1, dim);
      Insn in = load(MemType::kInp, ci * tile_in, b.inp_base() + (ci * dim + lo) * dim, hi - lo,
                     dim, dim);
      in.x_pad_0 = in.x_pad_1 = 1;
      in.y_pad_0 = lo - r0;
      in.y_pad_1 = r1 - hi;
      b.add(deps(in, 0, ci == 0 && !first, 0, ci == cib - 1));
    }
    b.add(deps(dst_factors(gemm(144, 145, cob * th, dim, true), dim, 1), 0, !first, 0, 0));
    const int64_t kernels = split ? 144 : 1;
    for (int64_t k = 0; k < kernels; ++k) {
      const Insn g = split ? gemm(k, k + 1, th, dim) : gemm(0, 144, th, dim);
      b.add(deps(src_factors(dst_factors(g, dim, 1), row, 1), k == 0, 0, k == kernels - 1, 0));
    }
    for (AluOp op : {AluOp::kShr, AluOp::kMin, AluOp::kMax}) {
      const int64_t imm = op == AluOp::kShr ? w.shift : op == AluOp::kMin ? 127 : -128;
      Insn a = dst_factors(alu(op, imm, 144, 145, cob * th, dim), dim, 1);
      b.add(deps(a, 0, 0, 0, op == AluOp::kMax));
    }
    for (int64_t co = 0; co < cob; ++co) {
      const Insn s =
          store(co * th * dim, b.out_base() + (co * dim + y0) * dim, 1, th * dim, th * dim);
      b.add(deps(s, co == 0, 0, co == cob - 1, 0));
    }
  }
  b.add(deps(finish(), 0, 1, 0, 0));
  return b.done();
}

// --- functional results ------------------------------------------------------------------------

TEST(VtaSimulator, DenseProgramMatchesTheReference) {
  for (const char* preset : {"default", "extended"}) {
    const HwConfig hw = HwConfig::preset(preset);
    const SimResult r = run(hw, dense_program(hw));
    EXPECT_EQ(r.status, Status::kOk) << preset << ": " << r.message;
    EXPECT_EQ(r.mismatches, 0);
    EXPECT_EQ(r.insns_executed, 10);
    EXPECT_EQ(r.gemm_counter, 4);  // the reset GEMM is not counted, as in VTA's sim_driver
    EXPECT_EQ(r.alu_counter, 6);
    EXPECT_EQ(r.inp_load_bytes, 2 * hw.inp_elem_bytes());
    EXPECT_EQ(r.wgt_load_bytes, 4 * hw.wgt_elem_bytes());
    EXPECT_EQ(r.uop_load_bytes, 4);
    EXPECT_EQ(r.acc_load_bytes, 0);
    EXPECT_EQ(r.out_store_bytes, 2 * hw.out_elem_bytes());
    EXPECT_GT(r.cycles, 0);
    EXPECT_DOUBLE_EQ(r.latency_ms, static_cast<double>(r.cycles) / (hw.clock_mhz * 1000));
  }
}

TEST(VtaSimulator, DenseProgramWithBatch2) {
  HwConfig hw;
  hw.log_batch = 1;
  const SimResult r = run(hw, dense_program(hw));
  EXPECT_EQ(r.status, Status::kOk) << r.message;
}

TEST(VtaSimulator, WrongWeightIndexIsAWrongAnswer) {
  const HwConfig hw;
  DenseOptions opt;
  opt.uop_wgt_idx = 1;
  const SimResult r = run(hw, dense_program(hw, opt));
  EXPECT_EQ(r.status, Status::kWrongAnswer);
  EXPECT_GT(r.mismatches, 0);
  EXPECT_LE(r.mismatches, 32);
  EXPECT_NE(r.message.find("output differs from the reference in " + std::to_string(r.mismatches) +
                           " of 32 values (first at n=0, co="),
            std::string::npos)
      << r.message;
  // The timing-only path does not compare.
  EXPECT_EQ(run(hw, dense_program(hw, opt), false).status, Status::kOk);
}

TEST(VtaSimulator, Conv3x3WithPaddedLoadMatchesTheReference) {
  const HwConfig hw;
  const SimResult r = run(hw, conv3x3_program(hw));
  EXPECT_EQ(r.status, Status::kOk) << r.message;
  EXPECT_EQ(r.gemm_counter, 16 * 9);
  const SimResult wrong = run(hw, conv3x3_program(hw, /*wgt_shift=*/1));
  EXPECT_EQ(wrong.status, Status::kWrongAnswer);
}

// GEMM into acc[0], then acc[1] = acc[0] rebuilt through every ALU operation (ADD of two
// accumulators, MUL, SHR left and right, MAX and MIN against extreme values loaded with LOAD ACC),
// requantised and stored: right only if each operation does what VTA's does.
Program alu_program(int64_t final_shr) {
  const HwConfig hw;
  Builder b(hw, tiny(), 5);
  b.uop(0, 0, 0).uop(1, 0, 0).uop(1, 2, 0).uop(1, 3, 0);
  for (int i = 4; i < 16; ++i) b.raw(0);
  for (int i = 0; i < 16; ++i) b.raw(0x80000000u);  // INT32_MIN in every lane
  for (int i = 0; i < 16; ++i) b.raw(0x7fffffffu);  // INT32_MAX
  b.add(load(MemType::kUop, 0, b.uop_base(), 1, 4, 4));
  b.add(load(MemType::kAcc, 2, b.uop_base() / 16 + 1, 1, 2, 2));
  b.add(load(MemType::kInp, 0, b.inp_base(), 1, 1, 1));
  b.add(deps(load(MemType::kWgt, 0, b.wgt_base(), 1, 1, 1), 0, 0, 0, 1));
  b.add(gemm(0, 2, 1, 1, /*reset=*/true));
  b.add(deps(gemm(0, 1, 1, 1), 1, 0, 0, 0));
  Insn add = alu(AluOp::kAdd, 0, 1, 2, 1, 1);
  add.use_imm = 0;
  b.add(add);                                      // acc1 = 0 + acc0
  b.add(alu(AluOp::kMul, 4, 1, 2, 1, 1));          // x 4
  b.add(alu(AluOp::kShr, -1, 1, 2, 1, 1));         // << 1
  b.add(alu(AluOp::kShr, final_shr, 1, 2, 1, 1));  // >> 3 restores acc0
  Insn mx = alu(AluOp::kMax, 0, 2, 3, 1, 1);
  mx.use_imm = 0;
  b.add(mx);  // max(acc1, INT32_MIN)
  Insn mn = alu(AluOp::kMin, 0, 3, 4, 1, 1);
  mn.use_imm = 0;
  b.add(mn);  // min(acc1, INT32_MAX)
  b.add(alu(AluOp::kShr, 8, 1, 2, 1, 1));
  b.add(alu(AluOp::kMin, 127, 1, 2, 1, 1));
  b.add(deps(alu(AluOp::kMax, -128, 1, 2, 1, 1), 0, 0, 0, 1));
  b.add(deps(store(1, b.out_base(), 1, 1, 1), 1, 0, 1, 0));
  b.add(deps(finish(), 0, 1, 0, 0));
  return b.done();
}

TEST(VtaSimulator, AluOperationsAndAccumulatorLoads) {
  const HwConfig hw;
  const SimResult r = run(hw, alu_program(3));
  EXPECT_EQ(r.status, Status::kOk) << r.message;
  EXPECT_EQ(r.acc_load_bytes, 2 * 64);
  EXPECT_EQ(run(hw, alu_program(2)).status, Status::kWrongAnswer);
}

TEST(VtaSimulator, StoreThatCompletesAfterFinishDoesNotCount) {
  // Without the final store->compute token, FINISH ends before the STORE: the host reads an
  // output region that was never written.
  const HwConfig hw;
  DenseOptions opt;
  opt.finish_waits_for_store = false;
  const SimResult r = run(hw, dense_program(hw, opt));
  EXPECT_EQ(r.status, Status::kWrongAnswer) << r.message;
  EXPECT_EQ(r.out_store_bytes, 0);
  EXPECT_EQ(r.insns_executed, 9);
}

TEST(VtaSimulator, FieldOverflowComputesNothing) {
  const HwConfig hw;
  DenseOptions opt;
  opt.gemm_iter_in = 16384;  // 14-bit field: encodes as 0
  const Insn g = gemm(0, 1, 2, 16384);
  EXPECT_FALSE(Isa(hw).fits(g));
  EXPECT_EQ(Isa(hw).decode(Isa(hw).encode(g)).iter_in, 0);
  const SimResult r = run(hw, dense_program(hw, opt));
  EXPECT_EQ(r.status, Status::kWrongAnswer) << r.message;
  EXPECT_EQ(r.gemm_counter, 0);
}

// --- the cost of each instruction ----------------------------------------------------------------

// Runs `in` alone in its module, timed against a FINISH that waits for it.
SimResult single(const HwConfig& hw, const Insn& in) {
  return run(hw, Builder(hw).solo(in).done(1 << 20), false);
}

TEST(VtaSimulatorTiming, EachInstructionCostsItsFormula) {
  const HwConfig hw;  // overhead 2, DRAM latency 40, 8-byte bus, 16-beat bursts of 4 cycles
  ASSERT_EQ(hw.insn_overhead_cycles, 2);
  // FINISH alone.
  EXPECT_EQ(run(hw, Builder(hw).add(finish()).done(), false).cycles, 2);
  // LOAD inp 3 rows of 10 entries (160 bytes: 20 beats, 2 bursts), pads 1/0 rows and 1/2
  // columns: 13 x 4 entries, 22 of them padding.
  Insn inp = load(MemType::kInp, 0, 0, 3, 10, 10);
  inp.y_pad_0 = 1;
  inp.x_pad_0 = 1;
  inp.x_pad_1 = 2;
  SimResult r = single(hw, inp);
  EXPECT_EQ(r.status, Status::kOk) << r.message;
  EXPECT_EQ(r.load_busy, 2 + 40 + 3 * (20 + 2 * 4) + 22);
  EXPECT_EQ(r.cycles, r.load_busy + 2);
  EXPECT_EQ(r.inp_load_bytes, 3 * 10 * 16);
  // LOAD wgt 2 entries: 512 bytes, 64 beats, 4 bursts.
  r = single(hw, load(MemType::kWgt, 0, 0, 1, 2, 2));
  EXPECT_EQ(r.load_busy, 2 + 40 + 64 + 4 * 4);
  // LOAD uop 5 entries: 20 bytes, 3 beats, 1 burst (compute module).
  r = single(hw, load(MemType::kUop, 0, 0, 1, 5, 5));
  EXPECT_EQ(r.compute_busy, 2 + 40 + 3 + 4 + 2);
  EXPECT_EQ(r.cycles, 2 + 40 + 3 + 4 + 2);
  // LOAD acc 1 entry: 64 bytes, 8 beats.
  r = single(hw, load(MemType::kAcc, 0, 0, 1, 1, 1));
  EXPECT_EQ(r.compute_busy, 2 + 40 + 8 + 4 + 2);
  EXPECT_EQ(r.acc_load_bytes, 64);
  // STORE 2 rows of 4 entries: 64 bytes per row, 8 beats, 1 burst.
  r = single(hw, store(0, 0, 2, 4, 8));
  EXPECT_EQ(r.store_busy, 2 + 40 + 2 * (8 + 4));
  EXPECT_EQ(r.cycles, r.store_busy + 2);
  EXPECT_EQ(r.out_store_bytes, 2 * 4 * 16);
  // A zero-size load: the overhead only.
  r = single(hw, load(MemType::kInp, 0, 0, 0, 0, 0));
  EXPECT_EQ(r.load_busy, 2);
  r = single(hw, load(MemType::kInp, 0, 0, 0, 5, 5));
  EXPECT_EQ(r.load_busy, 2);
  // GEMM 3 x 5 iterations of 4 uops.
  r = single(hw, gemm(2, 6, 3, 5));
  EXPECT_EQ(r.compute_busy, 2 + 5 + 60 + 2);
  EXPECT_EQ(r.gemm_counter, 60);
  // ALU with two accumulator operands and with an immediate.
  Insn a = alu(AluOp::kAdd, 0, 2, 6, 3, 5);
  a.use_imm = 0;
  r = single(hw, a);
  EXPECT_EQ(r.compute_busy, 2 + 3 + 60 * 2 + 2);
  EXPECT_EQ(r.alu_counter, 60);
  r = single(hw, alu(AluOp::kAdd, 1, 2, 6, 3, 5));
  EXPECT_EQ(r.compute_busy, 2 + 3 + 60 + 2);
}

TEST(VtaSimulatorTiming, ParametersOfTheHardwareApply) {
  HwConfig hw;
  hw.insn_overhead_cycles = 1;
  hw.gemm_pipeline_depth = 10;
  hw.gemm_ii = 3;
  hw.bus_bytes = 16;
  hw.max_burst_beats = 4;
  hw.burst_overhead_cycles = 7;
  hw.dram_latency_cycles = 100;
  hw.clock_mhz = 250;
  SimResult r = single(hw, gemm(0, 2, 1, 10));
  EXPECT_EQ(r.cycles, 1 + 10 + 20 * 3 + 1);
  EXPECT_DOUBLE_EQ(r.latency_ms, r.cycles / 250e3);
  // Rows of 10 entries of 16 bytes: 10 beats of 16 bytes in 3 bursts of at most 4 beats.
  r = single(hw, load(MemType::kInp, 0, 0, 2, 10, 10));
  EXPECT_EQ(r.load_busy, 1 + 100 + 2 * (10 + 3 * 7));
}

// --- overlap and tokens --------------------------------------------------------------------------

TEST(VtaSimulatorTiming, IndependentLoadAndComputeOverlap) {
  const HwConfig hw;
  const Insn big_load = load(MemType::kInp, 0, 0, 8, 16, 16);  // 2 + 40 + 8 * (32 + 8) = 362
  const Insn big_gemm = gemm(0, 1, 10, 10);                    // 2 + 5 + 100 = 107
  // Independent: FINISH waits for both.
  const Program overlap = Builder(hw)
                              .add(deps(big_load, 0, 0, 0, 1))
                              .add(big_gemm)
                              .add(deps(finish(), 1, 0, 0, 0))
                              .done();
  // The GEMM waits for the load.
  const Program serial = Builder(hw)
                             .add(deps(big_load, 0, 0, 0, 1))
                             .add(deps(big_gemm, 1, 0, 0, 0))
                             .add(finish())
                             .done();
  const SimResult a = run(hw, overlap, false), b = run(hw, serial, false);
  ASSERT_EQ(a.status, Status::kOk) << a.message;
  ASSERT_EQ(b.status, Status::kOk) << b.message;
  EXPECT_EQ(a.load_busy, 362);
  EXPECT_EQ(a.cycles, 362 + 2);
  EXPECT_EQ(b.cycles, 362 + 107 + 2);
  EXPECT_LT(a.cycles, a.load_busy + a.compute_busy);
}

TEST(VtaSimulatorTiming, ComputeStoreTokensSerialise) {
  const HwConfig hw;
  const Insn st = store(0, 0, 1, 16, 16);  // 2 + 40 + 32 + 2 * 4 = 82
  // GEMM -> STORE -> FINISH through compute->store and store->compute.
  const Program p = Builder(hw)
                        .add(deps(gemm(0, 1, 1, 50), 0, 0, 0, 1))
                        .add(deps(st, 1, 0, 1, 0))
                        .add(deps(finish(), 0, 1, 0, 0))
                        .done();
  const SimResult r = run(hw, p, false);
  ASSERT_EQ(r.status, Status::kOk) << r.message;
  EXPECT_EQ(r.store_busy, 82);
  EXPECT_EQ(r.cycles, 57 + 82 + 2);
}

TEST(VtaSimulatorTiming, IgnoresDependencyBitsOfMissingQueues) {
  // The load module has no "prev" queues and the store module no "next" queues.
  const HwConfig hw;
  const Program p = Builder(hw)
                        .add(deps(load(MemType::kInp, 0, 0, 1, 1, 1), 1, 0, 1, 0))
                        .add(deps(store(0, 0, 1, 1, 1), 0, 1, 0, 1))
                        .add(finish())
                        .done();
  const SimResult r = run(hw, p, false);
  EXPECT_EQ(r.status, Status::kOk) << r.message;
  EXPECT_EQ(r.cycles, 2);
}

TEST(VtaSimulatorTiming, TokenDeadlockTimesOut) {
  const HwConfig hw;
  const Program p = Builder(hw).add(deps(gemm(0, 1, 1, 1), 1, 0, 0, 0)).add(finish()).done();
  const SimResult r = run(hw, p);
  EXPECT_EQ(r.status, Status::kRunTimeout);
  EXPECT_EQ(r.message,
            "token deadlock: compute (instruction 0) waits for a load->compute token; the driver "
            "timed out");
  // Two modules waiting on each other.
  const Program q = Builder(hw)
                        .add(deps(nop_load(MemType::kInp), 0, 1, 0, 1))
                        .add(deps(gemm(0, 1, 1, 1), 0, 1, 1, 0))
                        .add(finish())
                        .done();
  const SimResult s = run(hw, q, false);
  EXPECT_EQ(s.status, Status::kRunTimeout);
  EXPECT_EQ(s.message,
            "token deadlock: load (instruction 0) waits for a compute->load token, compute "
            "(instruction 1) waits for a store->compute token; the driver timed out");
}

TEST(VtaSimulatorTiming, MissingFinishTimesOut) {
  const HwConfig hw;
  const SimResult r = run(hw, Builder(hw).add(gemm(0, 1, 1, 1)).done(), false);
  EXPECT_EQ(r.status, Status::kRunTimeout);
  EXPECT_EQ(r.message, "the instruction stream has no FINISH; the driver timed out");
  EXPECT_EQ(run(hw, Builder(hw).done(), false).status, Status::kRunTimeout);
}

TEST(VtaSimulatorTiming, CycleBoundTimesOut) {
  HwConfig hw;
  hw.timeout_cycles = 1000;
  const SimResult r = run(hw, Builder(hw).add(gemm(0, 1, 100, 100)).add(finish()).done(), false);
  EXPECT_EQ(r.status, Status::kRunTimeout);
  EXPECT_EQ(r.cycles, 2 + 5 + 10000 + 2);
  EXPECT_NE(r.message.find("more than the 1000 the driver waits"), std::string::npos) << r.message;
}

TEST(VtaSimulatorTiming, FullTokenQueueMakesTheProducerWait) {
  HwConfig hw;
  hw.token_queue_depth = 2;
  const int64_t d = 2 + 5 + 100;                                // the GEMM
  const Insn long_load = load(MemType::kInp, 0, 0, 8, 16, 16);  // 362
  Builder b(hw);
  for (int i = 0; i < 5; ++i) b.add(deps(nop_load(MemType::kInp), 0, 0, 0, 1));
  b.add(deps(long_load, 0, 0, 0, 1));
  b.add(gemm(0, 1, 10, 10));
  for (int i = 0; i < 5; ++i) b.add(deps(nop_load(MemType::kUop), 1, 0, 0, 0));
  b.add(deps(finish(), 1, 0, 0, 0));
  const SimResult r = run(hw, b.done(), false);
  ASSERT_EQ(r.status, Status::kOk) << r.message;
  // The third push waits for the first pop (at d), the fourth for the second (d + 2), the fifth
  // for the third (d + 4); the long load follows the fifth push and FINISH waits for it.
  EXPECT_EQ(r.cycles, d + 6 + 362 + 2);
  hw.token_queue_depth = 6;  // room for every token: the load runs ahead
  EXPECT_EQ(run(hw, b.done(), false).cycles, 10 + 362 + 2);
}

TEST(VtaSimulatorTiming, FullTokenQueuesCanDeadlock) {
  // Each side pushes three tokens before popping the other's: fine with room for three tokens,
  // a deadlock with room for two.
  HwConfig hw;
  Builder b(hw);
  for (int i = 0; i < 3; ++i) b.add(deps(nop_load(MemType::kInp), 0, 0, 0, 1));
  b.add(deps(nop_load(MemType::kInp), 0, 1, 0, 0));
  for (int i = 0; i < 3; ++i) b.add(deps(nop_load(MemType::kUop), 0, 0, 1, 0));
  for (int i = 0; i < 3; ++i) b.add(deps(nop_load(MemType::kUop), 1, 0, 0, 0));
  b.add(finish());
  hw.token_queue_depth = 3;
  EXPECT_EQ(run(hw, b.done(), false).status, Status::kOk);
  hw.token_queue_depth = 2;
  const SimResult r = run(hw, b.done(), false);
  EXPECT_EQ(r.status, Status::kRunTimeout);
  EXPECT_EQ(r.message,
            "token deadlock: load (instruction 2) waits for a free slot in the full "
            "load->compute queue (2 tokens), compute (instruction 6) waits for a free slot in the "
            "full compute->load queue (2 tokens); the driver timed out");
}

// --- runtime faults ------------------------------------------------------------------------------

TEST(VtaSimulatorFaults, UopKernelLargerThanTheBuffer) {
  const HwConfig hw;
  Builder b(hw);
  b.add(load(MemType::kUop, 0, 0, 1, 9000, 9000)).add(finish());
  for (bool functional : {true, false}) {
    const SimResult r = run(hw, b.done(1 << 16), functional);
    EXPECT_EQ(r.status, Status::kRuntimeError);
    EXPECT_EQ(r.message,
              "instruction 0 (LOAD uop): a uop kernel of 9000 micro-ops at offset 0 does not fit "
              "the 8192-entry uop buffer");
  }
  // A GEMM whose micro-op range runs past the buffer.
  const SimResult g = run(hw, Builder(hw).add(gemm(8000, 8193, 1, 1)).add(finish()).done(), false);
  EXPECT_EQ(g.status, Status::kRuntimeError);
  EXPECT_NE(g.message.find("instruction 0 (GEMM): micro-ops [8000, 8193) exceed"),
            std::string::npos)
      << g.message;
}

TEST(VtaSimulatorFaults, GemmIndexOutOfRange) {
  const HwConfig hw;
  const Workload w = Workload::parse("dense:ci=16,co=16");
  Builder b(hw, w);
  b.uop(0, 2047, 0);
  b.add(load(MemType::kUop, 0, b.uop_base(), 1, 1, 1));
  b.add(src_factors(gemm(0, 1, 1, 2), 0, 1));  // input 2047, then 2048
  b.add(finish());
  const SimResult r = run(hw, b.done());
  EXPECT_EQ(r.status, Status::kRuntimeError);
  EXPECT_EQ(r.message, "instruction 1 (GEMM): input index 2048 out of range (2048 entries)");
  // The timing-only path does not check per-iteration indices.
  EXPECT_EQ(run(hw, b.done(), false).status, Status::kOk);
  // Accumulator and ALU source indices.
  Builder c(hw, w);
  c.uop(2000, 0, 0);
  c.add(load(MemType::kUop, 0, c.uop_base(), 1, 1, 1));
  Insn a = dst_factors(alu(AluOp::kAdd, 0, 0, 1, 2, 1), 48, 0);
  c.add(a).add(finish());
  EXPECT_EQ(run(hw, c.done()).message,
            "instruction 1 (ALU): accumulator index 2048 out of range (2048 entries)");
}

TEST(VtaSimulatorFaults, SramFootprintAndDramBounds) {
  const HwConfig hw;
  Insn inp = load(MemType::kInp, 2000, 0, 7, 7, 7);
  inp.x_pad_0 = 1;
  SimResult r = run(hw, Builder(hw).solo(inp).done(1 << 16), false);
  EXPECT_EQ(r.status, Status::kRuntimeError);
  EXPECT_EQ(r.message,
            "instruction 0 (LOAD inp): a footprint of 56 entries at offset 2000 does not fit the "
            "2048-entry inp buffer");
  // A 4096-byte image: input entry 256 starts at byte 4096.
  auto small = [](Program p) {
    p.dram_bytes = 4096;
    return p;
  };
  r = run(hw, small(Builder(hw).solo(load(MemType::kInp, 0, 255, 1, 1, 1)).done()), false);
  EXPECT_EQ(r.status, Status::kOk) << r.message;
  r = run(hw, small(Builder(hw).solo(load(MemType::kInp, 0, 255, 2, 1, 1)).done()), false);
  EXPECT_EQ(r.status, Status::kRuntimeError);
  EXPECT_EQ(r.message,
            "instruction 0 (LOAD inp): DRAM read at byte 4111 beyond the 4096-byte image");
  r = run(hw, small(Builder(hw).solo(store(0, 256, 1, 1, 1)).done()), false);
  EXPECT_EQ(r.message, "instruction 0 (STORE): DRAM write at byte 4111 beyond the 4096-byte image");
  r = run(hw, Builder(hw).solo(store(2040, 0, 3, 3, 3)).done(), false);
  EXPECT_EQ(r.status, Status::kRuntimeError);
  EXPECT_NE(r.message.find("2048-entry out buffer"), std::string::npos) << r.message;
}

TEST(VtaSimulatorFaults, MalformedInstructions) {
  const HwConfig hw;
  // The stream ends at FINISH: what follows is never fetched.
  SimResult r =
      run(hw, Builder(hw).add(finish()).add(load(MemType::kAcc8, 0, 0, 1, 1, 1)).done(), false);
  EXPECT_EQ(r.status, Status::kOk) << r.message;
  r = run(hw,
          Builder(hw)
              .add(gemm(0, 1, 1, 1))
              .add(load(MemType::kAcc8, 0, 0, 1, 1, 1))
              .add(finish())
              .done(),
          false);
  EXPECT_EQ(r.status, Status::kRuntimeError);
  EXPECT_NE(r.message.find("instruction 1 (LOAD acc8)"), std::string::npos) << r.message;
  Insn padded = store(0, 0, 1, 1, 1);
  padded.x_pad_1 = 1;
  r = run(hw, Builder(hw).add(padded).add(finish()).done(), false);
  EXPECT_EQ(r.status, Status::kRuntimeError);
  EXPECT_NE(r.message.find("instruction 0 (STORE)"), std::string::npos) << r.message;
  Program p = Builder(hw).add(finish()).done();
  p.insns.insert(p.insns.begin(), Word128{7, 0});  // opcode 7
  r = run(hw, p, false);
  EXPECT_EQ(r.status, Status::kRuntimeError);
  EXPECT_EQ(r.message, "instruction 0: unknown opcode 7");
}

// --- determinism and speed -------------------------------------------------------------------

TEST(VtaSimulator, Deterministic) {
  const HwConfig hw;
  const Program p = conv3x3_program(hw);
  EXPECT_EQ(run(hw, p), run(hw, p));
  EXPECT_EQ(run(hw, p, false), run(hw, p, false));
  const SimResult a = run(hw, p), b = run(hw, p, false);
  EXPECT_EQ(a.cycles, b.cycles);
  EXPECT_EQ(a.gemm_counter, b.gemm_counter);
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

TEST(VtaSimulator, ResnetC2ProgramIsCorrectAndFast) {
  const HwConfig hw;
  const Program one = c2_program(4, /*split=*/false);
  const Program many = c2_program(1, /*split=*/true);
  prepared(hw, one.workload, one.data_seed);  // the reference, computed once per process
  for (const Program* p : {&one, &many}) {
    auto t0 = std::chrono::steady_clock::now();
    const SimResult f = run(hw, *p);
    const double functional_ms = ms_since(t0);
    ASSERT_EQ(f.status, Status::kOk) << f.message;
    EXPECT_EQ(f.gemm_counter, 451584);
    t0 = std::chrono::steady_clock::now();
    const int reps = 20;
    SimResult t;
    for (int i = 0; i < reps; ++i) t = run(hw, *p, false);
    const double timing_ms = ms_since(t0) / reps;
    EXPECT_EQ(t.cycles, f.cycles);
    std::cout << "[ C2 program ] " << p->insns.size() << " instructions, " << f.gemm_counter
              << " GEMM uop iterations, " << f.cycles << " cycles: functional " << functional_ms
              << " ms, timing-only " << timing_ms << " ms\n";
    EXPECT_LT(functional_ms, 1000.0);
    EXPECT_LT(timing_ms, 100.0);
  }
}

}  // namespace
}  // namespace ml2::vta
