// Operators the VTA target compiles: conv2d (packed NCHW{B}n{BLOCK}c) and dense, with the
// ResNet-18 layers VTA offloads by name.
//
// Dense is conv2d with H = W = K = 1: its packed layouts (N/B, CI/B, B, B) are the conv2d layouts
// with unit spatial dimensions, so both share one compiler.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vta/hw_config.h"

namespace ml2::vta {

struct Workload {
  std::string name;  // "resnet18.C2", or the spec it was parsed from
  bool dense = false;
  int64_t n = 1, h = 1, w = 1, ci = 1, co = 1, k = 1, pad = 0, stride = 1;
  int shift = 8;  // requantisation: out = clip(acc >> shift, -128, 127)

  int64_t oh() const { return (h + 2 * pad - k) / stride + 1; }
  int64_t ow() const { return (w + 2 * pad - k) / stride + 1; }
  int64_t macs() const { return n * oh() * ow() * ci * co * k * k; }
  std::string describe() const;

  // "resnet18.C2" ... "resnet18.C11", "resnet18.fc", or a shape:
  //   conv2d:n=1,h=56,w=56,ci=64,co=64,k=3,pad=1,stride=1   (n, pad, stride optional)
  //   dense:n=16,ci=512,co=1024                               (n optional)
  // Throws std::invalid_argument naming the unknown workload or the bad shape.
  static Workload parse(const std::string& spec);
  // Throws std::invalid_argument if the shape cannot run on `hw` (channels not a multiple of the
  // block, batch not a multiple of BATCH, a kernel larger than the padded input...).
  void validate(const HwConfig& hw) const;
};

// The named workloads, in order.
const std::vector<Workload>& named_workloads();

}  // namespace ml2::vta
