#include "ml2tuner/measure.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace ml2 {
namespace {

constexpr std::array<std::pair<Status, std::string_view>, 8> kStatusNames{{
    {Status::kOk, "ok"},
    {Status::kCompileError, "compile_error"},
    {Status::kBuildTimeout, "build_timeout"},
    {Status::kRuntimeError, "runtime_error"},
    {Status::kDeviceLimitsExceeded, "device_limits_exceeded"},
    {Status::kWrongAnswer, "wrong_answer"},
    {Status::kRunTimeout, "run_timeout"},
    {Status::kCrash, "crash"},
}};

}  // namespace

std::string_view to_string(Status s) {
  for (const auto& [status, name] : kStatusNames) {
    if (status == s) return name;
  }
  throw std::logic_error("internal: Status value without a name");
}

std::optional<Status> status_from_string(std::string_view name) {
  for (const auto& [status, n] : kStatusNames) {
    if (n == name) return status;
  }
  return std::nullopt;
}

const std::vector<Status>& all_statuses() {
  static const std::vector<Status> all = [] {
    std::vector<Status> v;
    for (const auto& entry : kStatusNames) v.push_back(entry.first);
    return v;
  }();
  return all;
}

std::string_view to_string(Stage s) { return s == Stage::kBuild ? "build" : "run"; }

std::optional<Stage> stage_from_string(std::string_view name) {
  if (name == "build") return Stage::kBuild;
  if (name == "run") return Stage::kRun;
  return std::nullopt;
}

Measurement Measurement::from_samples(const std::vector<double>& samples_ms) {
  if (samples_ms.empty()) throw std::invalid_argument("a measurement needs at least one sample");
  Measurement m;
  m.repeats = static_cast<int>(samples_ms.size());
  m.mean_ms = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0) / m.repeats;
  auto [lo, hi] = std::minmax_element(samples_ms.begin(), samples_ms.end());
  m.min_ms = *lo;
  m.max_ms = *hi;
  double var = 0;
  for (double x : samples_ms) var += (x - m.mean_ms) * (x - m.mean_ms);
  m.std_ms = m.repeats > 1 ? std::sqrt(var / (m.repeats - 1)) : 0.0;
  return m;
}

}  // namespace ml2
