// Content hashes that give the same value with every standard library (std::hash does not).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ml2 {

inline constexpr uint64_t kFnvOffset = 14695981039346656037ull;
// What the space digest and the VTA target's noise seed have always started from: the offset
// basis above without its last digit. Kept, so that stored space digests (which a resumed store
// must match) and seeded noise stay as they were.
inline constexpr uint64_t kLegacyFnvOffset = 1469598103934665603ull;

// FNV-1a, 64 bits, continuing from `h`.
inline uint64_t fnv1a(const void* data, size_t len, uint64_t h = kFnvOffset) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < len; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

// A 128-bit digest of `bytes` as 32 hex digits: FNV-1a and, independently, a multiply-xorshift
// over 8-byte words (splitmix64's finaliser), so that two different artifacts share a digest with
// negligible probability. Not cryptographic: it identifies content, it does not authenticate it.
inline std::string content_digest(std::string_view bytes) {
  auto finalise = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  const uint64_t a = fnv1a(bytes.data(), bytes.size());
  uint64_t b = finalise(bytes.size() ^ 0x9e3779b97f4a7c15ull);
  for (size_t i = 0; i < bytes.size(); i += 8) {
    uint64_t w = 0;  // little-endian, whatever the host's byte order
    for (size_t j = 0; j < 8 && i + j < bytes.size(); ++j) {
      w |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i + j])) << (8 * j);
    }
    b = finalise(b ^ finalise(w + i));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int k = 0; k < 16; ++k) {
    out[static_cast<size_t>(15 - k)] = kHex[(a >> (4 * k)) & 15];
    out[static_cast<size_t>(31 - k)] = kHex[(b >> (4 * k)) & 15];
  }
  return out;
}

}  // namespace ml2
