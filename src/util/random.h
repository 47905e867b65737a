// Seeded randomness that gives the same draws with every standard library.
#pragma once

#include <cstdint>
#include <limits>
#include <random>

namespace ml2 {

// Uniform in [0, n), n >= 1, by rejection (std::uniform_int_distribution is
// implementation-defined, so the same seed could give another run elsewhere).
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  const uint64_t limit = max - max % n;
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

// Uniform in [0, 1) with 53 random bits, from the raw engine output (the same draws everywhere,
// unlike std::uniform_real_distribution).
inline double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

}  // namespace ml2
