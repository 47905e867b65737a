// Hardware presets and their reasoning.
//
// default: VTA's standard build 1x16_i8w8a32_15_15_18_17 at PYNQ-Z1 timing. The PYNQ build of
//   VTA runs at 100 MHz and reaches DRAM through one 64-bit AXI HP port (8 bytes per beat).
//   DRAM latency on the Zynq-7000 is about 400 ns from request to first beat (40 cycles); each
//   AXI3 burst carries at most 16 beats and costs a few cycles of address phase. The GEMM core
//   retires one uop iteration per cycle (VTA's II=1 pipeline); the ALU needs two cycles when it
//   reads two accumulator operands and one with an immediate.
// extended: the larger core an "extended VTA" study uses: a 1x32x32 GEMM core (4x the MACs per
//   cycle); the input buffer doubles its entries (128 KiB: 4096 entries of 32 bytes), the
//   accumulator keeps 2048 entries (256 KiB), the weight buffer holds 512 entries of 1 KiB
//   (512 KiB): the largest that keeps hw_spec.h's GEMM instruction within 128 bits once the input
//   factors need 12 bits. Note that hw_spec.h gives the micro-op's src_idx the accumulator's width
//   (11 bits), so input entries above 2047 cannot be addressed by a micro-op: a schedule that uses
//   them computes garbage (a run-time wrong answer, as on VTA built this way). Timing is
//   Ultra96/ZCU104-class: 333 MHz, a 128-bit AXI port, DRAM latency about 120 ns (40 cycles),
//   AXI4 bursts of up to 256 beats.
#include "vta/hw_config.h"

#include <climits>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "vta/isa.h"

namespace ml2::vta {
namespace {

using nlohmann::json;

// Every key a hardware file may hold, bound to its field.
struct IntKey {
  const char* name;
  int HwConfig::*field;
};
const IntKey kIntKeys[] = {
    {"LOG_INP_WIDTH", &HwConfig::log_inp_width},
    {"LOG_WGT_WIDTH", &HwConfig::log_wgt_width},
    {"LOG_ACC_WIDTH", &HwConfig::log_acc_width},
    {"LOG_BATCH", &HwConfig::log_batch},
    {"LOG_BLOCK", &HwConfig::log_block},
    {"LOG_UOP_BUFF_SIZE", &HwConfig::log_uop_buff_size},
    {"LOG_INP_BUFF_SIZE", &HwConfig::log_inp_buff_size},
    {"LOG_WGT_BUFF_SIZE", &HwConfig::log_wgt_buff_size},
    {"LOG_ACC_BUFF_SIZE", &HwConfig::log_acc_buff_size},
    {"BUS_BYTES", &HwConfig::bus_bytes},
    {"DRAM_LATENCY_CYCLES", &HwConfig::dram_latency_cycles},
    {"BURST_OVERHEAD_CYCLES", &HwConfig::burst_overhead_cycles},
    {"MAX_BURST_BEATS", &HwConfig::max_burst_beats},
    {"GEMM_PIPELINE_DEPTH", &HwConfig::gemm_pipeline_depth},
    {"GEMM_II", &HwConfig::gemm_ii},
    {"ALU_PIPELINE_DEPTH", &HwConfig::alu_pipeline_depth},
    {"ALU_II", &HwConfig::alu_ii},
    {"ALU_II_IMM", &HwConfig::alu_ii_imm},
    {"INSN_OVERHEAD_CYCLES", &HwConfig::insn_overhead_cycles},
    {"TOKEN_QUEUE_DEPTH", &HwConfig::token_queue_depth},
};
// VTA's own files carry these; they say nothing the simulator uses.
const char* const kIgnoredKeys[] = {"TARGET", "HW_VER", "LOG_BUS_WIDTH"};

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("inconsistent hardware configuration: " + message);
}

}  // namespace

std::string HwConfig::name() const {
  return std::to_string(batch()) + "x" + std::to_string(block()) + "_i" +
         std::to_string(1 << log_inp_width) + "w" + std::to_string(1 << log_wgt_width) + "a" +
         std::to_string(1 << log_acc_width) + "_" + std::to_string(log_uop_buff_size) + "_" +
         std::to_string(log_inp_buff_size) + "_" + std::to_string(log_wgt_buff_size) + "_" +
         std::to_string(log_acc_buff_size);
}

HwConfig HwConfig::preset(const std::string& name) {
  HwConfig hw;
  if (name == "default") return hw;
  if (name == "extended") {
    hw.log_block = 5;
    hw.log_inp_buff_size = 17;
    hw.log_wgt_buff_size = 19;
    hw.log_acc_buff_size = 18;
    hw.clock_mhz = 333;
    hw.bus_bytes = 16;
    hw.dram_latency_cycles = 40;
    hw.max_burst_beats = 256;
    return hw;
  }
  throw std::invalid_argument("unknown hardware preset '" + name +
                              "'; presets: default, extended (or a JSON file)");
}

HwConfig HwConfig::from_json(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("a hardware file must hold a JSON object");
  HwConfig hw;
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (const char* ignored : kIgnoredKeys) known = known || key == ignored;
    for (const IntKey& k : kIntKeys) {
      if (key != k.name) continue;
      if (!value.is_number_integer()) {
        throw std::invalid_argument("hardware key " + key + " must be an integer");
      }
      // Read wide and checked: get<int>() would wrap 4294967300 to 4.
      const bool fits = value.is_number_unsigned()
                            ? value.get<uint64_t>() <= uint64_t{INT_MAX}
                            : value.get<int64_t>() >= INT_MIN && value.get<int64_t>() <= INT_MAX;
      if (!fits) {
        throw std::invalid_argument("hardware key " + key + " = " + value.dump() +
                                    " is out of range (a 32-bit integer)");
      }
      hw.*k.field = static_cast<int>(value.get<int64_t>());
      known = true;
    }
    if (key == "CLOCK_MHZ") {
      if (!value.is_number())
        throw std::invalid_argument("hardware key CLOCK_MHZ must be a number");
      hw.clock_mhz = value.get<double>();
      known = true;
    } else if (key == "TIMEOUT_CYCLES") {
      if (!value.is_number_integer()) {
        throw std::invalid_argument("hardware key TIMEOUT_CYCLES must be an integer");
      }
      hw.timeout_cycles = value.get<int64_t>();
      known = true;
    }
    if (!known) {
      std::string names = "CLOCK_MHZ, TIMEOUT_CYCLES";
      for (const IntKey& k : kIntKeys) names += std::string(", ") + k.name;
      throw std::invalid_argument("unknown hardware key '" + key + "'; known keys: " + names);
    }
  }
  hw.validate();
  return hw;
}

json HwConfig::to_json() const {
  json j;
  for (const IntKey& k : kIntKeys) j[k.name] = this->*k.field;
  j["CLOCK_MHZ"] = clock_mhz;
  j["TIMEOUT_CYCLES"] = timeout_cycles;
  return j;
}

HwConfig HwConfig::load(const std::string& preset_or_file) {
  if (preset_or_file == "default" || preset_or_file == "extended") {
    return preset(preset_or_file);
  }
  if (!std::filesystem::exists(preset_or_file)) {
    throw std::invalid_argument("unknown hardware preset or missing file '" + preset_or_file +
                                "'; presets: default, extended");
  }
  std::ifstream in(preset_or_file);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw std::invalid_argument(preset_or_file + ": malformed JSON: " + e.what());
  }
  try {
    return from_json(j);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(preset_or_file + ": " + e.what());
  }
}

void HwConfig::validate() const {
  require(log_inp_width == 3 && log_wgt_width == 3,
          "LOG_INP_WIDTH and LOG_WGT_WIDTH must be 3 (int8), got " + std::to_string(log_inp_width) +
              " and " + std::to_string(log_wgt_width));
  require(log_acc_width == 5,
          "LOG_ACC_WIDTH must be 5 (int32), got " + std::to_string(log_acc_width));
  require(log_batch >= 0 && log_batch <= 4, "LOG_BATCH must be in 0..4");
  require(log_block >= 1 && log_block <= 6, "LOG_BLOCK must be in 1..6");
  require(log_uop_buff_size >= 5 && log_uop_buff_size <= 24, "LOG_UOP_BUFF_SIZE must be in 5..24");
  require(log_inp_depth() >= 1, "LOG_INP_BUFF_SIZE " + std::to_string(log_inp_buff_size) +
                                    " holds less than two input entries");
  require(log_wgt_depth() >= 1, "LOG_WGT_BUFF_SIZE " + std::to_string(log_wgt_buff_size) +
                                    " holds less than two weight entries");
  require(log_acc_depth() >= 1, "LOG_ACC_BUFF_SIZE " + std::to_string(log_acc_buff_size) +
                                    " holds less than two accumulator entries");
  // The 16-bit sram_base field of LOAD/STORE must address every entry.
  for (auto [name, depth] : {std::pair{"input", log_inp_depth()},
                             {"weight", log_wgt_depth()},
                             {"accumulator", log_acc_depth()},
                             {"uop", log_uop_depth()}}) {
    require(depth <= 16, std::string("the ") + name + " buffer has 2^" + std::to_string(depth) +
                             " entries, more than the 16-bit sram_base field addresses");
  }
  require(std::isfinite(clock_mhz) && clock_mhz >= 1e-3 && clock_mhz <= 1e6,
          "CLOCK_MHZ must be in 0.001..1e6");
  require(bus_bytes > 0 && (bus_bytes & (bus_bytes - 1)) == 0, "BUS_BYTES must be a power of two");
  require(dram_latency_cycles >= 0 && burst_overhead_cycles >= 0,
          "DRAM latency and burst overhead must be >= 0");
  require(max_burst_beats >= 1, "MAX_BURST_BEATS must be >= 1");
  require(gemm_pipeline_depth >= 0 && gemm_ii >= 1 && alu_pipeline_depth >= 0 && alu_ii >= 1 &&
              alu_ii_imm >= 1 && insn_overhead_cycles >= 0,
          "pipeline depths must be >= 0 and initiation intervals >= 1");
  require(token_queue_depth >= 1, "TOKEN_QUEUE_DEPTH must be >= 1");
  require(timeout_cycles >= 1, "TIMEOUT_CYCLES must be >= 1");
  // The instruction and micro-op layouts of hw_spec.h must fit 128 and 32 bits.
  Isa isa(*this);
  (void)isa;
}

}  // namespace ml2::vta
