#include "measure/wire.h"

#include <cstring>
#include <limits>
#include <stdexcept>

namespace ml2::wire {
namespace {

void put_status(Writer& w, Status s) { w.u32(static_cast<uint32_t>(s)); }

Status get_status(Reader& r) {
  uint32_t v = r.u32();
  if (v > static_cast<uint32_t>(Status::kCrash)) {
    throw std::runtime_error("malformed message: unknown status " + std::to_string(v));
  }
  return static_cast<Status>(v);
}

}  // namespace

void Writer::str(std::string_view s) {
  if (s.size() > std::numeric_limits<uint32_t>::max()) {
    throw std::length_error("string too long for a worker message");
  }
  u32(static_cast<uint32_t>(s.size()));
  buf_.append(s);
}

void Reader::copy(void* out, size_t n) {
  if (data_.size() - pos_ < n) throw std::runtime_error("malformed message: truncated");
  std::memcpy(out, data_.data() + pos_, n);
  pos_ += n;
}

std::string Reader::str() {
  uint32_t n = u32();
  if (data_.size() - pos_ < n) throw std::runtime_error("malformed message: truncated string");
  std::string s(data_.substr(pos_, n));
  pos_ += n;
  return s;
}

void Reader::expect_end() const {
  if (pos_ != data_.size()) throw std::runtime_error("malformed message: trailing bytes");
}

std::string encode(const Config& config) {
  Writer w;
  w.u32(static_cast<uint32_t>(config.size()));
  for (uint32_t e : config) w.u32(e);
  return w.take();
}

Config decode_config(std::string_view bytes) {
  Reader r(bytes);
  uint32_t n = r.u32();
  if (n > bytes.size() / sizeof(uint32_t)) throw std::runtime_error("malformed message: config");
  Config c(n);
  for (auto& e : c) e = r.u32();
  r.expect_end();
  return c;
}

std::string encode(const BuildResult& result) {
  Writer w;
  put_status(w, result.status);
  w.str(result.message);
  w.str(result.artifact);
  w.u32(static_cast<uint32_t>(result.hidden.size()));
  for (const auto& [name, value] : result.hidden) {
    w.str(name);
    w.f64(value);
  }
  w.f64(result.wall_s);
  w.f64(result.virtual_s);
  return w.take();
}

BuildResult decode_build_result(std::string_view bytes) {
  Reader r(bytes);
  BuildResult b;
  b.status = get_status(r);
  b.message = r.str();
  b.artifact = r.str();
  uint32_t n = r.u32();
  for (uint32_t i = 0; i < n; ++i) {
    std::string name = r.str();
    b.hidden[std::move(name)] = r.f64();
  }
  b.wall_s = r.f64();
  b.virtual_s = r.f64();
  r.expect_end();
  return b;
}

std::string encode(const RunResult& result) {
  Writer w;
  put_status(w, result.status);
  w.str(result.message);
  w.f64(result.latency.mean_ms);
  w.f64(result.latency.min_ms);
  w.f64(result.latency.max_ms);
  w.f64(result.latency.std_ms);
  w.i64(result.latency.repeats);
  w.f64(result.wall_s);
  w.f64(result.virtual_s);
  return w.take();
}

RunResult decode_run_result(std::string_view bytes) {
  Reader r(bytes);
  RunResult x;
  x.status = get_status(r);
  x.message = r.str();
  x.latency.mean_ms = r.f64();
  x.latency.min_ms = r.f64();
  x.latency.max_ms = r.f64();
  x.latency.std_ms = r.f64();
  x.latency.repeats = static_cast<int>(r.i64());
  x.wall_s = r.f64();
  x.virtual_s = r.f64();
  r.expect_end();
  return x;
}

}  // namespace ml2::wire
