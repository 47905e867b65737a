// A two-knob space for the strategy tests: x in [0, nx), y in [0, ny), every point valid.
#pragma once

#include <utility>

#include "ml2tuner/space.h"

namespace ml2 {

inline Space grid_space(int nx, int ny) {
  SpaceBuilder b;
  b.add(Knob::Range("x", 0, nx - 1));
  b.add(Knob::Range("y", 0, ny - 1));
  return std::move(b).build();
}

}  // namespace ml2
