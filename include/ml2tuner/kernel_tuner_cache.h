// Export of a record store as a Kernel Tuner cache file, the format the replay target reads and
// other tuners (Kernel Tuner, the benchmark_hub tools) understand.
//
// Knobs become tune_params: a 2-way split is written as its inner factor (the tile size; the
// outer factor follows from the extent), other knobs as their values. Each measured configuration
// becomes an entry with its parameters and `time` (ms), or, for a failure, Kernel Tuner's
// "CompilationFailedConfig" (a build failure) or "RuntimeFailedConfig" (a run failure);
// `compile_time` and `benchmark_time` hold the virtual costs (ms). Extra fields Kernel Tuner
// ignores: `ml2_status` (the status name) and `ml2_hidden` (the hidden features).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "ml2tuner/record_store.h"
#include "ml2tuner/space.h"

namespace ml2 {

// Writes the measured configurations among `records` (records of builds that never ran are
// skipped). Throws std::invalid_argument if a knob cannot be written as a scalar parameter.
void write_kernel_tuner_cache(std::ostream& out, const Space& space,
                              const std::vector<Record>& records, const std::string& kernel_name,
                              const std::string& device_name);

}  // namespace ml2
