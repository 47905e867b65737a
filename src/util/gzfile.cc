#include "util/gzfile.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace ml2 {
namespace {

// Closes the gzFile on every path out of read_maybe_gzipped.
struct GzCloser {
  gzFile f;
  ~GzCloser() {
    if (f != nullptr) gzclose(f);
  }
};

}  // namespace

std::string read_maybe_gzipped(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(st)) throw std::runtime_error(path + ": no such file");
  if (std::filesystem::is_directory(st)) throw std::runtime_error(path + ": is a directory");

  errno = 0;
  GzCloser file{gzopen(path.c_str(), "rb")};
  if (file.f == nullptr) {
    const int err = errno;
    throw std::runtime_error(path + ": cannot open (" +
                             (err != 0 ? std::strerror(err) : "out of memory") + ")");
  }
  gzbuffer(file.f, 1 << 18);

  std::string out;
  // A compressed file usually expands several times; start from the on-disk size.
  const auto disk_size = std::filesystem::file_size(path, ec);
  if (!ec) out.reserve(static_cast<size_t>(disk_size) * 4);

  constexpr unsigned kChunk = 1u << 20;
  for (;;) {
    const size_t old = out.size();
    out.resize(old + kChunk);
    const int n = gzread(file.f, out.data() + old, kChunk);
    if (n < 0) {
      out.resize(old);
      break;  // reported below through gzerror
    }
    out.resize(old + static_cast<size_t>(n));
    if (n == 0) break;
  }

  int errnum = Z_OK;
  const char* msg = gzerror(file.f, &errnum);
  if (errnum == Z_BUF_ERROR) {
    // zlib's code for input that ended inside the compressed stream.
    throw std::runtime_error(path + ": truncated gzip stream (unexpected end of file)");
  }
  if (errnum == Z_ERRNO) {
    const int err = errno;
    throw std::runtime_error(path + ": read error (" + std::strerror(err) + ")");
  }
  if (errnum != Z_OK) {
    throw std::runtime_error(path + ": corrupt gzip stream (" + (msg ? msg : "unknown error") +
                             ")");
  }
  return out;
}

}  // namespace ml2
