// The VTA simulator (the run stage of the VTA target).
//
// Cycle model. Every instruction is decoded from its bits first; fetch routes LOAD inp/wgt to the
// load module, LOAD uop/acc, GEMM, ALU and FINISH to the compute module and STORE to the store
// module. The three modules run concurrently, each in program order, linked by four
// dependency-token FIFOs (load->compute, compute->load, compute->store, store->compute) of
// TOKEN_QUEUE_DEPTH tokens each; dependency bits naming a queue a module lacks are ignored, as in
// VTA. An instruction starts at the latest of: its module becoming free, the arrival of every
// token it pops (a token arrives when the instruction that pushed it ends), and, for every FIFO it
// pushes to, the time a slot frees there (the k-th push waits for the (k-depth)-th pop to start).
// Pops happen at the start, pushes at the end. Durations, in cycles:
//   LOAD/STORE  INSN_OVERHEAD + DRAM_LATENCY + y_size * (beats + bursts * BURST_OVERHEAD)
//               + one per padding entry, with beats = ceil(x_size * elem_bytes / BUS_BYTES) and
//               bursts = ceil(beats / MAX_BURST_BEATS) per row; only INSN_OVERHEAD when x_size
//               or y_size is 0 (a no-op that carries dependency bits)
//   GEMM        INSN_OVERHEAD + GEMM_PIPELINE_DEPTH + iter_out * iter_in * uops * GEMM_II
//   ALU         INSN_OVERHEAD + ALU_PIPELINE_DEPTH + iter_out * iter_in * uops * (ALU_II, or
//               ALU_II_IMM with an immediate operand)
//   FINISH      INSN_OVERHEAD
// The run ends when FINISH ends (cycles; latency = cycles / clock). The stream ends at its first
// FINISH; a load or store that has not completed by then does not count (the host reads the output
// when FINISH completes). If compute never reaches FINISH (a token deadlock, or no FINISH at all),
// or FINISH ends after TIMEOUT_CYCLES, the driver times out (kRunTimeout).
//
// The times are a pure dataflow over the instructions, so one pass that advances whichever module
// can run computes them in O(instructions). The instructions are then executed, each atomically,
// in the order of their start times (ties in the order the pass scheduled them, which respects
// every dependency): a correctly synchronised program gets VTA's answer, and a missing token shows
// up as the race it would be on the device. Functional semantics follow VTA's hw_spec.h and
// sim_driver: 2-D strided loads with zero padding, GEMM/ALU over micro-op loops with int32
// wrap-around, the output buffer holding the narrowed accumulator after every GEMM/ALU write, and
// faults (kRuntimeError) for any SRAM or DRAM access out of range. A LOAD or STORE with x_size 0
// is skipped entirely (as in VTA's sim_driver). ALU SHR by b: a >> b for b >= 0 (sign fill once
// b >= 31), a << -b for b < 0 (0 once -b >= 32). A fault in an instruction that ran is reported
// before a deadlock or timeout. Without SimOptions::functional only the checks that need no data
// run: LOAD/STORE footprints, DRAM bounds and micro-op ranges, not the per-iteration GEMM/ALU
// indices. (The input and weight SRAMs hold their int8 values widened to int16, so that GCC
// vectorises the GEMM dot products.)
#include "vta/simulator.h"

#include <atomic>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "vta/data.h"
#include "vta/isa.h"
#include "vta/timing.h"

namespace ml2::vta {
namespace {

enum Module : int { kLoadModule = 0, kComputeModule = 1, kStoreModule = 2 };
enum TokenQueue : int {
  kLoadToCompute = 0,
  kComputeToLoad = 1,
  kComputeToStore = 2,
  kStoreToCompute = 3
};
const char* const kModuleNames[] = {"load", "compute", "store"};
const char* const kQueueNames[] = {"load->compute", "compute->load", "compute->store",
                                   "store->compute"};

struct Fault {
  std::string message;
};

struct DecodedUop {
  uint32_t dst = 0, src = 0, wgt = 0;
};

// Why a module stopped in the scheduling pass.
struct Wait {
  enum Kind { kNone, kToken, kSlot } kind = kNone;
  int queue = 0;
  int64_t insn = 0;
};

// Scratch state reused across calls (the simulator runs thousands of times per process).
struct Scratch {
  std::vector<Insn> insns;
  std::vector<uint8_t> module;
  std::vector<int64_t> start, end, seq;
  std::vector<int64_t> lists[3];
  std::vector<int64_t> push_time[4], pop_time[4];
  std::vector<int64_t> order;
  // Functional state.
  std::vector<uint8_t> dram;
  std::vector<int16_t> inp, wgt;  // int8 values, held widened for the GEMM kernel
  std::vector<int32_t> acc;
  std::vector<int8_t> out;
  std::vector<DecodedUop> uop;
};

std::string describe(const Insn& in) {
  std::string s = to_string(in.op());
  if (in.op() == Opcode::kLoad) s += std::string(" ") + to_string(in.mem());
  return s;
}

[[noreturn]] void fault(int64_t idx, const Insn& in, const std::string& what) {
  throw Fault{"instruction " + std::to_string(idx) + " (" + describe(in) + "): " + what};
}

int64_t uop_count(const Insn& in) { return std::max<int64_t>(0, in.uop_end - in.uop_bgn); }

uint32_t read_u32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

class Simulator {
 public:
  Simulator(const HwConfig& hw, const Program& program, const SimOptions& options, Scratch& s)
      : hw_(hw), program_(program), functional_(options.functional), s_(s), isa_(hw) {
    const auto& layout = isa_.uop_layout();
    for (const Field& f : layout) {
      UopField uf{f.offset, f.width == 32 ? ~uint32_t{0} : (uint32_t{1} << f.width) - 1};
      if (f.uop_member == &Uop::dst_idx) uop_dst_ = uf;
      if (f.uop_member == &Uop::src_idx) uop_src_ = uf;
      if (f.uop_member == &Uop::wgt_idx) uop_wgt_ = uf;
    }
  }

  SimResult run() {
    decode();
    schedule();
    const PreparedData* data = functional_ ? &setup_functional() : nullptr;
    execute();
    if (!finished_) {
      r_.status = Status::kRunTimeout;
      r_.message = deadlock_message();
      r_.cycles = last_end_;
    } else if (finish_end_ > hw_.timeout_cycles) {
      r_.status = Status::kRunTimeout;
      r_.message = "the run needs " + std::to_string(finish_end_) + " cycles, more than the " +
                   std::to_string(hw_.timeout_cycles) + " the driver waits; the driver timed out";
      r_.cycles = finish_end_;
    } else {
      r_.cycles = finish_end_;
      if (data != nullptr) compare(*data);
    }
    r_.latency_ms = static_cast<double>(r_.cycles) / (hw_.clock_mhz * 1000.0);
    return r_;
  }

 private:
  struct UopField {
    int offset = 0;
    uint32_t mask = 0;
  };

  // --- decoding and routing ---------------------------------------------------------------

  void decode() {
    const int64_t n = static_cast<int64_t>(program_.insns.size());
    s_.insns.resize(static_cast<size_t>(n));
    s_.module.resize(static_cast<size_t>(n));
    for (auto& l : s_.lists) l.clear();
    stream_end_ = n;
    for (int64_t i = 0; i < n; ++i) {
      Insn& in = s_.insns[static_cast<size_t>(i)] =
          isa_.decode(program_.insns[static_cast<size_t>(i)]);
      int m = kComputeModule;
      switch (in.opcode) {
        case static_cast<int64_t>(Opcode::kLoad):
          switch (in.memory_type) {
            case static_cast<int64_t>(MemType::kInp):
            case static_cast<int64_t>(MemType::kWgt):
              m = kLoadModule;
              break;
            case static_cast<int64_t>(MemType::kUop):
            case static_cast<int64_t>(MemType::kAcc):
              m = kComputeModule;
              break;
            default:
              fault(i, in,
                    "memory type " + std::to_string(in.memory_type) +
                        " cannot be loaded (VTA loads uop, wgt, inp and acc)");
          }
          break;
        case static_cast<int64_t>(Opcode::kStore):
          m = kStoreModule;
          if (in.memory_type != static_cast<int64_t>(MemType::kOut)) {
            fault(i, in,
                  "memory type " + std::to_string(in.memory_type) +
                      " cannot be stored (VTA stores only out)");
          }
          if (in.x_pad_0 != 0 || in.x_pad_1 != 0 || in.y_pad_0 != 0 || in.y_pad_1 != 0) {
            fault(i, in, "a STORE cannot pad (every pad must be 0)");
          }
          break;
        case static_cast<int64_t>(Opcode::kGemm):
        case static_cast<int64_t>(Opcode::kFinish):
          break;
        case static_cast<int64_t>(Opcode::kAlu):
          if (in.alu_opcode > static_cast<int64_t>(AluOp::kMul)) {
            fault(i, in, "unknown ALU opcode " + std::to_string(in.alu_opcode));
          }
          break;
        default:
          throw Fault{"instruction " + std::to_string(i) + ": unknown opcode " +
                      std::to_string(in.opcode)};
      }
      s_.module[static_cast<size_t>(i)] = static_cast<uint8_t>(m);
      s_.lists[m].push_back(i);
      if (in.op() == Opcode::kFinish) {
        stream_end_ = i + 1;  // the driver's stream ends at FINISH
        break;
      }
    }
  }

  int64_t elem_bytes(int64_t mem) const { return entry_bytes(hw_, static_cast<MemType>(mem)); }

  int64_t duration(const Insn& in) const { return insn_cycles(hw_, in); }

  // --- the scheduling pass ------------------------------------------------------------------

  // The queues an instruction of module m pops from and pushes to (-1: none).
  static void queues(int m, const Insn& in, int pops[2], int pushes[2]) {
    pops[0] = pops[1] = pushes[0] = pushes[1] = -1;
    if (m == kLoadModule) {
      if (in.pop_next_dep) pops[0] = kComputeToLoad;
      if (in.push_next_dep) pushes[0] = kLoadToCompute;
    } else if (m == kComputeModule) {
      if (in.pop_prev_dep) pops[0] = kLoadToCompute;
      if (in.pop_next_dep) pops[1] = kStoreToCompute;
      if (in.push_prev_dep) pushes[0] = kComputeToLoad;
      if (in.push_next_dep) pushes[1] = kComputeToStore;
    } else {
      if (in.pop_prev_dep) pops[0] = kComputeToStore;
      if (in.push_prev_dep) pushes[0] = kStoreToCompute;
    }
  }

  // Schedules module m's next instructions until it blocks; returns whether it scheduled any.
  bool advance(int m) {
    bool any = false;
    const auto& list = s_.lists[m];
    const int64_t depth = hw_.token_queue_depth;
    while (pos_[m] < static_cast<int64_t>(list.size())) {
      const int64_t idx = list[static_cast<size_t>(pos_[m])];
      const Insn& in = s_.insns[static_cast<size_t>(idx)];
      int pops[2], pushes[2];
      queues(m, in, pops, pushes);
      int64_t t = free_[m];
      for (int q : pops) {
        if (q < 0) continue;
        if (n_pop_[q] >= n_push_[q]) {
          wait_[m] = Wait{Wait::kToken, q, idx};
          return any;
        }
        t = std::max(t, s_.push_time[q][static_cast<size_t>(n_pop_[q])]);
      }
      for (int q : pushes) {
        if (q < 0 || n_push_[q] < depth) continue;
        const int64_t k = n_push_[q] - depth;  // the pop that frees this push's slot
        if (n_pop_[q] <= k) {
          wait_[m] = Wait{Wait::kSlot, q, idx};
          return any;
        }
        t = std::max(t, s_.pop_time[q][static_cast<size_t>(k)]);
      }
      const int64_t end = t + duration(in);
      if (finished_ && end > finish_end_) {  // would complete after the run: not counted
        wait_[m] = Wait{};
        return any;
      }
      for (int q : pops) {
        if (q < 0) continue;
        s_.pop_time[q].push_back(t);
        ++n_pop_[q];
      }
      for (int q : pushes) {
        if (q < 0) continue;
        s_.push_time[q].push_back(end);
        ++n_push_[q];
      }
      s_.start[static_cast<size_t>(idx)] = t;
      s_.end[static_cast<size_t>(idx)] = end;
      s_.seq[static_cast<size_t>(idx)] = next_seq_++;
      free_[m] = end;
      last_end_ = std::max(last_end_, end);
      ++pos_[m];
      any = true;
      if (in.op() == Opcode::kFinish) {
        finished_ = true;
        finish_end_ = end;
        return any;
      }
    }
    wait_[m] = Wait{};
    return any;
  }

  void schedule() {
    const size_t n = static_cast<size_t>(stream_end_);
    s_.start.resize(n);
    s_.end.resize(n);
    s_.seq.resize(n);
    for (int q = 0; q < 4; ++q) {
      s_.push_time[q].clear();
      s_.pop_time[q].clear();
    }
    for (bool progress = true; progress;) {
      progress = false;
      for (int m = 0; m < 3; ++m) {
        if (m == kComputeModule && finished_) continue;
        progress |= advance(m);
      }
    }
  }

  std::string deadlock_message() const {
    std::string parts;
    for (int m = 0; m < 3; ++m) {
      const Wait& w = wait_[m];
      if (w.kind == Wait::kNone) continue;
      parts += parts.empty() ? "" : ", ";
      parts += std::string(kModuleNames[m]) + " (instruction " + std::to_string(w.insn) + ") ";
      if (w.kind == Wait::kToken) {
        parts += std::string("waits for a ") + kQueueNames[w.queue] + " token";
      } else {
        parts += std::string("waits for a free slot in the full ") + kQueueNames[w.queue] +
                 " queue (" + std::to_string(hw_.token_queue_depth) + " tokens)";
      }
    }
    if (pos_[kComputeModule] >= static_cast<int64_t>(s_.lists[kComputeModule].size())) {
      return "the instruction stream has no FINISH" + (parts.empty() ? "" : " (" + parts + ")") +
             "; the driver timed out";
    }
    return "token deadlock: " + parts + "; the driver timed out";
  }

  // --- execution ----------------------------------------------------------------------------

  const PreparedData& setup_functional() {
    const Workload& w = program_.workload;
    try {
      w.validate(hw_);
    } catch (const std::invalid_argument& e) {
      throw Fault{std::string("the program's workload cannot run: ") + e.what()};
    }
    const PreparedData& data = prepared(hw_, w, program_.data_seed);
    constexpr uint64_t kMaxDram = uint64_t{1} << 31;
    if (program_.dram_bytes > kMaxDram) {
      throw Fault{"the program's DRAM image of " + std::to_string(program_.dram_bytes) +
                  " bytes exceeds the simulator's limit of " + std::to_string(kMaxDram)};
    }
    auto region = [&](const char* what, uint64_t addr, uint64_t bytes) {
      if (addr > program_.dram_bytes || bytes > program_.dram_bytes - addr) {
        throw Fault{std::string("the program's ") + what + " region [" + std::to_string(addr) +
                    ", " + std::to_string(addr + bytes) + ") lies outside its " +
                    std::to_string(program_.dram_bytes) + "-byte DRAM image"};
      }
    };
    region("input", program_.inp_addr, data.inp_packed.size());
    region("weight", program_.wgt_addr, data.wgt_packed.size());
    region("output", program_.out_addr, data.out_packed.size());
    region("micro-op", program_.uop_addr, 4 * uint64_t{program_.uops.size()});
    s_.dram.assign(program_.dram_bytes, 0);
    std::memcpy(s_.dram.data() + program_.inp_addr, data.inp_packed.data(), data.inp_packed.size());
    std::memcpy(s_.dram.data() + program_.wgt_addr, data.wgt_packed.data(), data.wgt_packed.size());
    uint8_t* u = s_.dram.data() + program_.uop_addr;
    for (uint32_t word : program_.uops) {  // little-endian, as on the device
      *u++ = static_cast<uint8_t>(word);
      *u++ = static_cast<uint8_t>(word >> 8);
      *u++ = static_cast<uint8_t>(word >> 16);
      *u++ = static_cast<uint8_t>(word >> 24);
    }
    const size_t b = static_cast<size_t>(hw_.batch()), bl = static_cast<size_t>(hw_.block());
    s_.inp.assign(static_cast<size_t>(hw_.inp_depth()) * b * bl, 0);
    s_.wgt.assign(static_cast<size_t>(hw_.wgt_depth()) * bl * bl, 0);
    s_.acc.assign(static_cast<size_t>(hw_.acc_depth()) * b * bl, 0);
    s_.out.assign(static_cast<size_t>(hw_.acc_depth()) * b * bl, 0);
    s_.uop.assign(static_cast<size_t>(hw_.uop_depth()), DecodedUop{});
    return data;
  }

  // Runs the scheduled instructions that completed before the run ended, in start-time order.
  void execute() {
    int64_t horizon = hw_.timeout_cycles;
    if (finished_) horizon = std::min(horizon, finish_end_);
    int64_t count[3], next[3] = {0, 0, 0};
    for (int m = 0; m < 3; ++m) {
      // Ends grow along a module's list, so what completed in time is a prefix.
      count[m] = pos_[m];
      while (count[m] > 0 &&
             s_.end[static_cast<size_t>(s_.lists[m][static_cast<size_t>(count[m] - 1)])] >
                 horizon) {
        --count[m];
      }
    }
    for (;;) {
      int best = -1;
      int64_t best_idx = 0;
      for (int m = 0; m < 3; ++m) {
        if (next[m] >= count[m]) continue;
        const int64_t idx = s_.lists[m][static_cast<size_t>(next[m])];
        if (best < 0 ||
            s_.start[static_cast<size_t>(idx)] < s_.start[static_cast<size_t>(best_idx)] ||
            (s_.start[static_cast<size_t>(idx)] == s_.start[static_cast<size_t>(best_idx)] &&
             s_.seq[static_cast<size_t>(idx)] < s_.seq[static_cast<size_t>(best_idx)])) {
          best = m;
          best_idx = idx;
        }
      }
      if (best < 0) break;
      ++next[best];
      exec(best_idx, best);
    }
  }

  void exec(int64_t idx, int m) {
    const Insn& in = s_.insns[static_cast<size_t>(idx)];
    const int64_t busy = s_.end[static_cast<size_t>(idx)] - s_.start[static_cast<size_t>(idx)];
    (m == kLoadModule      ? r_.load_busy
     : m == kComputeModule ? r_.compute_busy
                           : r_.store_busy) += busy;
    ++r_.insns_executed;
    switch (in.op()) {
      case Opcode::kLoad:
        exec_load(idx, in);
        break;
      case Opcode::kStore:
        exec_store(idx, in);
        break;
      case Opcode::kGemm:
        exec_gemm(idx, in);
        break;
      case Opcode::kAlu:
        exec_alu(idx, in);
        break;
      case Opcode::kFinish:
        break;
    }
  }

  void check_dram(int64_t idx, const Insn& in, int64_t eb, const char* verb) const {
    if (in.y_size == 0) return;
    const int64_t end = (in.dram_base + (in.y_size - 1) * in.x_stride + in.x_size) * eb;
    if (static_cast<uint64_t>(end) > program_.dram_bytes) {
      fault(idx, in,
            std::string("DRAM ") + verb + " at byte " + std::to_string(end - 1) + " beyond the " +
                std::to_string(program_.dram_bytes) + "-byte image");
    }
  }

  void exec_load(int64_t idx, const Insn& in) {
    if (in.x_size == 0) return;  // VTA skips loads of zero width entirely
    const MemType mem = in.mem();
    const int64_t eb = elem_bytes(in.memory_type);
    const int64_t depth = mem == MemType::kUop   ? hw_.uop_depth()
                          : mem == MemType::kInp ? hw_.inp_depth()
                          : mem == MemType::kWgt ? hw_.wgt_depth()
                                                 : hw_.acc_depth();
    const int64_t xt = in.x_pad_0 + in.x_size + in.x_pad_1;
    const int64_t yt = in.y_pad_0 + in.y_size + in.y_pad_1;
    if (in.sram_base + xt * yt > depth) {
      if (mem == MemType::kUop) {
        fault(idx, in,
              "a uop kernel of " + std::to_string(xt * yt) + " micro-ops at offset " +
                  std::to_string(in.sram_base) + " does not fit the " + std::to_string(depth) +
                  "-entry uop buffer");
      }
      fault(idx, in,
            "a footprint of " + std::to_string(xt * yt) + " entries at offset " +
                std::to_string(in.sram_base) + " does not fit the " + std::to_string(depth) +
                "-entry " + to_string(mem) + " buffer");
    }
    check_dram(idx, in, eb, "read");
    const int64_t bytes = in.x_size * in.y_size * eb;
    switch (mem) {
      case MemType::kUop:
        r_.uop_load_bytes += bytes;
        break;
      case MemType::kInp:
        r_.inp_load_bytes += bytes;
        break;
      case MemType::kWgt:
        r_.wgt_load_bytes += bytes;
        break;
      default:
        r_.acc_load_bytes += bytes;
        break;
    }
    if (!functional_) return;
    switch (mem) {
      case MemType::kUop:
        load_2d(in, [&](int64_t e, const uint8_t* src) {
          DecodedUop& u = s_.uop[static_cast<size_t>(e)];
          if (src == nullptr) {
            u = DecodedUop{};
            return;
          }
          const uint32_t word = read_u32(src);
          u.dst = (word >> uop_dst_.offset) & uop_dst_.mask;
          u.src = (word >> uop_src_.offset) & uop_src_.mask;
          u.wgt = (word >> uop_wgt_.offset) & uop_wgt_.mask;
        });
        break;
      case MemType::kInp:
        load_2d_int8(in, s_.inp.data(), eb);
        break;
      case MemType::kWgt:
        load_2d_int8(in, s_.wgt.data(), eb);
        break;
      default: {
        const int64_t lanes = eb / 4;
        load_2d(in, [&](int64_t e, const uint8_t* src) {
          int32_t* dst = s_.acc.data() + e * lanes;
          for (int64_t k = 0; k < lanes; ++k) {
            dst[k] = src == nullptr ? 0 : static_cast<int32_t>(read_u32(src + 4 * k));
          }
        });
      }
    }
  }

  // The 2-D DMA pattern: entry(e, src) is called for each SRAM entry in order, src == nullptr
  // for a padding entry.
  template <class F>
  void load_2d(const Insn& in, F entry) {
    const int64_t eb = elem_bytes(in.memory_type);
    const int64_t xt = in.x_pad_0 + in.x_size + in.x_pad_1;
    int64_t e = in.sram_base;
    for (int64_t i = 0; i < in.y_pad_0 * xt; ++i) entry(e++, nullptr);
    for (int64_t y = 0; y < in.y_size; ++y) {
      for (int64_t i = 0; i < in.x_pad_0; ++i) entry(e++, nullptr);
      const uint8_t* row = s_.dram.data() + (in.dram_base + y * in.x_stride) * eb;
      for (int64_t x = 0; x < in.x_size; ++x) entry(e++, row + x * eb);
      for (int64_t i = 0; i < in.x_pad_1; ++i) entry(e++, nullptr);
    }
    for (int64_t i = 0; i < in.y_pad_1 * xt; ++i) entry(e++, nullptr);
  }

  // A load of int8 entries (inp, wgt) into a widened SRAM: whole rows at a time.
  void load_2d_int8(const Insn& in, int16_t* sram, int64_t eb) {
    const int64_t xt = in.x_pad_0 + in.x_size + in.x_pad_1;
    int16_t* dst = sram + in.sram_base * eb;
    auto zero = [&](int64_t entries) {
      std::fill(dst, dst + entries * eb, int16_t{0});
      dst += entries * eb;
    };
    zero(in.y_pad_0 * xt);
    for (int64_t y = 0; y < in.y_size; ++y) {
      zero(in.x_pad_0);
      const auto* src =
          reinterpret_cast<const int8_t*>(s_.dram.data() + (in.dram_base + y * in.x_stride) * eb);
      const int64_t n = in.x_size * eb;
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
      dst += n;
      zero(in.x_pad_1);
    }
    zero(in.y_pad_1 * xt);
  }

  void exec_store(int64_t idx, const Insn& in) {
    if (in.x_size == 0) return;
    const int64_t eb = hw_.out_elem_bytes();
    if (in.sram_base + in.x_size * in.y_size > hw_.acc_depth()) {
      fault(idx, in,
            "reads " + std::to_string(in.x_size * in.y_size) + " entries at offset " +
                std::to_string(in.sram_base) + " beyond the " + std::to_string(hw_.acc_depth()) +
                "-entry out buffer");
    }
    check_dram(idx, in, eb, "write");
    r_.out_store_bytes += in.x_size * in.y_size * eb;
    if (!functional_) return;
    for (int64_t y = 0; y < in.y_size; ++y) {
      const int8_t* src = s_.out.data() + (in.sram_base + y * in.x_size) * eb;
      std::memcpy(s_.dram.data() + (in.dram_base + y * in.x_stride) * eb, src,
                  static_cast<size_t>(in.x_size * eb));
    }
  }

  void check_uop_range(int64_t idx, const Insn& in) const {
    if (in.iter_out == 0 || in.iter_in == 0 || in.uop_bgn >= in.uop_end) return;
    if (in.uop_end > hw_.uop_depth()) {
      fault(idx, in,
            "micro-ops [" + std::to_string(in.uop_bgn) + ", " + std::to_string(in.uop_end) +
                ") exceed the " + std::to_string(hw_.uop_depth()) + "-entry uop buffer");
    }
  }

  // The largest index a loop field reaches (every term is non-negative).
  static int64_t max_index(uint32_t base, const Insn& in, int64_t f_out, int64_t f_in) {
    return base + (in.iter_out - 1) * f_out + (in.iter_in - 1) * f_in;
  }

  void check_index(int64_t idx, const Insn& in, const char* what, int64_t index,
                   int64_t depth) const {
    if (index >= depth) {
      fault(idx, in,
            std::string(what) + " index " + std::to_string(index) + " out of range (" +
                std::to_string(depth) + " entries)");
    }
  }

  void exec_gemm(int64_t idx, const Insn& in) {
    check_uop_range(idx, in);
    const int64_t iters = in.iter_out * in.iter_in * uop_count(in);
    if (!in.reset_reg) r_.gemm_counter += iters;
    if (!functional_ || iters == 0) return;
    for (int64_t u = in.uop_bgn; u < in.uop_end; ++u) {
      const DecodedUop& op = s_.uop[static_cast<size_t>(u)];
      check_index(idx, in, "accumulator",
                  max_index(op.dst, in, in.dst_factor_out, in.dst_factor_in), hw_.acc_depth());
      if (in.reset_reg) continue;
      check_index(idx, in, "input", max_index(op.src, in, in.src_factor_out, in.src_factor_in),
                  hw_.inp_depth());
      check_index(idx, in, "weight", max_index(op.wgt, in, in.wgt_factor_out, in.wgt_factor_in),
                  hw_.wgt_depth());
    }
    switch (hw_.block()) {
      case 2:
        gemm<2>(in);
        break;
      case 4:
        gemm<4>(in);
        break;
      case 8:
        gemm<8>(in);
        break;
      case 16:
        gemm<16>(in);
        break;
      case 32:
        gemm<32>(in);
        break;
      case 64:
        gemm<64>(in);
        break;
      default:
        throw Fault{"unsupported block size " + std::to_string(hw_.block())};
    }
  }

  template <int BL>
  void gemm(const Insn& in) {
    const int64_t batch = hw_.batch();
    const int64_t acc_entry = batch * BL, inp_entry = batch * BL, wgt_entry = BL * BL;
    for (int64_t i = 0; i < in.iter_out; ++i) {
      for (int64_t j = 0; j < in.iter_in; ++j) {
        const int64_t d0 = i * in.dst_factor_out + j * in.dst_factor_in;
        const int64_t s0 = i * in.src_factor_out + j * in.src_factor_in;
        const int64_t w0 = i * in.wgt_factor_out + j * in.wgt_factor_in;
        for (int64_t u = in.uop_bgn; u < in.uop_end; ++u) {
          const DecodedUop& op = s_.uop[static_cast<size_t>(u)];
          const int64_t d = (op.dst + d0) * acc_entry;
          int32_t* acc = s_.acc.data() + d;
          int8_t* out = s_.out.data() + d;
          if (in.reset_reg) {
            std::fill(acc, acc + acc_entry, 0);
            std::fill(out, out + acc_entry, int8_t{0});
            continue;
          }
          const int16_t* inp = s_.inp.data() + (op.src + s0) * inp_entry;
          const int16_t* wgt = s_.wgt.data() + (op.wgt + w0) * wgt_entry;
          for (int64_t b = 0; b < batch; ++b) {
            int32_t* a = acc + b * BL;
            const int16_t* x = inp + b * BL;
            for (int o = 0; o < BL; ++o) {
              const int16_t* w = wgt + o * BL;
              int32_t sum = 0;
              // Keeps GCC from unrolling this loop before vectorising it (at -O3 it would
              // otherwise vectorise the loop over o with strided loads, several times slower).
#pragma GCC unroll 1
              for (int k = 0; k < BL; ++k) sum += int32_t{x[k]} * int32_t{w[k]};
              a[o] = static_cast<int32_t>(static_cast<uint32_t>(a[o]) + static_cast<uint32_t>(sum));
            }
            for (int o = 0; o < BL; ++o) out[b * BL + o] = static_cast<int8_t>(a[o]);
          }
        }
      }
    }
  }

  void exec_alu(int64_t idx, const Insn& in) {
    check_uop_range(idx, in);
    const int64_t iters = in.iter_out * in.iter_in * uop_count(in);
    r_.alu_counter += iters;
    if (!functional_ || iters == 0) return;
    const bool reads_src = !in.reset_reg && !in.use_imm;
    for (int64_t u = in.uop_bgn; u < in.uop_end; ++u) {
      const DecodedUop& op = s_.uop[static_cast<size_t>(u)];
      check_index(idx, in, "accumulator",
                  max_index(op.dst, in, in.dst_factor_out, in.dst_factor_in), hw_.acc_depth());
      if (reads_src) {
        check_index(idx, in, "source accumulator",
                    max_index(op.src, in, in.src_factor_out, in.src_factor_in), hw_.acc_depth());
      }
    }
    if (in.reset_reg) return alu(in, [](int32_t, int32_t) { return int32_t{0}; });
    switch (in.alu()) {
      case AluOp::kMin:
        return alu(in, [](int32_t a, int32_t b) { return std::min(a, b); });
      case AluOp::kMax:
        return alu(in, [](int32_t a, int32_t b) { return std::max(a, b); });
      case AluOp::kAdd:
        return alu(in, [](int32_t a, int32_t b) {
          return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
        });
      case AluOp::kShr:
        return alu(in, [](int32_t a, int32_t b) {
          if (b >= 0) return b >= 31 ? a >> 31 : a >> b;
          const int64_t s = -int64_t{b};
          return s >= 32 ? int32_t{0} : static_cast<int32_t>(static_cast<uint32_t>(a) << s);
        });
      case AluOp::kMul:
        return alu(in, [](int32_t a, int32_t b) {
          return static_cast<int32_t>(static_cast<uint32_t>(a) * static_cast<uint32_t>(b));
        });
    }
  }

  template <class F>
  void alu(const Insn& in, F f) {
    const int64_t lanes = hw_.batch() * hw_.block();
    const bool use_imm = in.use_imm != 0;
    const auto imm = static_cast<int32_t>(in.imm);
    for (int64_t i = 0; i < in.iter_out; ++i) {
      for (int64_t j = 0; j < in.iter_in; ++j) {
        const int64_t d0 = i * in.dst_factor_out + j * in.dst_factor_in;
        const int64_t s0 = i * in.src_factor_out + j * in.src_factor_in;
        for (int64_t u = in.uop_bgn; u < in.uop_end; ++u) {
          const DecodedUop& op = s_.uop[static_cast<size_t>(u)];
          const int64_t d = (op.dst + d0) * lanes;
          int32_t* dst = s_.acc.data() + d;
          int8_t* out = s_.out.data() + d;
          if (use_imm || in.reset_reg) {
            for (int64_t k = 0; k < lanes; ++k) {
              dst[k] = f(dst[k], imm);
              out[k] = static_cast<int8_t>(dst[k]);
            }
          } else {
            const int32_t* src = s_.acc.data() + (op.src + s0) * lanes;
            for (int64_t k = 0; k < lanes; ++k) {
              dst[k] = f(dst[k], src[k]);
              out[k] = static_cast<int8_t>(dst[k]);
            }
          }
        }
      }
    }
  }

  void compare(const PreparedData& data) {
    const uint8_t* got = s_.dram.data() + program_.out_addr;
    if (std::memcmp(got, data.out_packed.data(), data.out_packed.size()) == 0) return;
    const Workload& w = program_.workload;
    const std::vector<int8_t> out = unpack_output(hw_, w, got);
    int64_t first = -1;
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i] != data.reference[i]) {
        if (first < 0) first = static_cast<int64_t>(i);
        ++r_.mismatches;
      }
    }
    const int64_t oh = w.dense ? 1 : w.oh(), ow = w.dense ? 1 : w.ow();
    const int64_t co_n = w.co;
    const int64_t n = first / (co_n * oh * ow), co = first / (oh * ow) % co_n;
    const int64_t y = first / ow % oh, x = first % ow;
    r_.status = Status::kWrongAnswer;
    r_.message = "output differs from the reference in " + std::to_string(r_.mismatches) + " of " +
                 std::to_string(out.size()) + " values (first at n=" + std::to_string(n) +
                 ", co=" + std::to_string(co) + ", oh=" + std::to_string(y) +
                 ", ow=" + std::to_string(x) + ": got " +
                 std::to_string(out[static_cast<size_t>(first)]) + ", expected " +
                 std::to_string(data.reference[static_cast<size_t>(first)]) + ")";
  }

  const HwConfig& hw_;
  const Program& program_;
  const bool functional_;
  Scratch& s_;
  Isa isa_;
  UopField uop_dst_, uop_src_, uop_wgt_;
  SimResult r_;
  int64_t stream_end_ = 0;
  int64_t pos_[3] = {0, 0, 0}, free_[3] = {0, 0, 0};
  int64_t n_push_[4] = {0, 0, 0, 0}, n_pop_[4] = {0, 0, 0, 0};
  Wait wait_[3];
  int64_t next_seq_ = 0;
  bool finished_ = false;
  int64_t finish_end_ = 0, last_end_ = 0;
};

}  // namespace

namespace {
std::atomic<int64_t> g_simulations{0};
}  // namespace

int64_t simulations_run() { return g_simulations.load(); }

SimResult simulate(const HwConfig& hw, const Program& program, const SimOptions& options) {
  g_simulations.fetch_add(1);
  thread_local Scratch scratch;
  try {
    return Simulator(hw, program, options, scratch).run();
  } catch (const Fault& f) {
    SimResult r;
    r.status = Status::kRuntimeError;
    r.message = f.message;
    return r;
  } catch (const std::exception& e) {  // an inconsistent hardware configuration, out of memory
    SimResult r;
    r.status = Status::kRuntimeError;
    r.message = std::string("simulator: ") + e.what();
    return r;
  }
}

}  // namespace ml2::vta
