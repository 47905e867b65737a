// `ga`: a genetic tuner like AutoTVM's GATuner (python/tvm/autotvm/tuner/ga_tuner.py): a
// population measured generation by generation; the next generation keeps the elites, breeds
// children by one-point crossover of parents drawn in proportion to their throughput (failures
// score 0), and mutates each knob with mutation_prob. In a constrained space a child that leaves
// the space or repeats a visited configuration is mutated again, and after a bounded number of
// tries replaced by a random unvisited one.
#include <algorithm>
#include <numeric>
#include <unordered_set>

#include "strategy/builtin.h"
#include "util/random.h"

namespace ml2 {
namespace {

class GaStrategy final : public Strategy {
 public:
  GaStrategy(const Space& space, const Params& p, uint64_t seed)
      : space_(space),
        rng_(seed),
        pop_size_(static_cast<size_t>(std::min<uint64_t>(p.integer("pop_size"), space.size()))),
        elite_num_(std::min<size_t>(static_cast<size_t>(p.integer("elite_num")), pop_size_)),
        mutation_prob_(p.number("mutation_prob")) {
    while (genes_.size() < pop_size_) {
      const uint64_t x = space_.sample(rng_);
      if (visited_.insert(x).second) genes_.push_back(x);
    }
  }

  std::string name() const override { return "ga"; }

  Proposal ask(size_t n) override {
    Proposal out;
    while (out.configs.size() < n) {
      if (pt_ >= genes_.size()) {
        // Reached with nothing proposed only on a resume whose stored rounds were told without
        // being asked for: the generation was measured while the cursor stood still.
        if (!out.configs.empty() || !generation_measured() || visited_.size() >= space_.size()) {
          break;
        }
        evolve();
        continue;
      }
      const uint64_t g = genes_[pt_++];
      if (!score_.count(g)) out.configs.push_back(g);  // else told already
    }
    return out;
  }

  void tell(std::span<const Outcome> outcomes) override {
    for (const Outcome& o : outcomes) {
      if (!o.trial) continue;
      visited_.insert(o.index);
      score_[o.index] = o.status == Status::kOk && o.latency_ms ? 1.0 / *o.latency_ms : 0.0;
    }
    if (generation_measured() && pt_ >= genes_.size() && visited_.size() < space_.size()) evolve();
  }

 private:
  bool generation_measured() const {
    return std::all_of(genes_.begin(), genes_.end(),
                       [&](uint64_t g) { return score_.count(g) != 0; });
  }

  uint64_t uniform_index(uint64_t n) { return uniform_below(rng_, n); }

  void evolve() {
    std::vector<uint64_t> pool = genes_;
    pool.insert(pool.end(), elites_.begin(), elites_.end());
    std::vector<double> scores;
    for (uint64_t g : pool) scores.push_back(score_.at(g));
    // Keep the elites.
    std::vector<size_t> order(pool.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    elites_.clear();
    for (size_t i = 0; i < elite_num_ && i < order.size(); ++i) elites_.push_back(pool[order[i]]);
    // Selection probabilities, as AutoTVM: (score + 1e-8) normalised.
    const double top = *std::max_element(scores.begin(), scores.end()) + 1e-8;
    std::vector<double> cumulative;
    double total = 0;
    for (double s : scores) cumulative.push_back(total += (s + 1e-8) / top);
    auto pick = [&](size_t other) {
      for (;;) {
        const double u = uniform01(rng_) * total;
        const size_t i = static_cast<size_t>(
            std::lower_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin());
        const size_t j = std::min(i, pool.size() - 1);
        if (j != other || pool.size() < 2) return j;
      }
    };
    const auto& knobs = space_.knobs();
    std::vector<uint64_t> next;
    while (next.size() < pop_size_ && visited_.size() < space_.size()) {
      const size_t a = pick(SIZE_MAX), b = pick(a);
      const Config pa = space_.at(pool[a]), pb = space_.at(pool[b]);
      const size_t cut = uniform_index(knobs.size());
      Config child(pa.begin(), pa.begin() + static_cast<ptrdiff_t>(cut));
      child.insert(child.end(), pb.begin() + static_cast<ptrdiff_t>(cut), pb.end());
      for (size_t k = 0; k < knobs.size(); ++k) {
        if (uniform01(rng_) < mutation_prob_)
          child[k] = static_cast<uint32_t>(uniform_index(knobs[k].size()));
      }
      std::optional<uint64_t> index = space_.index_of(child);
      for (int tries = 0; tries < 64 && (!index || visited_.count(*index)); ++tries) {
        const size_t k = uniform_index(knobs.size());
        child[k] = static_cast<uint32_t>(uniform_index(knobs[k].size()));
        index = space_.index_of(child);
      }
      while (!index || visited_.count(*index)) index = space_.sample(rng_);
      visited_.insert(*index);
      next.push_back(*index);
    }
    genes_ = std::move(next);
    pt_ = 0;
  }

  const Space& space_;
  std::mt19937_64 rng_;
  size_t pop_size_, elite_num_;
  double mutation_prob_;
  std::vector<uint64_t> genes_, elites_;
  size_t pt_ = 0;
  std::unordered_set<uint64_t> visited_;
  std::unordered_map<uint64_t, double> score_;
};

}  // namespace

std::unique_ptr<Strategy> make_ga_strategy(const Space& space, const Params& params,
                                           uint64_t seed) {
  return std::make_unique<GaStrategy>(space, params, seed);
}

}  // namespace ml2
