// Reader's map
//   Lowering::run()        checks allocations and DMA patterns on the generic tile, then walks
//                          the tile groups and emits, per group: accumulator reset, the chunk
//                          loop (loads on the load module, GEMM on compute), requantisation
//                          (ALU), and stores, with the dependency tokens of each step.
//   plan_copy()            turns a tile copy (dimensions with DRAM strides and padding) into
//                          2-D DMA instructions, folding contiguous dimensions as TVM does.
//   gemm_kernel()          builds the micro-op kernel of a chunk for the chosen loop nest.
//   use_kernel()           keeps micro-op kernels in the uop buffer like VTA's runtime cache
//                          (load on first use, flush when full).
//   hidden_features()      what the compiled program reveals.
#include "vta/compiler.h"

#include "vta/timing.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

namespace ml2::vta {
namespace {

constexpr uint64_t kAlign = 4096;

uint64_t align_up(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// One dimension of a tile copy, outer to inner. `extent` counts DRAM elements; the pads are zero
// entries the DMA inserts before and after them.
struct Dim {
  int64_t extent = 1;
  int64_t stride = 1;  // DRAM entries between consecutive indices
  int64_t pad0 = 0, pad1 = 0;
  int64_t span() const { return extent + pad0 + pad1; }
};

// A 2-D DMA: y rows of x entries (plus pads), `dram` and `sram` relative to the copy's bases.
struct Dma {
  int64_t y = 1, x = 1, stride = 1, y0 = 0, y1 = 0, x0 = 0, x1 = 0;
  int64_t dram = 0, sram = 0;
  int64_t footprint() const { return (y + y0 + y1) * (x + x0 + x1); }
};

// Drops the dimensions of one element. A dimension of one padding element stays: dropped, the
// copy would load a real row or column where the tile needs zeros.
std::vector<Dim> drop_unit(const std::vector<Dim>& dims) {
  std::vector<Dim> out;
  for (const Dim& d : dims) {
    if (d.span() > 1 || d.pad0 || d.pad1) out.push_back(d);
  }
  return out;
}

// Folds adjacent unpadded dimensions that are contiguous in DRAM. A DMA row (x) is contiguous,
// so when the innermost dimension is strided the row is a single element.
std::vector<Dim> fold(std::vector<Dim> dims) {
  if (!dims.empty() && dims.back().stride != 1) dims.push_back(Dim{1, 1});
  for (size_t i = dims.size(); i-- > 1;) {
    Dim& outer = dims[i - 1];
    const Dim& inner = dims[i];
    const bool padded = outer.pad0 || outer.pad1 || inner.pad0 || inner.pad1;
    if (!padded && outer.stride == inner.extent * inner.stride) {
      outer.extent *= inner.extent;
      outer.stride = inner.stride;
      dims.erase(dims.begin() + static_cast<ptrdiff_t>(i));
    }
  }
  return dims;
}

// What TVM's DMA injection says about the generic tile's copy ("" if it lowers).
std::string check_copy(const std::vector<Dim>& dims, bool padded, const std::string& scope) {
  std::vector<Dim> d = drop_unit(dims);
  if (padded) {
    // TVM's padded load takes y and x from the first two dimensions and refuses padding below.
    if (d.size() > 2) {
      for (size_t i = 2; i < d.size(); ++i) {
        if (d[i].pad0 || d[i].pad1) return "Do not support pad on the innermost block";
      }
      return "Scope[" + scope + "]: cannot detect 2d pattern of a padded copy";
    }
    return "";
  }
  d = fold(d);
  if (d.size() > 2) {
    std::ostringstream os;
    os << "Scope[" << scope << "]: cannot detect 2d pattern with shape (";
    for (size_t i = 0; i < d.size(); ++i) os << (i ? ", " : "") << d[i].extent;
    os << ")";
    return os.str();
  }
  return "";
}

// The DMAs of one (actual) tile copy. Dimensions that do not fold are looped over, one DMA per
// index (a guard of a partial tile); `guards` counts those extra DMAs.
std::vector<Dma> plan_copy(const std::vector<Dim>& dims, int64_t* guards) {
  std::vector<Dim> d = fold(drop_unit(dims));
  std::vector<Dma> out;
  if (d.empty()) {
    out.push_back(Dma{});
    return out;
  }
  const size_t inner = d.size() >= 2 ? d.size() - 2 : 0;
  Dma base;
  const Dim& xd = d.back();
  base.x = xd.extent;
  base.x0 = xd.pad0;
  base.x1 = xd.pad1;
  base.stride = xd.extent;
  if (d.size() >= 2) {
    const Dim& yd = d[d.size() - 2];
    base.y = yd.extent;
    base.y0 = yd.pad0;
    base.y1 = yd.pad1;
    base.stride = yd.stride;
  }
  // Enumerate the outer dimensions (none when the copy is 2-D).
  int64_t count = 1;
  for (size_t i = 0; i < inner; ++i) count *= d[i].extent;
  const int64_t per = base.footprint();
  for (int64_t idx = 0; idx < count; ++idx) {
    Dma dma = base;
    int64_t rest = idx;
    for (size_t i = inner; i-- > 0;) {
      dma.dram += (rest % d[i].extent) * d[i].stride;
      rest /= d[i].extent;
    }
    dma.sram = idx * per;
    out.push_back(dma);
  }
  if (count > 1) *guards += count - 1;
  return out;
}

struct Loop {
  const char* name;
  int64_t extent;
  int64_t dst, src, wgt;  // index coefficients
};

struct Kernel {
  std::vector<Uop> uops;
  int64_t iter_out = 1, iter_in = 1;
  int64_t dst_fo = 0, dst_fi = 0, src_fo = 0, src_fi = 0, wgt_fo = 0, wgt_fi = 0;
};

// Folds the two outermost non-unit loops into the instruction and unrolls the rest.
Kernel make_kernel(const std::vector<Loop>& nest, Uop base) {
  std::vector<Loop> live;
  for (const Loop& l : nest) {
    if (l.extent > 1) live.push_back(l);
  }
  Kernel k;
  size_t first = 0;
  if (!live.empty()) {
    const bool two = live.size() >= 2;
    const Loop& in = two ? live[1] : live[0];
    k.iter_in = in.extent;
    k.dst_fi = in.dst;
    k.src_fi = in.src;
    k.wgt_fi = in.wgt;
    if (two) {
      const Loop& out = live[0];
      k.iter_out = out.extent;
      k.dst_fo = out.dst;
      k.src_fo = out.src;
      k.wgt_fo = out.wgt;
    }
    first = two ? 2 : 1;
  }
  std::vector<Loop> rest(live.begin() + static_cast<ptrdiff_t>(first), live.end());
  std::vector<int64_t> idx(rest.size(), 0);
  for (;;) {
    Uop u = base;
    for (size_t i = 0; i < rest.size(); ++i) {
      u.dst_idx += idx[i] * rest[i].dst;
      u.src_idx += idx[i] * rest[i].src;
      u.wgt_idx += idx[i] * rest[i].wgt;
    }
    k.uops.push_back(u);
    size_t i = rest.size();
    while (i > 0) {
      --i;
      if (++idx[i] < rest[i].extent) break;
      idx[i] = 0;
      if (i == 0) return k;
    }
    if (rest.empty()) return k;
  }
}

struct UopKey {
  std::vector<int64_t> flat;
  bool operator<(const UopKey& o) const { return flat < o.flat; }
};

UopKey key_of(const std::vector<Uop>& uops) {
  UopKey k;
  k.flat.reserve(uops.size() * 3);
  for (const Uop& u : uops) {
    k.flat.push_back(u.dst_idx);
    k.flat.push_back(u.src_idx);
    k.flat.push_back(u.wgt_idx);
  }
  return k;
}

class Lowering {
 public:
  Lowering(const HwConfig& hw, const Workload& w, const Schedule& s)
      : hw_(hw), isa_(hw), w_(w), s_(s) {}

  CompileResult run(uint64_t data_seed);

 private:
  // --- emission helpers ---
  Insn& emit(Insn i) {
    insns_.push_back(i);
    return insns_.back();
  }
  Insn mem(Opcode op, MemType m, const Dma& d, int64_t sram_base, int64_t dram_base) const {
    Insn i;
    i.opcode = static_cast<int64_t>(op);
    i.memory_type = static_cast<int64_t>(m);
    i.sram_base = sram_base + d.sram;
    i.dram_base = dram_base + d.dram;
    i.y_size = d.y;
    i.x_size = d.x;
    i.x_stride = d.stride;
    i.y_pad_0 = d.y0;
    i.y_pad_1 = d.y1;
    i.x_pad_0 = d.x0;
    i.x_pad_1 = d.x1;
    return i;
  }
  // A GEMM or ALU instruction whose one micro-op sweeps a whole accumulator slot.
  Insn slot_sweep(Opcode op, int64_t uop) const {
    Insn i;
    i.opcode = static_cast<int64_t>(op);
    i.uop_bgn = uop;
    i.uop_end = uop + 1;
    i.iter_out = s_.co_in * s_.b_in * s_.h_in;
    i.iter_in = s_.w_in;
    i.dst_factor_out = s_.w_in;
    i.dst_factor_in = 1;
    return i;
  }
  static Insn noop(Opcode op) {
    Insn i;
    i.opcode = static_cast<int64_t>(op);
    if (op == Opcode::kGemm) {
      i.iter_out = i.iter_in = 1;  // uop_bgn == uop_end: no micro-op runs
    } else {
      i.memory_type = static_cast<int64_t>(op == Opcode::kLoad ? MemType::kInp : MemType::kOut);
    }
    return i;
  }
  // Returns the uop buffer offset of `uops`, loading them first if they are not resident.
  int64_t use_kernel(const std::vector<Uop>& uops);

  std::vector<Dim> input_dims(int64_t b0, int64_t ci0, int64_t h0, int64_t w0, int64_t h_a,
                              int64_t w_a, int64_t* dram_base) const;
  std::vector<Dim> weight_dims(int64_t co0, int64_t ci0, int64_t* dram_base) const;
  Kernel gemm_kernel(int slot, int64_t h_a, int64_t w_a) const;
  HiddenFeatures hidden_features() const;

  const HwConfig& hw_;
  Isa isa_;
  Workload w_;
  Schedule s_;

  // Shapes (blocks for batch and channels).
  int64_t n_b_ = 0, n_ci_ = 0, n_co_ = 0, oh_ = 0, ow_ = 0;
  int64_t ih_ = 0, iw_ = 0;  // input window of a full tile
  int64_t acc_tile_ = 0, inp_tile_ = 0, wgt_tile_ = 0;
  int threads_ = 1;
  uint64_t inp_entry0_ = 0, wgt_entry0_ = 0, out_entry0_ = 0, uop_entry0_ = 0;

  std::vector<Insn> insns_;
  std::vector<Uop> uop_image_;
  std::map<UopKey, int64_t> kernel_dram_;  // kernel -> offset in uop_image_
  std::map<UopKey, int64_t> resident_;     // kernel -> offset in the uop buffer
  int64_t uop_cursor_ = 0;

  // Statistics for the hidden features.
  int64_t tiles_ = 0, partial_tiles_ = 0, guards_ = 0, idle_slots_ = 0, slot_rounds_ = 0;
  int64_t kernels_ = 0, max_kernel_ = 0, uop_loads_ = 0, uop_flushes_ = 0, wgt_reuses_ = 0;
  int64_t groups_ = 0, chunks_ = 0;
  double sum_log2_extents_ = 0;
};

int64_t Lowering::use_kernel(const std::vector<Uop>& uops) {
  const UopKey key = key_of(uops);
  if (auto it = resident_.find(key); it != resident_.end()) return it->second;
  auto [dram_it, inserted] = kernel_dram_.try_emplace(key, static_cast<int64_t>(uop_image_.size()));
  if (inserted) {
    uop_image_.insert(uop_image_.end(), uops.begin(), uops.end());
    ++kernels_;
    max_kernel_ = std::max<int64_t>(max_kernel_, static_cast<int64_t>(uops.size()));
  }
  const auto size = static_cast<int64_t>(uops.size());
  if (uop_cursor_ + size > hw_.uop_depth() && uop_cursor_ > 0) {
    // VTA's runtime evicts everything when a kernel does not fit behind the resident ones.
    resident_.clear();
    uop_cursor_ = 0;
    ++uop_flushes_;
  }
  Dma d;
  d.y = 1;
  d.x = size;
  d.stride = size;
  emit(mem(Opcode::kLoad, MemType::kUop, d, uop_cursor_,
           static_cast<int64_t>(uop_entry0_) + dram_it->second));
  ++uop_loads_;
  const int64_t at = uop_cursor_;
  resident_[key] = at;
  uop_cursor_ += size;
  return at;
}

std::vector<Dim> Lowering::input_dims(int64_t b0, int64_t ci0, int64_t h0, int64_t w0, int64_t h_a,
                                      int64_t w_a, int64_t* dram_base) const {
  const int64_t s = w_.stride, k = w_.k, pad = w_.pad;
  const int64_t rows = (h_a - 1) * s + k, cols = (w_a - 1) * s + k;
  const int64_t r0 = h0 * s - pad, c0 = w0 * s - pad;
  Dim dh, dw;
  // A tile that lies wholly in the padding (more padding than the tile has rows) loads nothing:
  // its pads are capped at its size, so that the extent is 0 and never negative.
  dh.pad0 = std::min(rows, std::max<int64_t>(0, -r0));
  dh.pad1 = std::min(rows - dh.pad0, std::max<int64_t>(0, r0 + rows - w_.h));
  dh.extent = rows - dh.pad0 - dh.pad1;
  dh.stride = w_.w;
  dw.pad0 = std::min(cols, std::max<int64_t>(0, -c0));
  dw.pad1 = std::min(cols - dw.pad0, std::max<int64_t>(0, c0 + cols - w_.w));
  dw.extent = cols - dw.pad0 - dw.pad1;
  dw.stride = 1;
  *dram_base = static_cast<int64_t>(inp_entry0_) +
               ((b0 * n_ci_ + ci0) * w_.h + std::max<int64_t>(r0, 0)) * w_.w +
               std::max<int64_t>(c0, 0);
  return {Dim{s_.b_in, n_ci_ * w_.h * w_.w}, Dim{s_.ci_in, w_.h * w_.w}, dh, dw};
}

std::vector<Dim> Lowering::weight_dims(int64_t co0, int64_t ci0, int64_t* dram_base) const {
  const int64_t kk = w_.k * w_.k;
  *dram_base = static_cast<int64_t>(wgt_entry0_) + (co0 * n_ci_ + ci0) * kk;
  return {Dim{s_.co_in, n_ci_ * kk}, Dim{s_.ci_in, kk}, Dim{w_.k, w_.k}, Dim{w_.k, 1}};
}

Kernel Lowering::gemm_kernel(int slot, int64_t h_a, int64_t w_a) const {
  const int64_t s = w_.stride, k = w_.k;
  const int64_t rows = (h_a - 1) * s + k, cols = (w_a - 1) * s + k;  // loaded input window
  const int64_t b_in = s_.b_in, h_in = s_.h_in, w_in = s_.w_in, ci_in = s_.ci_in;
  // Index coefficients: acc[((co*b + b)*h_in + h)*w_in + w], inp[((b*ci + ci)*rows + h*s + kh)
  // *cols + w*s + kw], wgt[((co*ci + ci)*k + kh)*k + kw].
  const Loop ci{"ci", ci_in, 0, rows * cols, k * k};
  const Loop wl{"w", w_a, 1, s, 0};
  const Loop kw{"kw", k, 0, 1, 1};
  const Loop kh{"kh", k, 0, cols, k};
  const Loop co{"co", s_.co_in, b_in * h_in * w_in, 0, ci_in * k * k};
  const Loop hl{"h", h_a, w_in, s * cols, 0};
  const Loop bl{"b", b_in, h_in * w_in, ci_in * rows * cols, 0};
  std::vector<Loop> nest;
  switch (s_.fold) {
    case Fold::kCiW:
      nest = {ci, wl, kw, kh, co, hl, bl};
      break;
    case Fold::kHW:
      nest = {hl, wl, ci, kw, kh, co, bl};
      break;
    case Fold::kCoW:
      nest = {co, wl, ci, kw, kh, hl, bl};
      break;
  }
  Uop base;
  base.dst_idx = slot * acc_tile_;
  base.src_idx = slot * inp_tile_;
  base.wgt_idx = slot * wgt_tile_;
  return make_kernel(nest, base);
}

CompileResult Lowering::run(uint64_t data_seed) {
  CompileResult result;
  const int64_t B = hw_.batch(), BL = hw_.block();
  n_b_ = w_.n / B;
  n_ci_ = w_.ci / BL;
  n_co_ = w_.co / BL;
  oh_ = w_.oh();
  ow_ = w_.ow();
  const int64_t k = w_.k, s = w_.stride;
  if (s_.b_in < 1 || n_b_ % s_.b_in || s_.ci_in < 1 || n_ci_ % s_.ci_in || s_.co_in < 1 ||
      n_co_ % s_.co_in || s_.h_in < 1 || s_.h_in > oh_ || s_.w_in < 1 || s_.w_in > ow_ ||
      s_.oc_nthread < 1 || s_.h_nthread < 1) {
    result.error = "schedule does not fit the workload";
    return result;
  }
  ih_ = (s_.h_in - 1) * s + k;
  iw_ = (s_.w_in - 1) * s + k;
  threads_ = s_.oc_nthread * s_.h_nthread;
  acc_tile_ = s_.co_in * s_.b_in * s_.h_in * s_.w_in;
  inp_tile_ = s_.b_in * s_.ci_in * ih_ * iw_;
  wgt_tile_ = s_.co_in * s_.ci_in * k * k;

  // --- compile-time checks, on the generic tile (as TVM lowers one loop body for all tiles) ---
  struct Alloc {
    const char* tag;
    int64_t tile, depth;
  };
  for (const Alloc& a : {Alloc{"local.acc_buffer", acc_tile_, hw_.acc_depth()},
                         Alloc{"local.inp_buffer", inp_tile_, hw_.inp_depth()},
                         Alloc{"local.wgt_buffer", wgt_tile_, hw_.wgt_depth()}}) {
    if (a.tile * threads_ > a.depth) {
      result.error = std::string("Allocation exceed bound of memory tag ") + a.tag + ": " +
                     std::to_string(threads_) + " thread(s) x " + std::to_string(a.tile) +
                     " entries > " + std::to_string(a.depth);
      return result;
    }
  }
  {
    int64_t ignored = 0;
    Dim dh{ih_, w_.w, w_.pad, w_.pad}, dw{iw_, 1, w_.pad, w_.pad};
    std::vector<Dim> generic = {Dim{s_.b_in, n_ci_ * w_.h * w_.w}, Dim{s_.ci_in, w_.h * w_.w},
                                w_.pad ? dh : Dim{ih_, w_.w}, w_.pad ? dw : Dim{iw_, 1}};
    std::string err = check_copy(generic, w_.pad > 0, "local.inp_buffer");
    if (err.empty()) err = check_copy(weight_dims(0, 0, &ignored), false, "local.wgt_buffer");
    if (err.empty()) {
      err = check_copy({Dim{s_.b_in, n_co_ * oh_ * ow_}, Dim{s_.h_in, ow_}, Dim{s_.w_in, 1}}, false,
                       "global (output)");
    }
    if (!err.empty()) {
      result.error = err;
      return result;
    }
  }

  // --- DRAM layout ---
  Program& p = result.program;
  p.workload = w_;
  p.data_seed = data_seed;
  const uint64_t inp_bytes =
      static_cast<uint64_t>(n_b_ * n_ci_ * w_.h * w_.w) * hw_.inp_elem_bytes();
  const uint64_t wgt_bytes = static_cast<uint64_t>(n_co_ * n_ci_ * k * k) * hw_.wgt_elem_bytes();
  const uint64_t out_bytes = static_cast<uint64_t>(n_b_ * n_co_ * oh_ * ow_) * hw_.out_elem_bytes();
  p.inp_addr = 0;
  p.wgt_addr = align_up(p.inp_addr + inp_bytes);
  p.out_addr = align_up(p.wgt_addr + wgt_bytes);
  p.uop_addr = align_up(p.out_addr + out_bytes);
  inp_entry0_ = p.inp_addr / hw_.inp_elem_bytes();
  wgt_entry0_ = p.wgt_addr / hw_.wgt_elem_bytes();
  out_entry0_ = p.out_addr / hw_.out_elem_bytes();
  uop_entry0_ = p.uop_addr / 4;

  // --- the tile groups, in loop order; each group runs one tile per virtual-thread slot ---
  const int64_t b_o = n_b_ / s_.b_in, h_o = ceil_div(oh_, s_.h_in), w_o = ceil_div(ow_, s_.w_in);
  const int64_t co_o = n_co_ / s_.co_in, ci_o = n_ci_ / s_.ci_in;
  const int64_t h_oo = ceil_div(h_o, s_.h_nthread), co_oo = ceil_div(co_o, s_.oc_nthread);
  struct Group {
    int64_t b, hh, cc, w;
  };
  std::vector<Group> groups;
  for (int64_t b = 0; b < b_o; ++b) {
    for (int64_t x = 0; x < (s_.order == LoopOrder::kHCoW ? h_oo : co_oo); ++x) {
      for (int64_t y = 0; y < (s_.order == LoopOrder::kHCoW ? co_oo : h_oo); ++y) {
        for (int64_t c = 0; c < w_o; ++c) {
          groups.push_back(s_.order == LoopOrder::kHCoW ? Group{b, x, y, c} : Group{b, y, x, c});
        }
      }
    }
  }
  groups_ = static_cast<int64_t>(groups.size());
  chunks_ = ci_o;
  for (int64_t e : {b_o, h_oo, co_oo, w_o, ci_o, static_cast<int64_t>(threads_)}) {
    sum_log2_extents_ += std::log2(static_cast<double>(e));
  }

  struct Slot {
    bool active = false;
    int64_t b0 = 0, co0 = 0, h0 = 0, w0 = 0, h_a = 0, w_a = 0;
  };
  std::vector<int64_t> resident_wgt(static_cast<size_t>(threads_), -1);
  const int64_t rounds = groups_ * ci_o;
  int64_t round = 0;

  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<Slot> slots(static_cast<size_t>(threads_));
    for (int t = 0; t < threads_; ++t) {
      const int tc = t / s_.h_nthread, th = t % s_.h_nthread;
      const int64_t co_blk = groups[g].cc * s_.oc_nthread + tc;
      const int64_t h_blk = groups[g].hh * s_.h_nthread + th;
      Slot& sl = slots[static_cast<size_t>(t)];
      ++slot_rounds_;
      if (co_blk >= co_o || h_blk >= h_o) {
        ++idle_slots_;
        continue;
      }
      sl.active = true;
      sl.b0 = groups[g].b * s_.b_in;
      sl.co0 = co_blk * s_.co_in;
      sl.h0 = h_blk * s_.h_in;
      sl.w0 = groups[g].w * s_.w_in;
      sl.h_a = std::min(s_.h_in, oh_ - sl.h0);
      sl.w_a = std::min(s_.w_in, ow_ - sl.w0);
      ++tiles_;
      if (sl.h_a < s_.h_in || sl.w_a < s_.w_in) ++partial_tiles_;
    }

    // 1. Reset each slot's accumulators (after the store of its previous tile drained them).
    for (int t = 0; t < threads_; ++t) {
      const Slot& sl = slots[static_cast<size_t>(t)];
      const size_t begin = insns_.size();
      if (sl.active) {
        Uop u;
        u.dst_idx = t * acc_tile_;
        const int64_t bgn = use_kernel({u});
        Insn r = slot_sweep(Opcode::kGemm, bgn);
        r.reset_reg = 1;
        emit(r);
      } else {
        emit(noop(Opcode::kGemm));
      }
      if (g > 0) insns_[begin].pop_next_dep = 1;
    }

    // 2. The chunk loop over input channels.
    for (int64_t c = 0; c < ci_o; ++c, ++round) {
      for (int t = 0; t < threads_; ++t) {
        const Slot& sl = slots[static_cast<size_t>(t)];
        const size_t begin = insns_.size();
        if (sl.active) {
          int64_t dram = 0;
          for (const Dma& d :
               plan_copy(input_dims(sl.b0, c * s_.ci_in, sl.h0, sl.w0, sl.h_a, sl.w_a, &dram),
                         &guards_)) {
            emit(mem(Opcode::kLoad, MemType::kInp, d, t * inp_tile_, dram));
          }
          const bool reuse =
              s_.reuse_weights && ci_o == 1 && resident_wgt[static_cast<size_t>(t)] == sl.co0;
          if (reuse) {
            ++wgt_reuses_;
          } else {
            for (const Dma& d : plan_copy(weight_dims(sl.co0, c * s_.ci_in, &dram), &guards_)) {
              emit(mem(Opcode::kLoad, MemType::kWgt, d, t * wgt_tile_, dram));
            }
            resident_wgt[static_cast<size_t>(t)] = ci_o == 1 ? sl.co0 : -1;
          }
        } else {
          emit(noop(Opcode::kLoad));
        }
        if (round > 0) insns_[begin].pop_next_dep = 1;  // wait until compute freed this slot
        insns_.back().push_next_dep = 1;                // tell compute the tile is loaded
      }
      for (int t = 0; t < threads_; ++t) {
        const Slot& sl = slots[static_cast<size_t>(t)];
        const size_t begin = insns_.size();
        if (sl.active) {
          Kernel kern = gemm_kernel(t, sl.h_a, sl.w_a);
          const int64_t bgn = use_kernel(kern.uops);
          Insn gm;
          gm.opcode = static_cast<int64_t>(Opcode::kGemm);
          gm.uop_bgn = bgn;
          gm.uop_end = bgn + static_cast<int64_t>(kern.uops.size());
          gm.iter_out = kern.iter_out;
          gm.iter_in = kern.iter_in;
          gm.dst_factor_out = kern.dst_fo;
          gm.dst_factor_in = kern.dst_fi;
          gm.src_factor_out = kern.src_fo;
          gm.src_factor_in = kern.src_fi;
          gm.wgt_factor_out = kern.wgt_fo;
          gm.wgt_factor_in = kern.wgt_fi;
          emit(gm);
        } else {
          emit(noop(Opcode::kGemm));
        }
        insns_[begin].pop_prev_dep = 1;                           // wait for the loads
        if (round + 1 < rounds) insns_.back().push_prev_dep = 1;  // free the slot for the next load
      }
    }

    // 3. Requantise: shift, clip to int8 (the output buffer keeps the low 8 bits).
    for (int t = 0; t < threads_; ++t) {
      const Slot& sl = slots[static_cast<size_t>(t)];
      if (sl.active) {
        Uop u;
        u.dst_idx = t * acc_tile_;
        const int64_t bgn = use_kernel({u});
        const std::pair<AluOp, int64_t> ops[] = {
            {AluOp::kShr, w_.shift}, {AluOp::kMin, 127}, {AluOp::kMax, -128}};
        for (const auto& [op, imm] : ops) {
          Insn a = slot_sweep(Opcode::kAlu, bgn);
          a.src_factor_out = s_.w_in;
          a.src_factor_in = 1;
          a.alu_opcode = static_cast<int64_t>(op);
          a.use_imm = 1;
          a.imm = imm;
          emit(a);
        }
      } else {
        emit(noop(Opcode::kGemm));
      }
      insns_.back().push_next_dep = 1;  // the tile is ready to store
    }

    // 4. Store each output-channel block of each slot.
    for (int t = 0; t < threads_; ++t) {
      const Slot& sl = slots[static_cast<size_t>(t)];
      const size_t begin = insns_.size();
      if (sl.active) {
        for (int64_t co = 0; co < s_.co_in; ++co) {
          for (int64_t b = 0; b < s_.b_in; ++b) {
            const int64_t sram = t * acc_tile_ + ((co * s_.b_in + b) * s_.h_in) * s_.w_in;
            const int64_t dram = static_cast<int64_t>(out_entry0_) +
                                 (((sl.b0 + b) * n_co_ + sl.co0 + co) * oh_ + sl.h0) * ow_ + sl.w0;
            if (sl.w_a == s_.w_in) {  // the tile's rows are contiguous on chip: one 2-D store
              Dma d;
              d.y = sl.h_a;
              d.x = sl.w_a;
              d.stride = ow_;
              emit(mem(Opcode::kStore, MemType::kOut, d, sram, dram));
            } else {  // a partial tile: its rows are apart on chip, one store per row
              for (int64_t h = 0; h < sl.h_a; ++h) {
                Dma d;
                d.x = sl.w_a;
                d.stride = sl.w_a;
                emit(mem(Opcode::kStore, MemType::kOut, d, sram + h * s_.w_in, dram + h * ow_));
                if (h > 0) ++guards_;
              }
            }
          }
        }
      } else {
        emit(noop(Opcode::kStore));
      }
      insns_[begin].pop_prev_dep = 1;   // wait for the requantised tile
      insns_.back().push_prev_dep = 1;  // its buffer may be reset
    }
  }
  // Drain: wait for the last store of every slot, then finish.
  for (int t = 0; t < threads_; ++t) emit(noop(Opcode::kGemm)).pop_next_dep = 1;
  emit(noop(Opcode::kFinish));

  // --- encode ---
  p.insns.reserve(insns_.size());
  for (const Insn& i : insns_) p.insns.push_back(isa_.encode(i));
  p.uops.reserve(uop_image_.size());
  for (const Uop& u : uop_image_) p.uops.push_back(isa_.encode(u));
  p.dram_bytes = align_up(p.uop_addr + uop_image_.size() * 4);
  result.hidden = hidden_features();
  result.insns = std::move(insns_);
  result.uops = std::move(uop_image_);
  result.ok = true;
  return result;
}

HiddenFeatures Lowering::hidden_features() const {
  HiddenFeatures h;
  // Instructions by opcode and memory type, DMA volume and bursts.
  std::map<std::string, double> count, bytes, bursts, rows;
  int64_t pushes[4] = {0, 0, 0, 0}, pops[4] = {0, 0, 0, 0};  // l2c, c2l, c2s, s2c
  int64_t noops = 0, gemm_iters = 0, alu_iters = 0, pad_entries = 0;
  std::map<std::string, double> field_ratio;
  // Cycles each module is busy by the cycle model's per-instruction costs, with no dataflow
  // between the modules (load, compute, store): a static estimate, no simulation.
  int64_t busy[3] = {0, 0, 0};
  for (const Insn& i : insns_) {
    const Opcode op = i.op();
    const bool on_load =
        op == Opcode::kLoad && (i.mem() == MemType::kInp || i.mem() == MemType::kWgt);
    busy[on_load ? 0 : op == Opcode::kStore ? 2 : 1] += insn_cycles(hw_, i);
    std::string name = to_string(op);
    if (op == Opcode::kLoad || op == Opcode::kStore) {
      name += std::string("_") + to_string(i.mem());
      int64_t elem = 4;
      switch (i.mem()) {
        case MemType::kInp:
          elem = hw_.inp_elem_bytes();
          break;
        case MemType::kWgt:
          elem = hw_.wgt_elem_bytes();
          break;
        case MemType::kAcc:
          elem = hw_.acc_elem_bytes();
          break;
        case MemType::kOut:
          elem = hw_.out_elem_bytes();
          break;
        default:
          break;
      }
      const int64_t row_bytes = i.x_size * elem;
      const int64_t beats = (row_bytes + hw_.bus_bytes - 1) / hw_.bus_bytes;
      bytes[name] += static_cast<double>(row_bytes * i.y_size);
      bursts[name] +=
          static_cast<double>(i.y_size * ((beats + hw_.max_burst_beats - 1) / hw_.max_burst_beats));
      rows[name] += static_cast<double>(i.y_size);
      pad_entries += (i.x_size + i.x_pad_0 + i.x_pad_1) * (i.y_size + i.y_pad_0 + i.y_pad_1) -
                     i.x_size * i.y_size;
      if (i.y_size == 0 || i.x_size == 0) ++noops;
      // Loads of inp/wgt and stores live on the load and store modules.
      if (on_load) {
        pushes[0] += i.push_next_dep;
        pops[1] += i.pop_next_dep;
      } else if (op == Opcode::kStore) {
        pushes[3] += i.push_prev_dep;
        pops[2] += i.pop_prev_dep;
      } else {
        pushes[1] += i.push_prev_dep;
        pushes[2] += i.push_next_dep;
        pops[0] += i.pop_prev_dep;
        pops[3] += i.pop_next_dep;
      }
    } else if (op == Opcode::kGemm || op == Opcode::kAlu) {
      const int64_t n = i.iter_out * i.iter_in * (i.uop_end - i.uop_bgn);
      if (i.uop_end == i.uop_bgn) ++noops;
      (op == Opcode::kGemm ? gemm_iters : alu_iters) += i.reset_reg ? 0 : n;
      pushes[1] += i.push_prev_dep;
      pushes[2] += i.push_next_dep;
      pops[0] += i.pop_prev_dep;
      pops[3] += i.pop_next_dep;
    }
    count[name] += 1;
    // How close each bit-width-limited field came to its limit (> 1: it overflowed).
    for (const Field& f : isa_.layout(op)) {
      if (f.width < 4 || f.name == "imm") continue;
      const double ratio = static_cast<double>(i.*f.member) / static_cast<double>(f.max_value());
      double& r = field_ratio[f.name];
      r = std::max(r, ratio);
    }
  }
  const auto& uop_fields = isa_.uop_layout();
  for (const Uop& u : uop_image_) {
    for (const Field& f : uop_fields) {
      double& r = field_ratio["uop_" + f.name];
      r = std::max(r, static_cast<double>(u.*f.uop_member) / static_cast<double>(f.max_value()));
    }
  }
  for (const auto& [k, v] : count) h["insn." + k] = v;
  for (const auto& [k, v] : bytes) h["dma_bytes." + k] = v;
  for (const auto& [k, v] : bursts) h["dma_bursts." + k] = v;
  for (const auto& [k, v] : rows) h["dma_rows." + k] = v;
  for (const auto& [k, v] : field_ratio) h["field_headroom." + k] = v;
  h["insn.total"] = static_cast<double>(insns_.size());
  h["estimate.load_cycles"] = static_cast<double>(busy[0]);
  h["estimate.compute_cycles"] = static_cast<double>(busy[1]);
  h["estimate.store_cycles"] = static_cast<double>(busy[2]);
  h["estimate.serial_cycles"] = static_cast<double>(busy[0] + busy[1] + busy[2]);
  // The busiest module bounds the run from below: the estimate a strategy may rank by.
  h["estimate"] = static_cast<double>(std::max({busy[0], busy[1], busy[2]}));
  h["insn.noop"] = static_cast<double>(noops);
  const char* queues[] = {"load_to_compute", "compute_to_load", "compute_to_store",
                          "store_to_compute"};
  for (int q = 0; q < 4; ++q) {
    h[std::string("dep_push.") + queues[q]] = static_cast<double>(pushes[q]);
    h[std::string("dep_pop.") + queues[q]] = static_cast<double>(pops[q]);
  }
  h["uop.total"] = static_cast<double>(uop_image_.size());
  h["uop.kernels"] = static_cast<double>(kernels_);
  h["uop.max_kernel"] = static_cast<double>(max_kernel_);
  h["uop.mean_kernel"] =
      kernels_ ? static_cast<double>(uop_image_.size()) / static_cast<double>(kernels_) : 0;
  h["uop.loads"] = static_cast<double>(uop_loads_);
  h["uop.flushes"] = static_cast<double>(uop_flushes_);
  h["loop.tile_groups"] = static_cast<double>(groups_);
  h["loop.chunks_per_tile"] = static_cast<double>(chunks_);
  h["loop.tiles"] = static_cast<double>(tiles_);
  h["loop.sum_log2_extents"] = sum_log2_extents_;
  h["loop.gemm_uop_iterations"] = static_cast<double>(gemm_iters);
  h["loop.alu_uop_iterations"] = static_cast<double>(alu_iters);
  h["tile.partial"] = static_cast<double>(partial_tiles_);
  h["tile.guards"] = static_cast<double>(guards_);
  h["tile.pad_entries"] = static_cast<double>(pad_entries);
  h["vthread.idle_slots"] = static_cast<double>(idle_slots_);
  h["vthread.idle_share"] =
      slot_rounds_ ? static_cast<double>(idle_slots_) / static_cast<double>(slot_rounds_) : 0;
  h["store.trip_count"] = count.count("STORE_out") ? count.at("STORE_out") : 0;
  h["wgt.reused_tiles"] = static_cast<double>(wgt_reuses_);
  h["sram_util.inp"] =
      static_cast<double>(threads_ * inp_tile_) / static_cast<double>(hw_.inp_depth());
  h["sram_util.wgt"] =
      static_cast<double>(threads_ * wgt_tile_) / static_cast<double>(hw_.wgt_depth());
  h["sram_util.acc"] =
      static_cast<double>(threads_ * acc_tile_) / static_cast<double>(hw_.acc_depth());
  h["sram_util.uop_max_kernel"] =
      static_cast<double>(max_kernel_) / static_cast<double>(hw_.uop_depth());
  return h;
}

}  // namespace

CompileResult compile(const HwConfig& hw, const Workload& w, const Schedule& s,
                      uint64_t data_seed) {
  return Lowering(hw, w, s).run(data_seed);
}

}  // namespace ml2::vta
