// The cycle model's cost of one instruction, shared by the simulator (which adds the dataflow
// between the load, compute and store modules and their token queues) and the compiler (whose
// hidden features sum the costs per module without that dataflow: a static estimate).
#pragma once

#include <cstdint>

#include "vta/hw_config.h"
#include "vta/isa.h"

namespace ml2::vta {

// Bytes of one entry of a memory type (a micro-op: 4).
int64_t entry_bytes(const HwConfig& hw, MemType mem);

// Cycles `in` occupies its module (the durations listed in simulator.cc). Fields are taken as
// they are; an instruction the simulator would refuse still gets a number.
int64_t insn_cycles(const HwConfig& hw, const Insn& in);

}  // namespace ml2::vta
