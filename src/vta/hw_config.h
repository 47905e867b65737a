// The hardware configuration of a VTA-compatible accelerator: VTA's own keys (vta_config.json)
// plus the timing parameters of ml2tuner's cycle model.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace ml2::vta {

struct HwConfig {
  // --- VTA's parameters (vta_config.json; defaults are VTA's 1x16_i8w8a32_15_15_18_17) ---
  int log_inp_width = 3;       // int8 inputs (the simulator supports exactly 3)
  int log_wgt_width = 3;       // int8 weights (exactly 3)
  int log_acc_width = 5;       // int32 accumulators (exactly 5)
  int log_batch = 0;           // BATCH = 1
  int log_block = 4;           // BLOCK_IN = BLOCK_OUT = 16: a 1x16 . 16x16 GEMM per cycle
  int log_uop_buff_size = 15;  // 32 KiB: 8192 micro-ops of 32 bit
  int log_inp_buff_size = 15;  // 32 KiB: 2048 input entries of BATCH*BLOCK_IN bytes
  int log_wgt_buff_size = 18;  // 256 KiB: 1024 weight entries of BLOCK_OUT*BLOCK_IN bytes
  int log_acc_buff_size = 17;  // 128 KiB: 2048 accumulator entries of BATCH*BLOCK_OUT*4 bytes

  // --- timing (defaults: a PYNQ-class board; see hw_config.cc for the reasoning) ---
  double clock_mhz = 100;         // fabric clock of the PYNQ (xc7z020) VTA build
  int bus_bytes = 8;              // one 64-bit AXI HP port: bytes per cycle of a DMA burst
  int dram_latency_cycles = 40;   // first beat of a DRAM read, about 400 ns on the Zynq-7000
  int burst_overhead_cycles = 4;  // address phase and turnaround per AXI burst
  int max_burst_beats = 16;       // AXI3 bursts: at most 16 beats
  int gemm_pipeline_depth = 5;    // cycles from the first uop to the first accumulator write
  int gemm_ii = 1;                // cycles per uop iteration once the GEMM pipeline is full
  int alu_pipeline_depth = 3;     // ALU pipeline latency
  int alu_ii = 2;                 // cycles per uop iteration reading two accumulators
  int alu_ii_imm = 1;             // cycles per uop iteration with an immediate operand
  int insn_overhead_cycles = 2;   // decode and issue of one instruction in any module
  int token_queue_depth = 512;    // capacity of each dependency-token FIFO
  int64_t timeout_cycles = int64_t{1} << 32;  // the driver's wait bound (VTA: a fixed count)

  // --- derived ---
  int batch() const { return 1 << log_batch; }
  int block() const { return 1 << log_block; }
  int log_out_width() const { return log_inp_width; }  // VTA: OUT width = INP width
  // log2 of the number of entries of each on-chip buffer (hw_spec_const.h).
  int log_uop_depth() const { return log_uop_buff_size - 5 + 3; }
  int log_inp_depth() const {
    return log_inp_buff_size - log_batch - log_block - log_inp_width + 3;
  }
  int log_wgt_depth() const { return log_wgt_buff_size - 2 * log_block - log_wgt_width + 3; }
  int log_acc_depth() const {
    return log_acc_buff_size - log_batch - log_block - log_acc_width + 3;
  }
  int64_t uop_depth() const { return int64_t{1} << log_uop_depth(); }
  int64_t inp_depth() const { return int64_t{1} << log_inp_depth(); }
  int64_t wgt_depth() const { return int64_t{1} << log_wgt_depth(); }
  int64_t acc_depth() const { return int64_t{1} << log_acc_depth(); }
  // Bytes of one entry of each memory type.
  int inp_elem_bytes() const { return batch() * block() * (1 << log_inp_width) / 8; }
  int wgt_elem_bytes() const { return block() * block() * (1 << log_wgt_width) / 8; }
  int acc_elem_bytes() const { return batch() * block() * (1 << log_acc_width) / 8; }
  int out_elem_bytes() const { return batch() * block() * (1 << log_out_width()) / 8; }

  // The VTA build name, e.g. "1x16_i8w8a32_15_15_18_17".
  std::string name() const;

  // Presets "default" and "extended", or a JSON file with VTA's keys (LOG_INP_WIDTH, ...) and
  // the timing keys (CLOCK_MHZ, BUS_BYTES, ...); missing keys take the default preset's values.
  // Throws std::invalid_argument with a one-line message for an unknown preset, a missing or
  // malformed file, an unknown key, or an inconsistent configuration.
  static HwConfig load(const std::string& preset_or_file);
  static HwConfig preset(const std::string& name);
  static HwConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;

  // Throws std::invalid_argument naming the first inconsistency.
  void validate() const;
};

}  // namespace ml2::vta
