// The VTA compiler: lowers a conv2d/dense schedule to a VTA program (the build stage).
//
// It follows the lowering of TVM's VTA flow (vta/python/vta/transform.py) in what decides
// validity, and fails where it fails:
//   - every on-chip buffer is allocated per virtual thread; an allocation larger than its SRAM is
//     "Allocation exceed bound of memory tag";
//   - each tile copy must be one 2-D DMA: a padded copy may pad only its two innermost dimensions
//     ("Do not support pad on the innermost block"), and an unpadded copy must fold into two
//     dimensions ("cannot detect 2d pattern");
//   - the GEMM loop nest keeps AutoTVM's order; its two outermost non-unit loops become the
//     instruction's iter_out/iter_in and the rest are unrolled into micro-ops.
// What TVM's compiler does not check is not checked here either and fails at run time: micro-op
// kernels larger than the uop buffer, fields that overflow their bit widths, token deadlocks.
//
// Virtual threads duplicate every buffer and interleave their instruction streams chunk by chunk;
// dependency tokens (load<->compute for the input/weight buffers, compute<->store for the
// accumulator/output buffer) let load, compute and store overlap. An idle thread slot (a thread
// split that does not divide its loop) issues no-op instructions that carry its tokens, so that
// token pairing never depends on which slots are busy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ml2tuner/measure.h"
#include "vta/program.h"
#include "vta/schedule.h"

namespace ml2::vta {

struct CompileResult {
  bool ok = false;
  std::string error;        // the compile error, when !ok
  Program program;          // encoded program, when ok
  std::vector<Insn> insns;  // the same instructions before encoding (values may exceed fields)
  std::vector<Uop> uops;
  HiddenFeatures hidden;  // computed from the program alone (never from a simulation)
};

CompileResult compile(const HwConfig& hw, const Workload& w, const Schedule& s, uint64_t data_seed);

}  // namespace ml2::vta
