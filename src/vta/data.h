// The operator data of a VTA run: deterministic inputs and weights, the reference output the
// simulator checks against, and the packing into (and out of) the DRAM layouts of program.h.
//
// Tensors are drawn from std::mt19937_64(seed), whose output sequence the C++ standard fixes, so
// the data are identical on every platform: value i of the input tensor is the low byte of the
// i-th 64-bit draw read as int8 (two's complement), then the weights continue the same stream.
// Every value is uniform in [-128, 127].
//
// Dense is conv2d with H = W = K = 1, pad 0 and stride 1 (whatever those fields hold).
#pragma once

#include <cstdint>
#include <vector>

#include "vta/hw_config.h"
#include "vta/workload.h"

namespace ml2::vta {

struct Tensors {
  std::vector<int8_t> inp;  // [N][CI][H][W]
  std::vector<int8_t> wgt;  // [CO][CI][K][K]
};

Tensors make_tensors(const Workload& w, uint64_t seed);

// A plain NCHW conv2d with zero padding and int32 accumulation (wrapping), requantised as
// clip(acc >> w.shift, -128, 127) with an arithmetic shift. Result [N][CO][OH][OW].
std::vector<int8_t> reference_output(const Workload& w, const Tensors& t);

// Sizes in bytes of the packed regions (one byte per value).
int64_t packed_inp_bytes(const Workload& w);  // N*CI*H*W
int64_t packed_wgt_bytes(const Workload& w);  // CO*CI*K*K
int64_t packed_out_bytes(const Workload& w);  // N*CO*OH*OW

// Packing into the DRAM layouts of program.h (B = hw.batch(), BL = hw.block()):
//   inp [N/B][CI/BL][H][W][B][BL], wgt [CO/BL][CI/BL][K][K][BL_out][BL_in],
//   out [N/B][CO/BL][OH][OW][B][BL].
// The destination must hold packed_*_bytes(w) bytes. Throws std::invalid_argument if N is not a
// multiple of B or a channel count not a multiple of BL.
void pack_inputs(const HwConfig& hw, const Workload& w, const Tensors& t, uint8_t* dram_inp_region);
void pack_weights(const HwConfig& hw, const Workload& w, const Tensors& t,
                  uint8_t* dram_wgt_region);
// Packs an [N][CO][OH][OW] tensor (the reference) into the output layout.
void pack_output(const HwConfig& hw, const Workload& w, const std::vector<int8_t>& out,
                 uint8_t* dram_out_region);
// Reads the output region back as [N][CO][OH][OW].
std::vector<int8_t> unpack_output(const HwConfig& hw, const Workload& w,
                                  const uint8_t* dram_out_region);

// Everything a simulation of one workload and seed needs, computed once.
struct PreparedData {
  std::vector<uint8_t> inp_packed;  // the input region, packed_inp_bytes(w) bytes
  std::vector<uint8_t> wgt_packed;  // the weight region, packed_wgt_bytes(w) bytes
  std::vector<int8_t> reference;    // [N][CO][OH][OW]
  std::vector<uint8_t> out_packed;  // the reference in the output layout (for a quick compare)
};

// A per-thread cache of prepared data, keyed on every workload field, the hardware's batch and
// block, and the seed; it keeps the few most recently used entries. The returned reference stays
// valid until prepared() has been called with four other keys on the same thread. Runs happen in
// persistent single-threaded worker processes, so a thread-local cache needs no locking and lets
// repeated simulations of one configuration skip the data generation and the reference conv2d.
const PreparedData& prepared(const HwConfig& hw, const Workload& w, uint64_t seed);

}  // namespace ml2::vta
