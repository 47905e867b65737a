#include "vta/isa.h"

#include <stdexcept>

namespace ml2::vta {
namespace {

constexpr int kOpcodeBits = 3;
constexpr int kMemTypeBits = 3;
constexpr int kSramAddrBits = 16;
constexpr int kDramAddrBits = 32;
constexpr int kSizeBits = 16;
constexpr int kStrideBits = 16;
constexpr int kPadBits = 4;
constexpr int kLoopIterBits = 14;
constexpr int kAluOpcodeBits = 3;
constexpr int kImmBits = 16;

// Lays out bit-fields of a `unit_bits` storage type the way GCC does: a field that would cross
// the end of its storage unit starts the next one.
class Packer {
 public:
  Packer(int unit_bits, int total_bits) : unit_(unit_bits), total_(total_bits) {}
  Packer& add(const char* name, int width, int64_t Insn::*member, bool is_signed = false) {
    place(name, width, is_signed).member = member;
    return *this;
  }
  Packer& add_uop(const char* name, int width, int64_t Uop::*member) {
    place(name, width, false).uop_member = member;
    return *this;
  }
  std::vector<Field> take(const char* what) {
    if (offset_ > total_) {
      throw std::invalid_argument(std::string("inconsistent hardware configuration: the ") + what +
                                  " format needs " + std::to_string(offset_) + " bits, more than " +
                                  std::to_string(total_));
    }
    return std::move(fields_);
  }

 private:
  Field& place(const char* name, int width, bool is_signed) {
    if (width < 1 || width > unit_) {
      throw std::invalid_argument(std::string("inconsistent hardware configuration: field ") +
                                  name + " would be " + std::to_string(width) + " bits wide");
    }
    if (offset_ % unit_ + width > unit_) offset_ += unit_ - offset_ % unit_;
    Field f;
    f.name = name;
    f.offset = offset_;
    f.width = width;
    f.is_signed = is_signed;
    offset_ += width;
    fields_.push_back(f);
    return fields_.back();
  }
  int unit_, total_;
  int offset_ = 0;
  std::vector<Field> fields_;
};

Packer header() {
  Packer p(64, 128);
  p.add("opcode", kOpcodeBits, &Insn::opcode)
      .add("pop_prev_dep", 1, &Insn::pop_prev_dep)
      .add("pop_next_dep", 1, &Insn::pop_next_dep)
      .add("push_prev_dep", 1, &Insn::push_prev_dep)
      .add("push_next_dep", 1, &Insn::push_next_dep);
  return p;
}

uint64_t get_bits(const Word128& w, int offset, int width) {
  // Fields never straddle the two 64-bit units (see Packer).
  const uint64_t unit = offset < 64 ? w.lo : w.hi;
  const int shift = offset % 64;
  const uint64_t mask = width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
  return (unit >> shift) & mask;
}

void set_bits(Word128& w, int offset, int width, uint64_t value) {
  uint64_t& unit = offset < 64 ? w.lo : w.hi;
  const int shift = offset % 64;
  const uint64_t mask = width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
  unit = (unit & ~(mask << shift)) | ((value & mask) << shift);
}

int64_t sign_extend(uint64_t v, int width) {
  const uint64_t sign = uint64_t{1} << (width - 1);
  return static_cast<int64_t>((v ^ sign) - sign);
}

}  // namespace

const char* to_string(Opcode op) {
  switch (op) {
    case Opcode::kLoad:
      return "LOAD";
    case Opcode::kStore:
      return "STORE";
    case Opcode::kGemm:
      return "GEMM";
    case Opcode::kFinish:
      return "FINISH";
    case Opcode::kAlu:
      return "ALU";
  }
  return "UNKNOWN";
}

const char* to_string(MemType m) {
  switch (m) {
    case MemType::kUop:
      return "uop";
    case MemType::kWgt:
      return "wgt";
    case MemType::kInp:
      return "inp";
    case MemType::kAcc:
      return "acc";
    case MemType::kOut:
      return "out";
    case MemType::kAcc8:
      return "acc8";
  }
  return "unknown";
}

const char* to_string(AluOp op) {
  switch (op) {
    case AluOp::kMin:
      return "MIN";
    case AluOp::kMax:
      return "MAX";
    case AluOp::kAdd:
      return "ADD";
    case AluOp::kShr:
      return "SHR";
    case AluOp::kMul:
      return "MUL";
  }
  return "UNKNOWN";
}

Isa::Isa(const HwConfig& hw) {
  generic_ = header().take("generic instruction");
  mem_ = header()
             .add("memory_type", kMemTypeBits, &Insn::memory_type)
             .add("sram_base", kSramAddrBits, &Insn::sram_base)
             .add("dram_base", kDramAddrBits, &Insn::dram_base)
             .add("y_size", kSizeBits, &Insn::y_size)
             .add("x_size", kSizeBits, &Insn::x_size)
             .add("x_stride", kStrideBits, &Insn::x_stride)
             .add("y_pad_0", kPadBits, &Insn::y_pad_0)
             .add("y_pad_1", kPadBits, &Insn::y_pad_1)
             .add("x_pad_0", kPadBits, &Insn::x_pad_0)
             .add("x_pad_1", kPadBits, &Insn::x_pad_1)
             .take("LOAD/STORE instruction");
  const int uop_bits = hw.log_uop_depth();
  auto loop_fields = [&](Packer p) {
    p.add("reset_reg", 1, &Insn::reset_reg)
        .add("uop_bgn", uop_bits, &Insn::uop_bgn)
        .add("uop_end", uop_bits + 1, &Insn::uop_end)
        .add("iter_out", kLoopIterBits, &Insn::iter_out)
        .add("iter_in", kLoopIterBits, &Insn::iter_in)
        .add("dst_factor_out", hw.log_acc_depth(), &Insn::dst_factor_out)
        .add("dst_factor_in", hw.log_acc_depth(), &Insn::dst_factor_in);
    return p;
  };
  gemm_ = loop_fields(header())
              .add("src_factor_out", hw.log_inp_depth(), &Insn::src_factor_out)
              .add("src_factor_in", hw.log_inp_depth(), &Insn::src_factor_in)
              .add("wgt_factor_out", hw.log_wgt_depth(), &Insn::wgt_factor_out)
              .add("wgt_factor_in", hw.log_wgt_depth(), &Insn::wgt_factor_in)
              .take("GEMM instruction");
  alu_ = loop_fields(header())
             .add("src_factor_out", hw.log_acc_depth(), &Insn::src_factor_out)
             .add("src_factor_in", hw.log_acc_depth(), &Insn::src_factor_in)
             .add("alu_opcode", kAluOpcodeBits, &Insn::alu_opcode)
             .add("use_imm", 1, &Insn::use_imm)
             .add("imm", kImmBits, &Insn::imm, /*is_signed=*/true)
             .take("ALU instruction");
  // hw_spec.h gives the micro-op's src_idx the accumulator's width, for GEMM and ALU alike.
  uop_ = Packer(32, 32)
             .add_uop("dst_idx", hw.log_acc_depth(), &Uop::dst_idx)
             .add_uop("src_idx", hw.log_acc_depth(), &Uop::src_idx)
             .add_uop("wgt_idx", hw.log_wgt_depth(), &Uop::wgt_idx)
             .take("micro-op");
}

const std::vector<Field>& Isa::layout(Opcode op) const {
  switch (op) {
    case Opcode::kLoad:
    case Opcode::kStore:
      return mem_;
    case Opcode::kGemm:
      return gemm_;
    case Opcode::kAlu:
      return alu_;
    case Opcode::kFinish:
      return generic_;
  }
  return generic_;
}

Word128 Isa::encode(const Insn& insn) const {
  Word128 w;
  for (const Field& f : layout(insn.op())) {
    set_bits(w, f.offset, f.width, static_cast<uint64_t>(insn.*f.member));
  }
  return w;
}

Insn Isa::decode(const Word128& word) const {
  Insn insn;
  insn.opcode = static_cast<int64_t>(get_bits(word, 0, kOpcodeBits));
  const auto& fields = insn.opcode <= 4 ? layout(insn.op()) : generic_;
  for (const Field& f : fields) {
    const uint64_t raw = get_bits(word, f.offset, f.width);
    insn.*f.member = f.is_signed ? sign_extend(raw, f.width) : static_cast<int64_t>(raw);
  }
  return insn;
}

uint32_t Isa::encode(const Uop& uop) const {
  Word128 w;
  for (const Field& f : uop_)
    set_bits(w, f.offset, f.width, static_cast<uint64_t>(uop.*f.uop_member));
  return static_cast<uint32_t>(w.lo);
}

Uop Isa::decode_uop(uint32_t word) const {
  Uop uop;
  Word128 w{word, 0};
  for (const Field& f : uop_)
    uop.*f.uop_member = static_cast<int64_t>(get_bits(w, f.offset, f.width));
  return uop;
}

bool Isa::fits(const Insn& insn) const {
  for (const Field& f : layout(insn.op())) {
    const int64_t v = insn.*f.member;
    if (v < f.min_value() || v > f.max_value()) return false;
  }
  return true;
}

}  // namespace ml2::vta
