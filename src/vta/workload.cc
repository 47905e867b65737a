#include "vta/workload.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>

namespace ml2::vta {
namespace {

Workload conv(const char* name, int64_t hw, int64_t ci, int64_t co, int64_t k, int64_t pad,
              int64_t stride) {
  Workload w;
  w.name = name;
  w.h = w.w = hw;
  w.ci = ci;
  w.co = co;
  w.k = k;
  w.pad = pad;
  w.stride = stride;
  return w;
}

int64_t parse_int(const std::string& spec, const std::string& key, const std::string& text) {
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty()) {
    throw std::invalid_argument("workload '" + spec + "': " + key + " must be an integer, got '" +
                                text + "'");
  }
  return v;
}

}  // namespace

const std::vector<Workload>& named_workloads() {
  // The ten ResNet-18 conv2d layers VTA offloads (batch 1), and its classifier as dense with the
  // 1000 classes padded to 1008, a multiple of 16.
  static const std::vector<Workload> all = [] {
    std::vector<Workload> v = {
        conv("resnet18.C2", 56, 64, 64, 3, 1, 1),    conv("resnet18.C3", 56, 64, 128, 3, 1, 2),
        conv("resnet18.C4", 56, 64, 128, 1, 0, 2),   conv("resnet18.C5", 28, 128, 128, 3, 1, 1),
        conv("resnet18.C6", 28, 128, 256, 3, 1, 2),  conv("resnet18.C7", 28, 128, 256, 1, 0, 2),
        conv("resnet18.C8", 14, 256, 256, 3, 1, 1),  conv("resnet18.C9", 14, 256, 512, 3, 1, 2),
        conv("resnet18.C10", 14, 256, 512, 1, 0, 2), conv("resnet18.C11", 7, 512, 512, 3, 1, 1),
    };
    Workload fc;
    fc.name = "resnet18.fc";
    fc.dense = true;
    fc.ci = 512;
    fc.co = 1008;
    v.push_back(fc);
    return v;
  }();
  return all;
}

std::string Workload::describe() const {
  std::ostringstream os;
  if (dense) {
    os << "dense n=" << n << " ci=" << ci << " co=" << co;
  } else {
    os << "conv2d n=" << n << " " << h << "x" << w << " " << ci << "->" << co << " k=" << k
       << " pad=" << pad << " stride=" << stride;
    constexpr int64_t kShown = int64_t{1} << 20;  // output sizes of a rejected one may overflow
    if (stride >= 1 && k >= 1 && h >= 1 && w >= 1 && pad >= 0 &&
        std::max({h, w, k, pad}) <= kShown) {
      os << " -> " << oh() << "x" << ow();
    }
  }
  return os.str();
}

Workload Workload::parse(const std::string& spec) {
  for (const Workload& w : named_workloads()) {
    if (w.name == spec) return w;
  }
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  if (colon == std::string::npos || (kind != "conv2d" && kind != "dense")) {
    std::string names;
    for (const Workload& w : named_workloads()) names += (names.empty() ? "" : ", ") + w.name;
    throw std::invalid_argument("unknown workload '" + spec + "'; known: " + names +
                                ", or conv2d:h=..,w=..,ci=..,co=..,k=..[,n=..,pad=..,stride=..]"
                                " or dense:ci=..,co=..[,n=..]");
  }
  Workload w;
  w.name = spec;
  w.dense = kind == "dense";
  std::map<std::string, int64_t*> keys = {{"n", &w.n}, {"ci", &w.ci}, {"co", &w.co}};
  if (!w.dense) {
    keys.insert({{"h", &w.h}, {"w", &w.w}, {"k", &w.k}, {"pad", &w.pad}, {"stride", &w.stride}});
  }
  std::map<std::string, bool> seen;
  std::stringstream items(spec.substr(colon + 1));
  std::string item;
  while (std::getline(items, item, ',')) {
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq);
    auto it = keys.find(key);
    if (eq == std::string::npos || it == keys.end()) {
      std::string known;
      for (const auto& [k, _] : keys) known += (known.empty() ? "" : ", ") + k;
      throw std::invalid_argument("workload '" + spec + "': unknown field '" + key +
                                  "'; fields: " + known);
    }
    *it->second = parse_int(spec, key, item.substr(eq + 1));
    seen[key] = true;
  }
  for (const char* required : {"ci", "co"}) {
    if (!seen[required]) {
      throw std::invalid_argument("workload '" + spec + "' needs " + required + "=...");
    }
  }
  if (!w.dense) {
    for (const char* required : {"h", "w", "k"}) {
      if (!seen[required]) {
        throw std::invalid_argument("workload '" + spec + "' needs " + required + "=...");
      }
    }
  }
  return w;
}

void Workload::validate(const HwConfig& hw) const {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("workload '" + name + "' (" + describe() + "): " + why);
  };
  if (n < 1 || h < 1 || w < 1 || ci < 1 || co < 1 || k < 1 || stride < 1 || pad < 0) {
    fail("sizes must be positive (and pad >= 0)");
  }
  // Bounds far above any network layer, so that the arithmetic below cannot overflow and a typo
  // (a digit too many) is named rather than simulated for hours.
  if (n > 256) fail("n must be at most 256");
  if (pad >= 16) fail("padding must fit the 4-bit pad fields of LOAD (at most 15)");
  if (h > 4096 || w > 4096) fail("h and w must be at most 4096");
  if (ci > 65536 || co > 65536) fail("ci and co must be at most 65536");
  if (k > h + 2 * pad || k > w + 2 * pad) fail("the kernel is larger than the padded input");
  const double work = static_cast<double>(n) * static_cast<double>(oh()) *
                      static_cast<double>(ow()) * static_cast<double>(ci) *
                      static_cast<double>(co) * static_cast<double>(k * k);
  if (work > 1e11) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", work);
    fail(std::string(text) +
         " multiply-accumulates, more than 1e11: the simulator would take hours");
  }
  // The simulator holds the tensors in one DRAM image of at most 2 GiB (int8 input and weights,
  // int32 at most per output element); a large stride keeps the work small but not the input.
  const double bytes =
      static_cast<double>(n) * static_cast<double>(ci) * static_cast<double>(h) *
          static_cast<double>(w) +
      static_cast<double>(co) * static_cast<double>(ci) * static_cast<double>(k * k) +
      4.0 * static_cast<double>(n) * static_cast<double>(co) * static_cast<double>(oh()) *
          static_cast<double>(ow());
  if (bytes > 2147483648.0) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", bytes);
    fail("its tensors take " + std::string(text) +
         " bytes, more than the simulator's 2 GiB DRAM image");
  }
  if (n % hw.batch() != 0)
    fail("batch must be a multiple of BATCH = " + std::to_string(hw.batch()));
  if (ci % hw.block() != 0 || co % hw.block() != 0) {
    fail("channels must be multiples of the block size " + std::to_string(hw.block()));
  }
  if (shift < 0 || shift > 31) fail("the requantisation shift must be in 0..31");
}

}  // namespace ml2::vta
