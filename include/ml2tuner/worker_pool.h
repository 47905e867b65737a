// Isolated measurement: persistent pools of worker processes that build and run configurations.
//
// Each worker is a process forked from the tuner when the pool starts (and again whenever a worker
// dies); it holds the tuner's target as it was at that moment and serves requests over a Unix
// socket. The tuner thread multiplexes the workers with poll() and enforces a wall-clock limit per
// request. A worker that segfaults, aborts, exits or hangs becomes a typed failure (kCrash, or
// kBuildTimeout / kRunTimeout after a SIGKILL) and is replaced; a runaway allocation hits the
// worker's address-space limit and becomes kRuntimeError ("out of memory"). The tuner itself is
// never harmed.
//
// Fork safety: the pool forks from the calling thread. The tuner is single-threaded (all
// parallelism is in worker processes), so no lock can be held by another thread at fork time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ml2tuner/measure.h"
#include "ml2tuner/target.h"

namespace ml2 {

struct WorkerPoolOptions {
  int workers = 1;                 // processes in the pool
  double timeout_s = 10;           // wall-clock limit per request
  int64_t memory_limit_mb = 4096;  // address space a worker may add to what it inherited; 0: none
};

class WorkerPool {
 public:
  // Forks `options.workers` processes serving `target` (which must outlive the pool).
  WorkerPool(const Target& target, Stage stage, WorkerPoolOptions options);
  ~WorkerPool();  // kills and reaps every worker
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Builds every configuration (stage kBuild). Results are in input order.
  std::vector<BuildResult> build(const std::vector<Config>& configs);
  // Runs every artifact (stage kRun). Results are in input order.
  std::vector<RunResult> run(const std::vector<std::string>& artifacts);

  int workers() const;
  // Workers replaced after a crash or timeout since the pool started.
  int64_t respawns() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ml2
