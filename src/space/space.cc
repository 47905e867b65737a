// The valid space as a tree of prefixes, stored level by level in flat arrays.
//
// Level l holds one edge per valid prefix of length l+1 (knobs 0..l set). Node i of level l+1 is
// the child of edge i of level l, so child links need no storage. Edges of a node are contiguous
// and sorted by entry, which makes config -> index a binary search per level; every edge above
// the last level also stores the index of the first leaf below it, which makes index -> config a
// binary search per level. At the last level the edge number is the configuration's index.
// Memory is about 4 bytes per configuration plus 20 bytes per inner prefix.
#include "ml2tuner/space.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "util/hash.h"
#include "util/random.h"

namespace ml2 {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Knob

Knob::Knob(std::string name, KnobKind kind, int arity)
    : name_(std::move(name)), kind_(kind), arity_(arity) {
  if (name_.empty()) throw std::invalid_argument("a knob needs a name");
}

Knob Knob::Range(std::string name, int64_t lo, int64_t hi, int64_t step) {
  if (step <= 0 || lo > hi) {
    throw std::invalid_argument("knob '" + name + "': a range needs lo <= hi and step > 0 (got " +
                                std::to_string(lo) + ".." + std::to_string(hi) + " step " +
                                std::to_string(step) + ")");
  }
  Knob k(std::move(name), KnobKind::kInt, 1);
  for (int64_t v = lo; v <= hi; v += step) k.parts_.push_back(v);
  return k;
}

Knob Knob::Values(std::string name, std::vector<int64_t> values) {
  if (values.empty()) throw std::invalid_argument("knob '" + name + "' has no values");
  if (std::set<int64_t>(values.begin(), values.end()).size() != values.size()) {
    throw std::invalid_argument("knob '" + name + "' lists a value twice");
  }
  Knob k(std::move(name), KnobKind::kInt, 1);
  k.parts_ = std::move(values);
  return k;
}

Knob Knob::Bool(std::string name) {
  Knob k(std::move(name), KnobKind::kBool, 1);
  k.parts_ = {0, 1};
  return k;
}

Knob Knob::Choice(std::string name, std::vector<std::string> labels) {
  if (labels.empty()) throw std::invalid_argument("knob '" + name + "' has no choices");
  if (std::set<std::string>(labels.begin(), labels.end()).size() != labels.size()) {
    throw std::invalid_argument("knob '" + name + "' lists a choice twice");
  }
  Knob k(std::move(name), KnobKind::kChoice, 1);
  for (size_t i = 0; i < labels.size(); ++i) k.parts_.push_back(static_cast<int64_t>(i));
  k.labels_ = std::move(labels);
  return k;
}

Knob Knob::Recorded(std::string name, const std::vector<json>& values) {
  if (values.empty()) throw std::invalid_argument("knob '" + name + "' has no values");
  Knob k(std::move(name), KnobKind::kChoice, 1);
  k.recorded_ = true;
  std::set<std::string> seen;
  for (size_t i = 0; i < values.size(); ++i) {
    const json& v = values[i];
    if (!v.is_primitive() || v.is_null()) {
      throw std::invalid_argument("knob '" + k.name_ + "': value " + v.dump() +
                                  " is not a number, string or boolean");
    }
    std::string text = v.dump();
    if (!seen.insert(text).second) {
      throw std::invalid_argument("knob '" + k.name_ + "' lists the value " + text + " twice");
    }
    k.labels_.push_back(std::move(text));
    k.parts_.push_back(v.is_number_integer() ? v.get<int64_t>() : static_cast<int64_t>(i));
    k.integer_values_ = k.integer_values_ && v.is_number_integer();
  }
  return k;
}

bool Knob::magnitude() const {
  const bool sizes = kind_ == KnobKind::kInt || kind_ == KnobKind::kSplit ||
                     (kind_ == KnobKind::kChoice && recorded_ && integer_values_);
  return sizes && std::all_of(parts_.begin(), parts_.end(), [](int64_t v) { return v >= 0; });
}

namespace {

void factorisations(int64_t extent, int nparts, std::vector<int64_t>& prefix,
                    std::vector<int64_t>& out) {
  if (nparts == 1) {
    prefix.push_back(extent);
    out.insert(out.end(), prefix.begin(), prefix.end());
    prefix.pop_back();
    return;
  }
  for (int64_t f = 1; f <= extent; ++f) {
    if (extent % f != 0) continue;
    prefix.push_back(f);
    factorisations(extent / f, nparts - 1, prefix, out);
    prefix.pop_back();
  }
}

// Inner parts are powers of two whose product stays <= extent; the outer part is the ceiling.
void power2_splits(int64_t extent, int inner_left, int64_t product, std::vector<int64_t>& inner,
                   std::vector<int64_t>& out) {
  if (inner_left == 0) {
    out.push_back((extent + product - 1) / product);
    out.insert(out.end(), inner.begin(), inner.end());
    return;
  }
  for (int64_t f = 1; product * f <= extent; f *= 2) {
    inner.push_back(f);
    power2_splits(extent, inner_left - 1, product * f, inner, out);
    inner.pop_back();
  }
}

}  // namespace

Knob Knob::Split(std::string name, int64_t extent, int nparts, SplitPolicy policy) {
  if (extent < 1 || nparts < 2 || nparts > 8) {
    throw std::invalid_argument("knob '" + name + "': a split needs extent >= 1 and 2..8 parts");
  }
  Knob k(std::move(name), KnobKind::kSplit, nparts);
  std::vector<int64_t> scratch;
  if (policy != SplitPolicy::kPower2) factorisations(extent, nparts, scratch, k.parts_);
  if (policy != SplitPolicy::kFactors) {
    std::vector<int64_t> p2;
    power2_splits(extent, nparts - 1, 1, scratch, p2);
    for (size_t i = 0; i < p2.size(); i += static_cast<size_t>(nparts)) {
      bool seen = false;
      for (size_t j = 0; j < k.parts_.size() && !seen; j += static_cast<size_t>(nparts)) {
        seen = std::equal(p2.begin() + static_cast<ptrdiff_t>(i),
                          p2.begin() + static_cast<ptrdiff_t>(i) + nparts,
                          k.parts_.begin() + static_cast<ptrdiff_t>(j));
      }
      if (!seen)
        k.parts_.insert(k.parts_.end(), p2.begin() + static_cast<ptrdiff_t>(i),
                        p2.begin() + static_cast<ptrdiff_t>(i) + nparts);
    }
  }
  return k;
}

json Knob::to_json(uint32_t e) const {
  switch (kind_) {
    case KnobKind::kInt:
      return value(e);
    case KnobKind::kBool:
      return value(e) != 0;
    case KnobKind::kChoice:
      return recorded_ ? json::parse(labels_[e]) : json(labels_[e]);
    case KnobKind::kSplit: {
      auto p = parts(e);
      return json(std::vector<int64_t>(p.begin(), p.end()));
    }
  }
  throw std::logic_error("internal: unknown knob kind");
}

std::optional<uint32_t> Knob::find(const json& v) const {
  const uint32_t n = size();
  switch (kind_) {
    case KnobKind::kInt:
    case KnobKind::kBool: {
      int64_t x;
      if (v.is_boolean() && kind_ == KnobKind::kBool) {
        x = v.get<bool>() ? 1 : 0;
      } else if (v.is_number_integer()) {
        x = v.get<int64_t>();
      } else if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) {
        x = static_cast<int64_t>(v.get<double>());
      } else {
        return std::nullopt;
      }
      for (uint32_t e = 0; e < n; ++e) {
        if (value(e) == x) return e;
      }
      return std::nullopt;
    }
    case KnobKind::kChoice: {
      if (!recorded_) {
        if (!v.is_string()) return std::nullopt;
        auto it = std::find(labels_.begin(), labels_.end(), v.get<std::string>());
        if (it == labels_.end()) return std::nullopt;
        return static_cast<uint32_t>(it - labels_.begin());
      }
      const std::string text = v.dump();
      for (uint32_t e = 0; e < n; ++e) {
        if (labels_[e] == text) return e;
      }
      if (v.is_number()) {  // 16 and 16.0 name the same recorded value
        for (uint32_t e = 0; e < n; ++e) {
          json r = json::parse(labels_[e]);
          if (r.is_number() && r.get<double>() == v.get<double>()) return e;
        }
      }
      return std::nullopt;
    }
    case KnobKind::kSplit: {
      if (!v.is_array() || v.size() != static_cast<size_t>(arity_)) return std::nullopt;
      std::vector<int64_t> want;
      for (const auto& x : v) {
        if (!x.is_number_integer()) return std::nullopt;
        want.push_back(x.get<int64_t>());
      }
      for (uint32_t e = 0; e < n; ++e) {
        auto p = parts(e);
        if (std::equal(p.begin(), p.end(), want.begin())) return e;
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string Knob::describe_domain() const {
  std::ostringstream os;
  os << "one of ";
  const uint32_t shown = std::min<uint32_t>(size(), 12);
  for (uint32_t e = 0; e < shown; ++e) os << (e ? ", " : "") << to_json(e).dump();
  if (shown < size()) os << ", ... (" << size() << " values)";
  return os.str();
}

// ---------------------------------------------------------------------------------------------
// Space::Tree

struct Space::Tree {
  std::vector<Knob> knobs;
  std::vector<std::vector<uint64_t>> node_edges;  // per level: first edge of each node, + end
  std::vector<std::vector<uint32_t>> edge_entry;  // per level: the knob entry of each edge
  std::vector<std::vector<uint64_t>>
      edge_leaf;                       // per inner level: first leaf below each edge, + end
  std::vector<size_t> feature_offset;  // per knob, + total
  uint64_t size = 0;

  size_t levels() const { return knobs.size(); }

  void init(std::vector<Knob> k) {
    knobs = std::move(k);
    const size_t n = knobs.size();
    node_edges.assign(n, {});
    edge_entry.assign(n, {});
    edge_leaf.assign(n > 0 ? n - 1 : 0, {});
    node_edges[0].push_back(0);  // the root
    feature_offset.assign(1, 0);
    for (const Knob& knob : knobs) feature_offset.push_back(feature_offset.back() + knob.arity());
  }

  void finish(uint64_t leaves) {
    size = leaves;
    for (size_t l = 0; l < levels(); ++l) {
      node_edges[l].push_back(edge_entry[l].size());
      if (l + 1 < levels()) edge_leaf[l].push_back(leaves);
      node_edges[l].shrink_to_fit();
      edge_entry[l].shrink_to_fit();
      if (l + 1 < levels()) edge_leaf[l].shrink_to_fit();
    }
  }

  // The edge of `entry` below `node` at level l, if any.
  std::optional<uint64_t> find_edge(size_t l, uint64_t node, uint32_t entry) const {
    const auto& entries = edge_entry[l];
    auto first = entries.begin() + static_cast<ptrdiff_t>(node_edges[l][node]);
    auto last = entries.begin() + static_cast<ptrdiff_t>(node_edges[l][node + 1]);
    auto it = std::lower_bound(first, last, entry);
    if (it == last || *it != entry) return std::nullopt;
    return static_cast<uint64_t>(it - entries.begin());
  }
};

// ---------------------------------------------------------------------------------------------
// SpaceBuilder

size_t SpaceBuilder::add(Knob knob, std::vector<Constraint> constraints) {
  if (std::any_of(knobs_.begin(), knobs_.end(),
                  [&](const Knob& k) { return k.name() == knob.name(); })) {
    throw std::invalid_argument("knob '" + knob.name() + "' is defined twice");
  }
  knobs_.push_back(std::move(knob));
  constraints_.push_back(std::move(constraints));
  return knobs_.size() - 1;
}

void SpaceBuilder::constrain(size_t knob, Constraint c) {
  if (knob >= knobs_.size()) throw std::invalid_argument("constraint on a knob not yet added");
  constraints_[knob].push_back(std::move(c));
}

size_t SpaceBuilder::index_of(const std::string& name) const {
  for (size_t i = 0; i < knobs_.size(); ++i) {
    if (knobs_[i].name() == name) return i;
  }
  throw std::invalid_argument("no knob named '" + name + "'");
}

namespace {

struct Enumerator {
  Space::Tree* t;  // not owned
  const std::vector<std::vector<Constraint>>* constraints;
  std::vector<uint32_t> cur;
  uint64_t leaves = 0;

  bool allowed(size_t level) const {
    Assignment a(t->knobs, cur.data(), level);
    for (const Constraint& c : (*constraints)[level]) {
      if (!c(a)) return false;
    }
    return true;
  }

  void visit(size_t level) {
    const size_t last = t->levels() - 1;
    const uint32_t n = t->knobs[level].size();
    if (level == last) {
      for (uint32_t e = 0; e < n; ++e) {
        cur[level] = e;
        if (!allowed(level)) continue;
        t->edge_entry[level].push_back(e);
        ++leaves;
      }
      return;
    }
    for (uint32_t e = 0; e < n; ++e) {
      cur[level] = e;
      if (!allowed(level)) continue;
      // Remember the deeper levels so that a prefix without any valid completion is undone.
      std::vector<size_t> mark;
      for (size_t l = level + 1; l <= last; ++l) mark.push_back(t->edge_entry[l].size());
      const size_t node_mark = t->node_edges[level + 1].size();
      const uint64_t before = leaves;
      t->edge_entry[level].push_back(e);
      t->edge_leaf[level].push_back(leaves);
      t->node_edges[level + 1].push_back(t->edge_entry[level + 1].size());
      visit(level + 1);
      if (leaves != before) continue;
      t->edge_entry[level].pop_back();
      t->edge_leaf[level].pop_back();
      t->node_edges[level + 1].resize(node_mark);
      for (size_t l = level + 1; l <= last; ++l) {
        t->edge_entry[l].resize(mark[l - level - 1]);
        if (l < last) t->edge_leaf[l].resize(mark[l - level - 1]);
        if (l + 1 <= last) t->node_edges[l + 1].resize(mark[l - level - 1]);
      }
    }
  }
};

}  // namespace

Space SpaceBuilder::build() && {
  if (knobs_.empty()) throw std::invalid_argument("a space needs at least one knob");
  Space s;
  s.tree_->init(std::move(knobs_));
  Enumerator en{s.tree_.get(), &constraints_, std::vector<uint32_t>(s.tree_->levels(), 0)};
  en.visit(0);
  if (en.leaves == 0) {
    throw std::invalid_argument("the space is empty: no configuration satisfies every constraint");
  }
  s.tree_->finish(en.leaves);
  return s;
}

Space SpaceBuilder::build_from(std::vector<Config> configs) && {
  if (knobs_.empty()) throw std::invalid_argument("a space needs at least one knob");
  if (configs.empty()) throw std::invalid_argument("a space needs at least one configuration");
  const size_t n = knobs_.size();
  for (const Config& c : configs) {
    if (c.size() != n) throw std::invalid_argument("a configuration has the wrong number of knobs");
    for (size_t l = 0; l < n; ++l) {
      if (c[l] >= knobs_[l].size()) {
        throw std::invalid_argument("knob '" + knobs_[l].name() + "' has no entry " +
                                    std::to_string(c[l]));
      }
      Assignment a(knobs_, c.data(), l);
      for (const Constraint& k : constraints_[l]) {
        if (!k(a)) {
          throw std::invalid_argument("a listed configuration breaks a constraint of knob '" +
                                      knobs_[l].name() + "'");
        }
      }
    }
  }
  std::sort(configs.begin(), configs.end());
  configs.erase(std::unique(configs.begin(), configs.end()), configs.end());

  Space s;
  Space::Tree& t = *s.tree_;
  t.init(std::move(knobs_));
  uint64_t leaves = 0;
  const Config* prev = nullptr;
  for (const Config& c : configs) {
    size_t d = 0;  // first level where c leaves the previous path
    if (prev) {
      while (d < n && (*prev)[d] == c[d]) ++d;
    }
    for (size_t l = d; l < n; ++l) {
      t.edge_entry[l].push_back(c[l]);
      if (l + 1 < n) {
        t.edge_leaf[l].push_back(leaves);
        t.node_edges[l + 1].push_back(t.edge_entry[l + 1].size());
      }
    }
    ++leaves;
    prev = &c;
  }
  t.finish(leaves);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Space

Space::Space() : tree_(std::make_unique<Tree>()) {}
Space::~Space() = default;
Space::Space(Space&&) noexcept = default;
Space& Space::operator=(Space&&) noexcept = default;

const std::vector<Knob>& Space::knobs() const { return tree_->knobs; }
uint64_t Space::size() const { return tree_->size; }

size_t Space::knob_index(const std::string& name) const {
  for (size_t i = 0; i < tree_->knobs.size(); ++i) {
    if (tree_->knobs[i].name() == name) return i;
  }
  throw std::invalid_argument("no knob named '" + name + "'");
}

Config Space::at(uint64_t index) const {
  const Tree& t = *tree_;
  if (index >= t.size) {
    throw std::out_of_range("configuration index " + std::to_string(index) +
                            " is outside the space (size " + std::to_string(t.size) + ")");
  }
  const size_t n = t.levels();
  Config c(n);
  uint64_t node = 0;
  for (size_t l = 0; l + 1 < n; ++l) {
    const auto& leaf = t.edge_leaf[l];
    auto first = leaf.begin() + static_cast<ptrdiff_t>(t.node_edges[l][node]);
    auto last = leaf.begin() + static_cast<ptrdiff_t>(t.node_edges[l][node + 1]);
    auto it = std::upper_bound(first, last, index) - 1;
    node = static_cast<uint64_t>(it - leaf.begin());
    c[l] = t.edge_entry[l][node];
  }
  c[n - 1] = t.edge_entry[n - 1][index];
  return c;
}

std::optional<uint64_t> Space::index_of(const Config& c) const {
  const Tree& t = *tree_;
  const size_t n = t.levels();
  if (c.size() != n) return std::nullopt;
  uint64_t node = 0;
  for (size_t l = 0; l < n; ++l) {
    auto edge = t.find_edge(l, node, c[l]);
    if (!edge) return std::nullopt;
    node = *edge;
  }
  return node;
}

uint64_t Space::sample(std::mt19937_64& rng) const { return uniform_below(rng, size()); }

std::vector<uint64_t> Space::neighbours(uint64_t index) const {
  const Config c = at(index);
  Config d = c;
  std::vector<uint64_t> out;
  for (size_t k = 0; k < c.size(); ++k) {
    for (uint32_t e = 0; e < tree_->knobs[k].size(); ++e) {
      if (e == c[k]) continue;
      d[k] = e;
      if (auto i = index_of(d)) out.push_back(*i);
    }
    d[k] = c[k];
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t Space::num_features() const { return tree_->feature_offset.back(); }

std::vector<std::string> Space::feature_names() const {
  std::vector<std::string> names;
  for (const Knob& k : tree_->knobs) {
    if (k.arity() == 1) {
      names.push_back(k.name());
    } else {
      for (int i = 0; i < k.arity(); ++i) names.push_back(k.name() + "[" + std::to_string(i) + "]");
    }
  }
  return names;
}

void Space::features(uint64_t index, std::span<double> out) const {
  if (out.size() != num_features())
    throw std::invalid_argument("feature buffer has the wrong size");
  const Config c = at(index);
  for (size_t k = 0; k < c.size(); ++k) {
    auto p = tree_->knobs[k].parts(c[k]);
    for (size_t i = 0; i < p.size(); ++i) {
      out[tree_->feature_offset[k] + i] = static_cast<double>(p[i]);
    }
  }
}

json Space::to_json(const Config& c) const {
  json j = json::object();
  for (size_t k = 0; k < c.size(); ++k) j[tree_->knobs[k].name()] = tree_->knobs[k].to_json(c[k]);
  return j;
}

Config Space::from_json(const json& j) const {
  const Tree& t = *tree_;
  if (!j.is_object()) {
    throw std::invalid_argument("a configuration must be a JSON object {\"knob\": value, ...}");
  }
  Config c(t.levels());
  for (const auto& [key, value] : j.items()) {
    auto it = std::find_if(t.knobs.begin(), t.knobs.end(),
                           [&](const Knob& k) { return k.name() == key; });
    if (it == t.knobs.end()) {
      std::string names;
      for (const Knob& k : t.knobs) names += (names.empty() ? "" : ", ") + k.name();
      throw std::invalid_argument("unknown knob '" + key + "'; knobs: " + names);
    }
    auto e = it->find(value);
    if (!e) {
      throw std::invalid_argument("knob '" + key + "' has no value " + value.dump() +
                                  "; expected " + it->describe_domain());
    }
    c[static_cast<size_t>(it - t.knobs.begin())] = *e;
  }
  for (const Knob& k : t.knobs) {
    if (!j.contains(k.name())) throw std::invalid_argument("missing knob '" + k.name() + "'");
  }
  uint64_t node = 0;
  for (size_t l = 0; l < t.levels(); ++l) {
    auto edge = t.find_edge(l, node, c[l]);
    if (!edge) {
      throw std::invalid_argument("the configuration is outside the space: knob '" +
                                  t.knobs[l].name() + "' = " + t.knobs[l].to_json(c[l]).dump() +
                                  " breaks a constraint given the knobs before it");
    }
    node = *edge;
  }
  return c;
}

std::string Space::digest() const {
  uint64_t h = kLegacyFnvOffset;
  auto mix = [&h](const void* data, size_t len) { h = fnv1a(data, len, h); };
  const Tree& t = *tree_;
  for (const Knob& k : t.knobs) {
    mix(k.name().data(), k.name().size());
    for (uint32_t e = 0; e < k.size(); ++e) {
      std::string v = k.to_json(e).dump();
      mix(v.data(), v.size());
    }
  }
  for (size_t l = 0; l < t.levels(); ++l) {
    mix(t.edge_entry[l].data(), t.edge_entry[l].size() * sizeof(uint32_t));
    mix(t.node_edges[l].data(), t.node_edges[l].size() * sizeof(uint64_t));
  }
  mix(&t.size, sizeof t.size);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

size_t Space::memory_bytes() const {
  const Tree& t = *tree_;
  size_t bytes = 0;
  for (const auto& v : t.node_edges) bytes += v.capacity() * sizeof(uint64_t);
  for (const auto& v : t.edge_entry) bytes += v.capacity() * sizeof(uint32_t);
  for (const auto& v : t.edge_leaf) bytes += v.capacity() * sizeof(uint64_t);
  return bytes;
}

}  // namespace ml2
