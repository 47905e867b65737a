// The outcome of measuring a configuration: the failure taxonomy and the results of the two
// stages, build (compile) and run (profile).
//
// The taxonomy follows TVM's MeasureErrorNo and KTT's ResultStatus. A failure is data with its
// message; it is never encoded as a large cost. The status is exactly the validity model's label.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ml2 {

enum class Status {
  kOk,                    // built (build stage) or measured (run stage)
  kCompileError,          // the compiler rejected the configuration
  kBuildTimeout,          // the build exceeded its wall-clock limit
  kRuntimeError,          // the run failed (launch failure, fault reported by the device, OOM)
  kDeviceLimitsExceeded,  // the program asks for more than the device has (threads, memory)
  kWrongAnswer,           // the run finished but its output differs from the reference
  kRunTimeout,            // the run exceeded its wall-clock limit (or deadlocked)
  kCrash,                 // the worker process died (signal, abort, unexpected exit)
};

// Stable lower-case names used in records, summaries and the CLI ("compile_error", ...).
std::string_view to_string(Status s);
// Inverse of to_string; nullopt for an unknown name.
std::optional<Status> status_from_string(std::string_view name);
// All statuses, in declaration order.
const std::vector<Status>& all_statuses();

enum class Stage { kBuild, kRun };
std::string_view to_string(Stage s);
std::optional<Stage> stage_from_string(std::string_view name);

// Properties only the compiler reveals (registers, shared memory, instruction counts...).
using HiddenFeatures = std::map<std::string, double>;

// Latency statistics over the repeats of one run, in milliseconds.
struct Measurement {
  double mean_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  double std_ms = 0;
  int repeats = 0;
  // Summarises raw samples (at least one).
  static Measurement from_samples(const std::vector<double>& samples_ms);
};

// What the build stage returns. On success `artifact` is whatever the target's run() needs (it
// crosses a process boundary, so it is plain bytes) and `hidden` holds the hidden features.
struct BuildResult {
  Status status = Status::kOk;
  std::string message;
  std::string artifact;
  HiddenFeatures hidden;
  double wall_s = 0;     // real time spent building
  double virtual_s = 0;  // time the build would take on the real toolchain (targets that replay)
};

struct RunResult {
  Status status = Status::kOk;
  std::string message;
  Measurement latency;  // meaningful when status == kOk
  double wall_s = 0;
  double virtual_s = 0;  // device time the run would take (upload, launch, repeats)
};

}  // namespace ml2
