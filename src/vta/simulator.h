// The run stage of the VTA target: a cycle-level model of VTA's load/compute/store pipeline with
// its dependency-token queues, and a bit-exact functional model of its instructions whose output
// is checked against the reference of data.h. The cycle model is described in simulator.cc.
#pragma once

#include <cstdint>
#include <string>

#include "ml2tuner/measure.h"
#include "vta/hw_config.h"
#include "vta/program.h"

namespace ml2::vta {

struct SimOptions {
  bool functional = true;  // execute the arithmetic and compare with the reference
};

struct SimResult {
  ml2::Status status = ml2::Status::kOk;
  std::string message;  // one line; empty when ok
  // Meaningful for kOk and kWrongAnswer; for kRunTimeout, the time the last instruction ended.
  int64_t cycles = 0;
  double latency_ms = 0;
  int64_t insns_executed = 0;
  // Cycles each module spent executing instructions.
  int64_t load_busy = 0, compute_busy = 0, store_busy = 0;
  // The counters of VTA's sim_driver (over executed instructions).
  int64_t inp_load_bytes = 0, wgt_load_bytes = 0, acc_load_bytes = 0, uop_load_bytes = 0,
          out_store_bytes = 0, gemm_counter = 0, alu_counter = 0;
  int64_t mismatches = 0;  // output values that differ from the reference (functional runs)
  bool operator==(const SimResult&) const = default;
};

// Simulates `program` on `hw`. Never throws for a bad program: every failure is a status with a
// one-line message (kRuntimeError, kRunTimeout, kWrongAnswer). Deterministic: the same program
// gives the same result. Each thread has its own scratch buffers and data cache (data.h), so calls
// need no locking; runs happen in persistent single-threaded worker processes.
SimResult simulate(const HwConfig& hw, const Program& program, const SimOptions& options = {});

// How many simulations this process has run: lets tests prove that a build never simulates.
int64_t simulations_run();

}  // namespace ml2::vta
