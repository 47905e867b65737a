// What a backend provides: a search space, and the two measurement stages.
//
// Call order, per configuration: build(config) in a build worker; if the build succeeded and the
// strategy chose the configuration, run(artifact) in a run worker. Both are called in worker
// processes forked from the tuner (see worker_pool.h), so they may crash, hang or exhaust memory
// without harming the tuner; they must not rely on state created after the pool was started.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ml2tuner/measure.h"
#include "ml2tuner/space.h"

namespace ml2 {

class Target {
 public:
  virtual ~Target() = default;

  // Short target kind ("replay", "vta"), stored with every record.
  virtual std::string name() const = 0;
  // The task this target measures ("convolution_kernel@NVIDIA GeForce RTX 3090").
  virtual std::string task() const = 0;
  // The search space; fixed for the lifetime of the target.
  virtual const Space& space() const = 0;

  // Called in a build worker for each configuration a strategy wants built. Failures are
  // returned as a status, never thrown (an exception is recorded as a compile error).
  virtual BuildResult build(const Config& config) const = 0;
  // Called in a run worker with the artifact of a successful build.
  virtual RunResult run(const std::string& artifact) const = 0;

  // How many runs may execute at once. A real device profiles one configuration at a time;
  // targets that replay or simulate may allow more.
  virtual int max_parallel_runs() const { return 1; }
};

// What a built-in target is made from; each target reads the fields it needs.
struct TargetOptions {
  std::string space;                 // replay: the recorded file
  std::string task = "resnet18.C2";  // vta: a named workload or a conv2d:/dense: shape
  std::string tmpl = "stock";        // vta: stock | extended
  std::string hw = "default";        // vta: default | extended | a JSON file
  double noise = 0;                  // vta: relative measurement noise (0: none)
  uint64_t noise_seed = 0;
};

// Built-in targets by name ("vta", "replay"). Throws std::invalid_argument for an unknown name,
// listing the known ones, or for bad options or files.
std::unique_ptr<Target> make_target(const std::string& name, const TargetOptions& options);
std::vector<std::string> target_names();

}  // namespace ml2
