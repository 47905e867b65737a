// The VTA target: ml2tuner's VTA-compatible accelerator (hardware model, compiler with hidden
// features, cycle-level and bit-exact functional simulator). The embedded default target.
//
// build(config)  compiles the schedule to a VTA program (src/vta/compiler.h); compile errors are
//                VTA's lowering errors; the hidden features are computed from the program alone.
// run(artifact)  simulates the program (src/vta/simulator.h), checks its output against a
//                reference conv2d/dense, and reports the simulated latency.
// Virtual time: each build is charged kBuildSeconds (TVM lowering and VTA code generation of one
// schedule on a host CPU take about half a second) and each run kRunOverheadSeconds (uploading the
// module to the board and launching it over RPC) plus the simulated latency times the repeats.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ml2tuner/target.h"

namespace ml2 {

struct VtaOptions {
  std::string task = "resnet18.C2";  // a named workload or a conv2d:/dense: shape
  std::string tmpl = "stock";        // stock | extended
  std::string hw = "default";        // default | extended | a JSON file
  uint64_t data_seed = 1;            // inputs and weights of the operator
  int repeats = 3;                   // measurements per run, as AutoTVM's `number`
  double noise = 0;                  // relative std. deviation of seeded measurement noise
  uint64_t noise_seed = 0;
};

inline constexpr double kBuildSeconds = 0.5;
inline constexpr double kRunOverheadSeconds = 0.03;

// Throws std::invalid_argument with a one-line message for an unknown workload, template or
// hardware preset, an inconsistent hardware file, or a shape the hardware cannot run.
std::unique_ptr<Target> make_vta_target(const VtaOptions& options);

}  // namespace ml2
