// Schedule templates: the search spaces of the VTA target and what a configuration means.
//
// stock     exactly AutoTVM's conv2d_packed.vta / dense_packed.vta knobs: 2-way splits with divisor
//           factors of the batch, output rows and columns, input- and output-channel blocks
//           (tile_b, tile_h, tile_w, tile_ci, tile_co), and the virtual threads oc_nthread and
//           h_nthread in {1, 2} (dense: tile_b, tile_ci, tile_co, oc_nthread). The space size is
//           d(N/B) d(OH) d(OW) d(CI/16) d(CO/16) 4, as in vta.md.
// extended  the space an "extended VTA" study needs:
//           - tile_h / tile_w also take power-of-two tiles that do not divide the extent: the last
//             tile is partial and the compiler guards it (shorter loops, row-by-row stores);
//           - oc_nthread and h_nthread in {1, 2, 4};
//           - order: the tile loop order, "h_co_w" (AutoTVM's) or "co_h_w" (output-channel outer,
//             so that a weight tile stays resident across rows when the whole input-channel range
//             fits one chunk: the compiler then skips reloading it);
//           - fold: the micro-kernel, i.e. which two loops of the GEMM nest become the
//             instruction's iter_out/iter_in loops (the others are unrolled into micro-ops):
//             "ci_w" (AutoTVM's nest: ci, w, kw, kh, co, h), "h_w" (h, w, ci, kw, kh, co) or
//             "co_w" (co, w, ci, kw, kh, h). Small folds make large micro-op kernels.
#pragma once

#include <string>

#include "ml2tuner/space.h"
#include "vta/hw_config.h"
#include "vta/workload.h"

namespace ml2::vta {

enum class Template { kStock, kExtended };
Template template_from_string(const std::string& name);  // throws std::invalid_argument
const char* to_string(Template t);

enum class LoopOrder { kHCoW, kCoHW };
enum class Fold { kCiW, kHW, kCoW };

struct Schedule {
  int64_t b_in = 1, h_in = 1, w_in = 1, ci_in = 1, co_in = 1;  // tile sizes (blocks for b/ci/co)
  int oc_nthread = 1, h_nthread = 1;
  LoopOrder order = LoopOrder::kHCoW;
  Fold fold = Fold::kCiW;
  bool reuse_weights = false;  // extended: keep a resident weight tile instead of reloading it
};

Space make_space(const Workload& w, const HwConfig& hw, Template t);
Schedule schedule_of(const Space& space, const Config& c, Template t);

}  // namespace ml2::vta
