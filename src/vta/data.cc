#include "vta/data.h"

#include <algorithm>
#include <list>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

namespace ml2::vta {
namespace {

// The conv2d shape of a workload; dense is the 1x1 case.
struct Shape {
  int64_t n, ci, h, w, co, k, pad, stride, oh, ow;
};

Shape shape_of(const Workload& wl) {
  Shape s{wl.n, wl.ci, wl.h, wl.w, wl.co, wl.k, wl.pad, wl.stride, 0, 0};
  if (wl.dense) {
    s.h = s.w = s.k = s.stride = 1;
    s.pad = 0;
  }
  if (s.stride < 1) throw std::invalid_argument("workload '" + wl.name + "': stride must be >= 1");
  s.oh = std::max<int64_t>(0, (s.h + 2 * s.pad - s.k) / s.stride + 1);
  s.ow = std::max<int64_t>(0, (s.w + 2 * s.pad - s.k) / s.stride + 1);
  if (s.h + 2 * s.pad < s.k || s.w + 2 * s.pad < s.k) s.oh = s.ow = 0;
  return s;
}

void check_packable(const HwConfig& hw, const Workload& wl) {
  if (wl.n % hw.batch() != 0 || wl.ci % hw.block() != 0 || wl.co % hw.block() != 0) {
    throw std::invalid_argument("workload '" + wl.name + "' (" + wl.describe() +
                                ") does not pack into batch " + std::to_string(hw.batch()) +
                                " and block " + std::to_string(hw.block()));
  }
}

}  // namespace

Tensors make_tensors(const Workload& w, uint64_t seed) {
  const Shape s = shape_of(w);
  Tensors t;
  t.inp.resize(static_cast<size_t>(s.n * s.ci * s.h * s.w));
  t.wgt.resize(static_cast<size_t>(s.co * s.ci * s.k * s.k));
  std::mt19937_64 gen(seed);
  // uint8 -> int8 is modular since C++20: -128..127 on every platform.
  for (int8_t& v : t.inp) v = static_cast<int8_t>(static_cast<uint8_t>(gen() & 0xff));
  for (int8_t& v : t.wgt) v = static_cast<int8_t>(static_cast<uint8_t>(gen() & 0xff));
  return t;
}

std::vector<int8_t> reference_output(const Workload& w, const Tensors& t) {
  const Shape s = shape_of(w);
  if (static_cast<int64_t>(t.inp.size()) != s.n * s.ci * s.h * s.w ||
      static_cast<int64_t>(t.wgt.size()) != s.co * s.ci * s.k * s.k) {
    throw std::invalid_argument("reference_output: tensors do not match workload '" + w.name + "'");
  }
  std::vector<int8_t> out(static_cast<size_t>(s.n * s.co * s.oh * s.ow));
  // One output plane at a time; unsigned arithmetic gives int32 wrap-around without overflow.
  std::vector<uint32_t> acc(static_cast<size_t>(s.oh * s.ow));
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t co = 0; co < s.co; ++co) {
      std::fill(acc.begin(), acc.end(), 0u);
      for (int64_t ci = 0; ci < s.ci; ++ci) {
        const int8_t* plane = t.inp.data() + (n * s.ci + ci) * s.h * s.w;
        for (int64_t kh = 0; kh < s.k; ++kh) {
          for (int64_t kw = 0; kw < s.k; ++kw) {
            const int32_t wv = t.wgt[static_cast<size_t>(((co * s.ci + ci) * s.k + kh) * s.k + kw)];
            if (wv == 0) continue;
            // Output columns whose input column ow*stride + kw - pad lies inside the image.
            const int64_t lo_num = s.pad - kw;
            const int64_t ow_lo = lo_num <= 0 ? 0 : (lo_num + s.stride - 1) / s.stride;
            const int64_t hi_num = s.w - 1 + s.pad - kw;
            const int64_t ow_hi = hi_num < 0 ? 0 : std::min(s.ow, hi_num / s.stride + 1);
            for (int64_t oh = 0; oh < s.oh; ++oh) {
              const int64_t ih = oh * s.stride + kh - s.pad;
              if (ih < 0 || ih >= s.h) continue;
              const int8_t* row = plane + ih * s.w;
              uint32_t* a = acc.data() + oh * s.ow;
              if (s.stride == 1) {
                const int64_t off = kw - s.pad;
                for (int64_t ow = ow_lo; ow < ow_hi; ++ow) {
                  a[ow] += static_cast<uint32_t>(wv * int32_t{row[ow + off]});
                }
              } else {
                for (int64_t ow = ow_lo; ow < ow_hi; ++ow) {
                  a[ow] += static_cast<uint32_t>(wv * int32_t{row[ow * s.stride + kw - s.pad]});
                }
              }
            }
          }
        }
      }
      int8_t* o = out.data() + (n * s.co + co) * s.oh * s.ow;
      for (int64_t i = 0; i < s.oh * s.ow; ++i) {
        const int32_t v = static_cast<int32_t>(acc[static_cast<size_t>(i)]) >> w.shift;
        o[i] = static_cast<int8_t>(std::clamp<int32_t>(v, -128, 127));
      }
    }
  }
  return out;
}

int64_t packed_inp_bytes(const Workload& w) {
  const Shape s = shape_of(w);
  return s.n * s.ci * s.h * s.w;
}
int64_t packed_wgt_bytes(const Workload& w) {
  const Shape s = shape_of(w);
  return s.co * s.ci * s.k * s.k;
}
int64_t packed_out_bytes(const Workload& w) {
  const Shape s = shape_of(w);
  return s.n * s.co * s.oh * s.ow;
}

namespace {

// Calls f(plain index, packed index) for every value of an activation tensor [N][C][H][W] and its
// packed layout [N/B][C/BL][H][W][B][BL]: the inputs and the outputs share it.
template <class F>
void for_each_activation(const HwConfig& hw, int64_t n_, int64_t c_, int64_t h_, int64_t w_, F f) {
  const int64_t b = hw.batch(), bl = hw.block(), cb = c_ / bl;
  for (int64_t n = 0; n < n_; ++n) {
    for (int64_t c = 0; c < c_; ++c) {
      for (int64_t y = 0; y < h_; ++y) {
        for (int64_t x = 0; x < w_; ++x) {
          const int64_t plain = ((n * c_ + c) * h_ + y) * w_ + x;
          const int64_t packed =
              ((((n / b) * cb + c / bl) * h_ + y) * w_ + x) * b * bl + (n % b) * bl + c % bl;
          f(plain, packed);
        }
      }
    }
  }
}

template <class F>
void for_each_output(const HwConfig& hw, const Workload& w, F f) {
  check_packable(hw, w);
  const Shape s = shape_of(w);
  for_each_activation(hw, s.n, s.co, s.oh, s.ow, f);
}

}  // namespace

void pack_inputs(const HwConfig& hw, const Workload& w, const Tensors& t,
                 uint8_t* dram_inp_region) {
  check_packable(hw, w);
  const Shape s = shape_of(w);
  for_each_activation(hw, s.n, s.ci, s.h, s.w, [&](int64_t plain, int64_t packed) {
    dram_inp_region[packed] = static_cast<uint8_t>(t.inp[static_cast<size_t>(plain)]);
  });
}

void pack_weights(const HwConfig& hw, const Workload& w, const Tensors& t,
                  uint8_t* dram_wgt_region) {
  check_packable(hw, w);
  const Shape s = shape_of(w);
  const int64_t bl = hw.block(), cib = s.ci / bl;
  for (int64_t co = 0; co < s.co; ++co) {
    for (int64_t ci = 0; ci < s.ci; ++ci) {
      for (int64_t kh = 0; kh < s.k; ++kh) {
        for (int64_t kw = 0; kw < s.k; ++kw) {
          const int64_t src = ((co * s.ci + ci) * s.k + kh) * s.k + kw;
          const int64_t dst = ((((co / bl) * cib + ci / bl) * s.k + kh) * s.k + kw) * bl * bl +
                              (co % bl) * bl + ci % bl;
          dram_wgt_region[dst] = static_cast<uint8_t>(t.wgt[static_cast<size_t>(src)]);
        }
      }
    }
  }
}

void pack_output(const HwConfig& hw, const Workload& w, const std::vector<int8_t>& out,
                 uint8_t* dram_out_region) {
  if (static_cast<int64_t>(out.size()) != packed_out_bytes(w)) {
    throw std::invalid_argument("pack_output: tensor does not match workload '" + w.name + "'");
  }
  for_each_output(hw, w, [&](int64_t plain, int64_t packed) {
    dram_out_region[packed] = static_cast<uint8_t>(out[static_cast<size_t>(plain)]);
  });
}

std::vector<int8_t> unpack_output(const HwConfig& hw, const Workload& w,
                                  const uint8_t* dram_out_region) {
  std::vector<int8_t> out(static_cast<size_t>(packed_out_bytes(w)));
  for_each_output(hw, w, [&](int64_t plain, int64_t packed) {
    out[static_cast<size_t>(plain)] = static_cast<int8_t>(dram_out_region[packed]);
  });
  return out;
}

namespace {

struct CacheKey {
  std::string name;
  bool dense;
  int64_t n, h, w, ci, co, k, pad, stride;
  int shift;
  int batch, block;
  uint64_t seed;
  bool operator==(const CacheKey&) const = default;
};

struct CacheEntry {
  CacheKey key;
  std::unique_ptr<PreparedData> data;
};

constexpr size_t kCacheEntries = 4;

}  // namespace

const PreparedData& prepared(const HwConfig& hw, const Workload& w, uint64_t seed) {
  // Most recently used first. Entries own their data through a pointer, so a reference handed
  // out stays put while the list is reordered.
  thread_local std::list<CacheEntry> cache;
  const CacheKey key{w.name, w.dense, w.n,      w.h,     w.w,        w.ci,       w.co,
                     w.k,    w.pad,   w.stride, w.shift, hw.batch(), hw.block(), seed};
  for (auto it = cache.begin(); it != cache.end(); ++it) {
    if (it->key == key) {
      cache.splice(cache.begin(), cache, it);
      return *cache.front().data;
    }
  }
  auto data = std::make_unique<PreparedData>();
  const Tensors t = make_tensors(w, seed);
  data->inp_packed.resize(static_cast<size_t>(packed_inp_bytes(w)));
  data->wgt_packed.resize(static_cast<size_t>(packed_wgt_bytes(w)));
  data->out_packed.resize(static_cast<size_t>(packed_out_bytes(w)));
  pack_inputs(hw, w, t, data->inp_packed.data());
  pack_weights(hw, w, t, data->wgt_packed.data());
  data->reference = reference_output(w, t);
  pack_output(hw, w, data->reference, data->out_packed.data());
  if (cache.size() >= kCacheEntries) cache.pop_back();
  cache.push_front(CacheEntry{key, std::move(data)});
  return *cache.front().data;
}

}  // namespace ml2::vta
