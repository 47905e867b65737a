// The replay target: answers as a recorded device did, from a Kernel Tuner cache file or a KTT
// output file (gzip or plain).
//
// - The space is the set of recorded configurations: configurations a kernel's restrictions
//   excluded are absent from the recording and therefore outside the space.
// - Compile failures (Kernel Tuner "CompilationFailedConfig", KTT "CompilationFailed") are
//   returned by build(); runtime failures (Kernel Tuner "RuntimeFailedConfig", KTT
//   "ComputationFailed", "DeviceLimitsExceeded", "ValidationFailed") only by run().
// - Hidden features are the recorded compile data: KTT CompilationData (registers, shared,
//   local/private and constant memory, max block size), Kernel Tuner `num_regs`/`registers`, and
//   every feature in `ml2_hidden` (what `ml2tuner sweep` records), under its own name.
// - Virtual time: Kernel Tuner's `compile_time` is charged to the build and `benchmark_time` plus
//   `verification_time` to the run; KTT records no compile time, so its per-configuration
//   `Overhead` (compilation and set-up) is charged to the build and `Duration` plus data movement
//   and validation overhead to the run.
#pragma once

#include <memory>
#include <string>

#include "ml2tuner/target.h"

namespace ml2 {

// Reads `path`. Throws std::runtime_error with a one-line message for a missing, truncated or
// malformed file. Kernel Tuner caches left unterminated by an interrupted run (ending after an
// entry's "},") are accepted, as Kernel Tuner itself accepts them.
std::unique_ptr<Target> make_replay_target(const std::string& path);

}  // namespace ml2
