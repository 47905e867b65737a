#include "vta/timing.h"

#include <algorithm>

namespace ml2::vta {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t mem_cycles(const HwConfig& hw, const Insn& in) {
  if (in.x_size == 0 || in.y_size == 0) return hw.insn_overhead_cycles;
  const int64_t beats = ceil_div(
      in.x_size * (in.op() == Opcode::kStore ? hw.out_elem_bytes() : entry_bytes(hw, in.mem())),
      hw.bus_bytes);
  const int64_t bursts = ceil_div(beats, hw.max_burst_beats);
  const int64_t pads =
      (in.x_size + in.x_pad_0 + in.x_pad_1) * (in.y_size + in.y_pad_0 + in.y_pad_1) -
      in.x_size * in.y_size;
  return hw.insn_overhead_cycles + hw.dram_latency_cycles +
         in.y_size * (beats + bursts * hw.burst_overhead_cycles) + pads;
}

}  // namespace

int64_t entry_bytes(const HwConfig& hw, MemType mem) {
  switch (mem) {
    case MemType::kUop:
      return 4;
    case MemType::kInp:
      return hw.inp_elem_bytes();
    case MemType::kWgt:
      return hw.wgt_elem_bytes();
    case MemType::kAcc:
      return hw.acc_elem_bytes();
    case MemType::kOut:
      return hw.out_elem_bytes();
    default:
      return 1;
  }
}

int64_t insn_cycles(const HwConfig& hw, const Insn& in) {
  const int64_t uops = std::max<int64_t>(0, in.uop_end - in.uop_bgn);
  switch (in.op()) {
    case Opcode::kLoad:
    case Opcode::kStore:
      return mem_cycles(hw, in);
    case Opcode::kGemm:
      return hw.insn_overhead_cycles + hw.gemm_pipeline_depth +
             in.iter_out * in.iter_in * uops * hw.gemm_ii;
    case Opcode::kAlu:
      return hw.insn_overhead_cycles + hw.alu_pipeline_depth +
             in.iter_out * in.iter_in * uops * (in.use_imm ? hw.alu_ii_imm : hw.alu_ii);
    case Opcode::kFinish:
      break;
  }
  return hw.insn_overhead_cycles;
}

}  // namespace ml2::vta
