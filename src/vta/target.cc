#include <cmath>
#include <random>
#include <stdexcept>

#include "ml2tuner/vta.h"
#include "util/hash.h"
#include "vta/compiler.h"
#include "vta/simulator.h"

namespace ml2 {
namespace {

using namespace vta;

class VtaTarget final : public Target {
 public:
  explicit VtaTarget(const VtaOptions& o)
      : options_(o),
        hw_(HwConfig::load(o.hw)),
        workload_(Workload::parse(o.task)),
        tmpl_(template_from_string(o.tmpl)) {
    workload_.validate(hw_);
    if (o.repeats < 1) throw std::invalid_argument("repeats must be >= 1");
    if (!(o.noise >= 0) || o.noise > 0.5) throw std::invalid_argument("noise must be in [0, 0.5]");
    space_ = make_space(workload_, hw_, tmpl_);
  }

  std::string name() const override { return "vta"; }
  std::string task() const override {
    return workload_.name + "@vta-" + hw_.name() + "/" + to_string(tmpl_);
  }
  const Space& space() const override { return space_; }
  int max_parallel_runs() const override { return 64; }  // a simulator, not one board

  BuildResult build(const Config& config) const override {
    BuildResult b;
    b.virtual_s = kBuildSeconds;
    CompileResult r =
        compile(hw_, workload_, schedule_of(space_, config, tmpl_), options_.data_seed);
    if (!r.ok) {
      b.status = Status::kCompileError;
      b.message = r.error;
      return b;
    }
    b.hidden = std::move(r.hidden);
    b.artifact = r.program.serialize();
    return b;
  }

  RunResult run(const std::string& artifact) const override {
    RunResult out;
    Program program;
    try {
      program = Program::deserialize(artifact);
    } catch (const std::exception& e) {
      out.status = Status::kRuntimeError;
      out.message = std::string("cannot load the program: ") + e.what();
      return out;
    }
    const SimResult sim = simulate(hw_, program, SimOptions{true});
    out.status = sim.status;
    out.message = sim.message;
    out.virtual_s = kRunOverheadSeconds;
    if (sim.status != Status::kOk) return out;
    // Repeats of a deterministic simulation differ only by the optional seeded noise.
    std::vector<double> samples(static_cast<size_t>(options_.repeats), sim.latency_ms);
    if (options_.noise > 0) {
      // Box-Muller over our own uniform draws: std::normal_distribution and std::hash are
      // implementation-defined, and the same seed must give the same run everywhere.
      std::mt19937_64 rng(options_.noise_seed ^
                          fnv1a(artifact.data(), artifact.size(), kLegacyFnvOffset));
      auto uniform = [&rng] { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; };
      for (double& x : samples) {
        const double z = std::sqrt(-2.0 * std::log(uniform())) * std::cos(2 * M_PI * uniform());
        x *= std::max(0.5, 1.0 + options_.noise * z);
      }
    }
    out.latency = Measurement::from_samples(samples);
    for (double x : samples) out.virtual_s += x / 1000.0;
    return out;
  }

 private:
  VtaOptions options_;
  HwConfig hw_;
  Workload workload_;
  Template tmpl_;
  Space space_;
};

}  // namespace

std::unique_ptr<Target> make_vta_target(const VtaOptions& options) {
  return std::make_unique<VtaTarget>(options);
}

}  // namespace ml2
