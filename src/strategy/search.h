// Building blocks shared by the model-based strategies: knob features of space indices, and
// AutoTVM's simulated annealing over a model's scores.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <unordered_set>
#include <vector>

#include "ml2tuner/model.h"
#include "ml2tuner/space.h"

namespace ml2 {

// The knob features (Space::features) of each index, one row per index.
FeatureMatrix knob_features(const Space& space, const std::vector<uint64_t>& indices);

// Knob features followed by log2(1 + a) + log2(1 + b) for every pair of magnitude features
// (Knob::magnitude) that vary in the space: the logarithm of a product of two sizes (threads per
// block, a tile's area), which a tree, splitting on one feature at a time, cannot form itself.
// Resource limits are such products, so a classifier of validity finds them easier to learn.
// Which columns pair up is found once per space; extend() then only computes.
class KnobPairs {
 public:
  explicit KnobPairs(const Space& space);
  // `knob` holds knob_features rows of the space; throws std::invalid_argument otherwise.
  FeatureMatrix extend(const FeatureMatrix& knob) const;

 private:
  size_t features_;
  std::vector<size_t> cols_;  // magnitude features that take more than one value
};

// AutoTVM's weight of a model learnt from a tuning history against `samples` measured in this
// session (XGBoostCostModel._base_model_discount): 2^(-samples / 64), and 0 once it would fall
// below 0.05 (from 277 samples on), when the history model is dropped.
double history_weight(size_t samples);

// Moves one random knob of `index` to another random value that keeps the configuration in the
// space (a few tries; the point itself if none is found), as AutoTVM's random_walk.
uint64_t random_walk(const Space& space, uint64_t index, std::mt19937_64& rng);

// Scores a batch of indices; higher is better.
using BatchScore = std::function<std::vector<double>(const std::vector<uint64_t>&)>;

struct AnnealOptions {
  int walkers = 128;
  int iterations = 500;
  int early_stop = 50;
};

// AutoTVM's SimulatedAnnealingOptimizer: `walkers` points walk the space; a move is accepted with
// probability exp(min((new - old) / (t + 1e-5), 1)) as the temperature falls linearly from 1 to
// 0; a heap keeps the best `num` points outside `exclude`; the search stops after `early_stop`
// iterations without a heap change. The walkers persist between calls.
class Annealer {
 public:
  Annealer(const Space& space, AnnealOptions options, uint64_t seed);
  // The best points found, best first (at most num).
  std::vector<uint64_t> find_maximums(const BatchScore& score, size_t num,
                                      const std::unordered_set<uint64_t>& exclude);

 private:
  const Space& space_;
  AnnealOptions options_;
  std::mt19937_64 rng_;
  std::vector<uint64_t> points_;
};

}  // namespace ml2
