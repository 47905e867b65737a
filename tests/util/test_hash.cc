#include <gtest/gtest.h>

#include <set>
#include <string>

#include "util/hash.h"

namespace ml2 {
namespace {

TEST(Hash, Fnv1aMatchesTheReferenceValues) {
  // The published FNV-1a 64 test vectors.
  EXPECT_EQ(fnv1a("", 0), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a("a", 1), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a("foobar", 6), 0x85944171f73967e8ull);
  // Continuing from a value hashes the concatenation.
  EXPECT_EQ(fnv1a("bar", 3, fnv1a("foo", 3)), fnv1a("foobar", 6));
}

TEST(Hash, ContentDigestIsStableAndTellsContentsApart) {
  const std::string d = content_digest("a VTA program");
  EXPECT_EQ(d.size(), 32u);
  EXPECT_EQ(d.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(d, content_digest("a VTA program"));
  // Its first half is FNV-1a; the second an independent hash.
  EXPECT_EQ(content_digest("foobar").substr(0, 16), "85944171f73967e8");
  // Lengths, single-bit flips, trailing zero bytes: all different.
  std::set<std::string> seen;
  std::string bytes(40, '\0');
  seen.insert(content_digest(""));
  for (size_t n = 1; n <= bytes.size(); ++n) seen.insert(content_digest(bytes.substr(0, n)));
  for (size_t bit = 0; bit < 8 * bytes.size(); ++bit) {
    std::string flipped = bytes;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    seen.insert(content_digest(flipped));
  }
  EXPECT_EQ(seen.size(), 1 + bytes.size() + 8 * bytes.size());
}

}  // namespace
}  // namespace ml2
