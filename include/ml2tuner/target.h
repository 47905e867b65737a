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

// Built-in targets by name. `space` is the file a replay target reads. Throws
// std::invalid_argument for an unknown name, listing the known ones, or for a bad file.
std::unique_ptr<Target> make_target(const std::string& name, const std::string& space_file);
std::vector<std::string> target_names();

}  // namespace ml2
