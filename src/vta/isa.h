// VTA's instruction set and its bit-exact encoding (apache/tvm-vta include/vta/hw_spec.h).
//
// Instructions are 128 bit, micro-ops 32 bit. The layouts are C bit-fields of uint64_t (uint32_t
// for micro-ops) in declaration order, allocated as GCC allocates them on x86-64 and AArch64: a
// field that does not fit in what is left of its 64-bit unit starts the next unit. Widths that
// depend on the buffer depths follow the hardware configuration, so the layout is computed, not
// written down; for the default build it gives:
//   LOAD/STORE  opcode 0-2, deps 3-6, memory_type 7-9, sram_base 10-25, dram_base 26-57,
//               y_size 64-79, x_size 80-95, x_stride 96-111, y_pad_0 112-115, y_pad_1 116-119,
//               x_pad_0 120-123, x_pad_1 124-127
//   GEMM        opcode, deps, reset_reg 7, uop_bgn 8-20, uop_end 21-34, iter_out 35-48,
//               iter_in 49-62, dst_factor_out 64-74, dst_factor_in 75-85, src_factor_out 86-96,
//               src_factor_in 97-107, wgt_factor_out 108-117, wgt_factor_in 118-127
//   ALU         as GEMM up to iter_in, dst/src factors 64-107 (accumulator width),
//               alu_opcode 108-110, use_imm 111, imm 112-127 (signed)
//   uop         dst_idx 0-10, src_idx 11-21, wgt_idx 22-31
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vta/hw_config.h"

namespace ml2::vta {

enum class Opcode : int { kLoad = 0, kStore = 1, kGemm = 2, kFinish = 3, kAlu = 4 };
enum class MemType : int { kUop = 0, kWgt = 1, kInp = 2, kAcc = 3, kOut = 4, kAcc8 = 5 };
enum class AluOp : int { kMin = 0, kMax = 1, kAdd = 2, kShr = 3, kMul = 4 };

const char* to_string(Opcode op);
const char* to_string(MemType m);
const char* to_string(AluOp op);

// A decoded instruction. Every field is a plain integer so that the compiler can hold values
// that do not fit their encoding (the encoder truncates them, as hardware would).
struct Insn {
  int64_t opcode = static_cast<int64_t>(Opcode::kFinish);
  int64_t pop_prev_dep = 0, pop_next_dep = 0, push_prev_dep = 0, push_next_dep = 0;
  // LOAD / STORE
  int64_t memory_type = 0, sram_base = 0, dram_base = 0, y_size = 0, x_size = 0, x_stride = 0;
  int64_t y_pad_0 = 0, y_pad_1 = 0, x_pad_0 = 0, x_pad_1 = 0;
  // GEMM / ALU
  int64_t reset_reg = 0, uop_bgn = 0, uop_end = 0, iter_out = 0, iter_in = 0;
  int64_t dst_factor_out = 0, dst_factor_in = 0, src_factor_out = 0, src_factor_in = 0;
  int64_t wgt_factor_out = 0, wgt_factor_in = 0;  // GEMM only
  int64_t alu_opcode = 0, use_imm = 0, imm = 0;   // ALU only

  Opcode op() const { return static_cast<Opcode>(opcode); }
  MemType mem() const { return static_cast<MemType>(memory_type); }
  AluOp alu() const { return static_cast<AluOp>(alu_opcode); }
  bool operator==(const Insn&) const = default;
};

struct Uop {
  int64_t dst_idx = 0;  // accumulator entry
  int64_t src_idx = 0;  // input entry (GEMM) or accumulator entry (ALU)
  int64_t wgt_idx = 0;  // weight entry (GEMM)
  bool operator==(const Uop&) const = default;
};

struct Word128 {
  uint64_t lo = 0, hi = 0;
  bool operator==(const Word128&) const = default;
};

// One bit-field of an encoding.
struct Field {
  std::string name;
  int offset = 0;  // first bit, from the least significant bit of the 128-bit word
  int width = 0;
  bool is_signed = false;
  int64_t Insn::*member = nullptr;  // nullptr for micro-op fields
  int64_t Uop::*uop_member = nullptr;
  int64_t max_value() const {
    return is_signed ? (int64_t{1} << (width - 1)) - 1 : (int64_t{1} << width) - 1;
  }
  int64_t min_value() const { return is_signed ? -(int64_t{1} << (width - 1)) : 0; }
};

// The layouts of one hardware configuration. Construction throws std::invalid_argument if an
// instruction does not fit 128 bits or a micro-op 32 bits.
class Isa {
 public:
  explicit Isa(const HwConfig& hw);

  // The fields of the instruction format used by `op` (LOAD and STORE share one, FINISH uses the
  // generic opcode-and-dependencies format).
  const std::vector<Field>& layout(Opcode op) const;
  const std::vector<Field>& uop_layout() const { return uop_; }

  // Encoding truncates every value to its field (two's complement for signed fields).
  Word128 encode(const Insn& insn) const;
  Insn decode(const Word128& word) const;  // an unknown opcode decodes its generic fields only
  uint32_t encode(const Uop& uop) const;
  Uop decode_uop(uint32_t word) const;

  // Whether every value of `insn` fits its field.
  bool fits(const Insn& insn) const;

 private:
  std::vector<Field> generic_, mem_, gemm_, alu_, uop_;
};

}  // namespace ml2::vta
