// Private: the byte format of the messages between the tuner and its measurement workers.
//
// Both ends are the same binary on the same machine (workers are forked, never exec'd), so values
// are written in native byte order. A Reader throws std::runtime_error on a truncated or
// malformed message instead of reading past its end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ml2tuner/measure.h"
#include "ml2tuner/space.h"

namespace ml2::wire {

class Writer {
 public:
  void u32(uint32_t v) { raw(&v, sizeof v); }
  void i64(int64_t v) { raw(&v, sizeof v); }
  void f64(double v) { raw(&v, sizeof v); }
  void str(std::string_view s);  // u32 length, then the bytes
  std::string take() { return std::move(buf_); }

 private:
  void raw(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
  std::string buf_;
};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  uint32_t u32() { return scalar<uint32_t>(); }
  int64_t i64() { return scalar<int64_t>(); }
  double f64() { return scalar<double>(); }
  std::string str();
  // Throws unless every byte was consumed.
  void expect_end() const;

 private:
  template <class T>
  T scalar() {
    T v;
    copy(&v, sizeof v);
    return v;
  }
  void copy(void* out, size_t n);
  std::string_view data_;
  size_t pos_ = 0;
};

std::string encode(const Config& config);
Config decode_config(std::string_view bytes);
std::string encode(const BuildResult& result);
BuildResult decode_build_result(std::string_view bytes);
std::string encode(const RunResult& result);
RunResult decode_run_result(std::string_view bytes);

}  // namespace ml2::wire
