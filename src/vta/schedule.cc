#include "vta/schedule.h"

#include <stdexcept>

namespace ml2::vta {

Template template_from_string(const std::string& name) {
  if (name == "stock") return Template::kStock;
  if (name == "extended") return Template::kExtended;
  throw std::invalid_argument("unknown template '" + name + "'; templates: stock, extended");
}

const char* to_string(Template t) { return t == Template::kStock ? "stock" : "extended"; }

Space make_space(const Workload& w, const HwConfig& hw, Template t) {
  const int64_t n_b = w.n / hw.batch(), n_ci = w.ci / hw.block(), n_co = w.co / hw.block();
  using Policy = Knob::SplitPolicy;
  const Policy spatial = t == Template::kStock ? Policy::kFactors : Policy::kFactorsOrPower2;
  const std::vector<int64_t> threads =
      t == Template::kStock ? std::vector<int64_t>{1, 2} : std::vector<int64_t>{1, 2, 4};
  SpaceBuilder b;
  // The order in which AutoTVM's templates define their knobs.
  b.add(Knob::Split("tile_b", n_b, 2));
  if (!w.dense) {
    b.add(Knob::Split("tile_h", w.oh(), 2, spatial));
    b.add(Knob::Split("tile_w", w.ow(), 2, spatial));
  }
  b.add(Knob::Split("tile_ci", n_ci, 2));
  b.add(Knob::Split("tile_co", n_co, 2));
  b.add(Knob::Values("oc_nthread", threads));
  if (!w.dense) b.add(Knob::Values("h_nthread", threads));
  if (t == Template::kExtended) {
    if (!w.dense) b.add(Knob::Choice("order", {"h_co_w", "co_h_w"}));
    b.add(Knob::Choice("fold", {"ci_w", "h_w", "co_w"}));
  }
  return std::move(b).build();
}

Schedule schedule_of(const Space& space, const Config& c, Template t) {
  Schedule s;
  const auto& knobs = space.knobs();
  for (size_t k = 0; k < knobs.size(); ++k) {
    const Knob& knob = knobs[k];
    const std::string& name = knob.name();
    const uint32_t e = c[k];
    if (name == "tile_b") s.b_in = knob.parts(e)[1];
    if (name == "tile_h") s.h_in = knob.parts(e)[1];
    if (name == "tile_w") s.w_in = knob.parts(e)[1];
    if (name == "tile_ci") s.ci_in = knob.parts(e)[1];
    if (name == "tile_co") s.co_in = knob.parts(e)[1];
    if (name == "oc_nthread") s.oc_nthread = static_cast<int>(knob.value(e));
    if (name == "h_nthread") s.h_nthread = static_cast<int>(knob.value(e));
    if (name == "order") s.order = knob.value(e) == 0 ? LoopOrder::kHCoW : LoopOrder::kCoHW;
    if (name == "fold") s.fold = static_cast<Fold>(knob.value(e));
  }
  s.reuse_weights = t == Template::kExtended;
  return s;
}

}  // namespace ml2::vta
