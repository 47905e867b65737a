// The built-in targets by name. kTargets is the one list of known names: add a target there and in
// make_target.
#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ml2tuner/replay.h"
#include "ml2tuner/target.h"
#include "ml2tuner/vta.h"

namespace ml2 {
namespace {

constexpr std::array<std::string_view, 2> kTargets = {
    "vta",
    "replay",
};

std::string known_list() {
  std::string s;
  for (std::string_view t : kTargets) {
    if (!s.empty()) s += ", ";
    s += t;
  }
  return s;
}

}  // namespace

std::vector<std::string> target_names() { return {kTargets.begin(), kTargets.end()}; }

std::unique_ptr<Target> make_target(const std::string& name, const TargetOptions& options) {
  if (name == "vta") {
    VtaOptions v;
    v.task = options.task;
    v.tmpl = options.tmpl;
    v.hw = options.hw;
    v.noise = options.noise;
    v.noise_seed = options.noise_seed;
    return make_vta_target(v);
  }
  if (name == "replay") {
    const std::string& space_file = options.space;
    if (space_file.empty()) {
      throw std::invalid_argument(
          "the replay target needs --space FILE (a Kernel Tuner cache or KTT output)");
    }
    try {
      return make_replay_target(space_file);
    } catch (const std::runtime_error& e) {
      // target.h promises std::invalid_argument for a bad file; the message stays the same.
      throw std::invalid_argument(e.what());
    }
  }
  throw std::invalid_argument("unknown target '" + name + "'; known targets: " + known_list());
}

}  // namespace ml2
