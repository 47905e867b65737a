#include "strategy/search.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "util/random.h"

namespace ml2 {

FeatureMatrix knob_features(const Space& space, const std::vector<uint64_t>& indices) {
  FeatureMatrix m(indices.size(), space.num_features());
  std::vector<double> row(space.num_features());
  for (size_t i = 0; i < indices.size(); ++i) {
    space.features(indices[i], row);
    std::copy(row.begin(), row.end(), m.row(i));
  }
  return m;
}

KnobPairs::KnobPairs(const Space& space) : features_(space.num_features()) {
  size_t offset = 0;
  for (const Knob& k : space.knobs()) {
    for (size_t part = 0; k.magnitude() && part < static_cast<size_t>(k.arity()); ++part) {
      for (uint32_t e = 1; e < k.size(); ++e) {
        if (k.parts(e)[part] != k.parts(0)[part]) {
          cols_.push_back(offset + part);
          break;
        }
      }
    }
    offset += static_cast<size_t>(k.arity());
  }
}

FeatureMatrix KnobPairs::extend(const FeatureMatrix& knob) const {
  if (knob.cols != features_) {
    throw std::invalid_argument("KnobPairs::extend: " + std::to_string(knob.cols) +
                                " columns, not the space's " + std::to_string(features_) +
                                " knob features");
  }
  const size_t pairs = cols_.size() < 2 ? 0 : cols_.size() * (cols_.size() - 1) / 2;
  FeatureMatrix m(knob.rows, knob.cols + pairs);
  std::vector<double> logs(cols_.size());
  for (size_t r = 0; r < knob.rows; ++r) {
    const float* in = knob.row(r);
    float* out = m.row(r);
    std::copy(in, in + knob.cols, out);
    for (size_t c = 0; c < cols_.size(); ++c) logs[c] = std::log2(1.0 + in[cols_[c]]);
    size_t at = knob.cols;
    for (size_t a = 0; a < cols_.size(); ++a) {
      for (size_t b = a + 1; b < cols_.size(); ++b)
        out[at++] = static_cast<float>(logs[a] + logs[b]);
    }
  }
  return m;
}

uint64_t random_walk(const Space& space, uint64_t index, std::mt19937_64& rng) {
  const auto& knobs = space.knobs();
  Config c = space.at(index);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const size_t k = uniform_below(rng, knobs.size());
    const uint32_t n = knobs[k].size();
    if (n < 2) continue;
    const uint32_t old = c[k];
    c[k] = static_cast<uint32_t>((old + 1 + uniform_below(rng, n - 1)) % n);
    if (auto moved = space.index_of(c)) return *moved;
    c[k] = old;
  }
  return index;
}

Annealer::Annealer(const Space& space, AnnealOptions options, uint64_t seed)
    : space_(space), options_(options), rng_(seed) {}

std::vector<uint64_t> Annealer::find_maximums(const BatchScore& score, size_t num,
                                              const std::unordered_set<uint64_t>& exclude) {
  if (points_.empty()) {
    for (int i = 0; i < options_.walkers; ++i) points_.push_back(space_.sample(rng_));
  }
  // The walkers keep stepping onto points already scored in this call (on a space of a few
  // thousand configurations, most of them): the models are fixed for the call and score a row
  // the same in any batch, so each point is scored once.
  std::unordered_map<uint64_t, double> memo;
  std::vector<uint64_t> fresh;
  auto scored = [&](const std::vector<uint64_t>& pts) {
    fresh.clear();
    for (uint64_t p : pts) {
      if (memo.emplace(p, 0.0).second) fresh.push_back(p);
    }
    if (!fresh.empty()) {
      const std::vector<double> s = score(fresh);
      for (size_t i = 0; i < fresh.size(); ++i) memo[fresh[i]] = s[i];
    }
    std::vector<double> out(pts.size());
    for (size_t i = 0; i < pts.size(); ++i) out[i] = memo[pts[i]];
    return out;
  };
  std::vector<double> scores = scored(points_);
  // A min-heap of (score, point) holding the best `num` unexcluded points seen.
  using Item = std::pair<double, uint64_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
  std::unordered_set<uint64_t> in_heap;
  auto offer = [&](double s, uint64_t p) {
    if (exclude.count(p) || in_heap.count(p)) return false;
    if (heap.size() < num) {
      heap.push({s, p});
      in_heap.insert(p);
      return true;
    }
    if (num == 0 || s <= heap.top().first) return false;
    in_heap.erase(heap.top().second);
    heap.pop();
    heap.push({s, p});
    in_heap.insert(p);
    return true;
  };
  for (size_t i = 0; i < points_.size(); ++i) offer(scores[i], points_[i]);

  double t = 1.0;
  const double cool = 1.0 / (options_.iterations + 1);
  int last_change = 0;
  std::vector<uint64_t> next(points_.size());
  for (int k = 0; k < options_.iterations && k < last_change + options_.early_stop; ++k) {
    for (size_t i = 0; i < points_.size(); ++i) next[i] = random_walk(space_, points_[i], rng_);
    const std::vector<double> next_scores = scored(next);
    for (size_t i = 0; i < points_.size(); ++i) {
      const double p = std::exp(std::min((next_scores[i] - scores[i]) / (t + 1e-5), 1.0));
      const double u = uniform01(rng_);
      if (u < p) {
        points_[i] = next[i];
        scores[i] = next_scores[i];
      }
      if (offer(next_scores[i], next[i])) last_change = k;
    }
    t -= cool;
  }
  std::vector<Item> best;
  while (!heap.empty()) {
    best.push_back(heap.top());
    heap.pop();
  }
  std::sort(best.begin(), best.end(), [](const Item& a, const Item& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<uint64_t> out;
  for (const Item& it : best) out.push_back(it.second);
  return out;
}

double history_weight(size_t samples) {
  const double w = std::exp2(-static_cast<double>(samples) / 64.0);
  return w < 0.05 ? 0.0 : w;
}

}  // namespace ml2
