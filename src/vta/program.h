// A compiled VTA program: the encoded instruction stream, the micro-op DRAM image, and where the
// operator's tensors live in DRAM. This is the artifact the build stage hands to the run stage.
//
// DRAM layout (byte addresses, each region aligned to 4 KiB; a LOAD/STORE's dram_base counts
// entries of its memory type from address 0):
//   inp  int8 [N/B][CI/BLOCK][H][W][B][BLOCK]
//   wgt  int8 [CO/BLOCK][CI/BLOCK][K][K][BLOCK][BLOCK]     (out-channel major within a block)
//   out  int8 [N/B][CO/BLOCK][OH][OW][B][BLOCK]
//   uop  uint32 micro-ops, loaded into the uop buffer by LOAD instructions of memory type uop
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vta/isa.h"
#include "vta/workload.h"

namespace ml2::vta {

struct Program {
  Workload workload;
  uint64_t data_seed = 0;  // inputs and weights are drawn from this seed (see data.h)
  uint64_t inp_addr = 0, wgt_addr = 0, out_addr = 0, uop_addr = 0;
  uint64_t dram_bytes = 0;  // total size of the DRAM image
  std::vector<Word128> insns;
  std::vector<uint32_t> uops;

  std::string serialize() const;
  // Throws std::runtime_error for bytes that are not a serialized program.
  static Program deserialize(const std::string& bytes);
};

}  // namespace ml2::vta
