// Reading a whole file that may be gzip-compressed (private to the library).
#pragma once

#include <string>

namespace ml2 {

// Returns the contents of `path`, decompressed if it is a gzip file (a plain file is returned as
// is). Throws std::runtime_error with a one-line message beginning with the path for a missing
// or unreadable file and for a truncated or corrupt gzip stream.
std::string read_maybe_gzipped(const std::string& path);

}  // namespace ml2
