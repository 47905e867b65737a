// Search spaces: typed knobs, constraints attached to knobs, configurations as values and as a
// dense index.
//
// Reader's map
//   Knob        one tunable parameter with a finite domain of entries (an entry is one value, or
//               the factors of a split). Made by the Knob::* factories.
//   SpaceBuilder  add knobs in order; a constraint attached to knob k sees knobs 0..k only, so the
//               valid space is enumerated as a tree (a prefix that breaks a constraint is never
//               extended), not by filtering the cross product.
//   Space       the built tree: size(), config <-> index (exact round trip), uniform sampling,
//               neighbours (one knob changed), the numeric feature vector of a configuration, and
//               JSON conversion ({"knob": value, ...}).
//   Config      one entry index per knob; cheap to copy and compare.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ml2 {

enum class KnobKind { kInt, kBool, kChoice, kSplit };

// One tunable parameter. Its domain is a list of entries; an entry has `arity` integer parts
// (1 for int/bool/choice, n for an n-way split). Choice entries also carry a JSON value that is
// shown to users and written to records (a string label, or the recorded value of a replayed
// parameter).
class Knob {
 public:
  // An integer range lo, lo+step, ..., <= hi.
  static Knob Range(std::string name, int64_t lo, int64_t hi, int64_t step = 1);
  // An explicit list of integers, in the given order.
  static Knob Values(std::string name, std::vector<int64_t> values);
  static Knob Bool(std::string name);
  // Named alternatives (loop orders, micro-kernels...). The numeric value of entry i is i.
  static Knob Choice(std::string name, std::vector<std::string> labels);
  // Arbitrary JSON values (numbers, strings) as recorded by another tuner. The numeric value is
  // the number itself for integers and its position otherwise.
  static Knob Recorded(std::string name, const std::vector<nlohmann::json>& values);

  enum class SplitPolicy {
    kFactors,  // every ordered factorisation with a product equal to the extent (AutoTVM 'factors')
    kPower2,   // inner parts are powers of two <= extent, the outer part is the ceiling quotient
               // (AutoTVM 'power2'): non-divisor tiles with a partial last tile
    kFactorsOrPower2,  // both of the above, without duplicates (factorisations first)
  };
  // An n-way split of `extent`; parts are ordered outer to inner.
  static Knob Split(std::string name, int64_t extent, int nparts,
                    SplitPolicy policy = SplitPolicy::kFactors);

  const std::string& name() const { return name_; }
  KnobKind kind() const { return kind_; }
  int arity() const { return arity_; }
  uint32_t size() const { return static_cast<uint32_t>(parts_.size() / arity_); }
  // Integer parts of entry e.
  std::span<const int64_t> parts(uint32_t e) const {
    return {parts_.data() + static_cast<size_t>(e) * arity_, static_cast<size_t>(arity_)};
  }
  // Whether the parts measure sizes (non-negative integers, tile factors, recorded integer values),
  // so that their logarithms and products mean something; false for labels and booleans.
  bool magnitude() const;
  // The value of a scalar knob (the first part of a split).
  int64_t value(uint32_t e) const { return parts_[static_cast<size_t>(e) * arity_]; }
  nlohmann::json to_json(uint32_t e) const;
  // Entry index of a JSON value, or nullopt if the value is not in the domain.
  std::optional<uint32_t> find(const nlohmann::json& v) const;
  // A one-line description of the domain, for error messages ("one of 1, 2, 4").
  std::string describe_domain() const;

 private:
  Knob(std::string name, KnobKind kind, int arity);
  std::string name_;
  KnobKind kind_;
  int arity_;
  std::vector<int64_t> parts_;
  std::vector<std::string> labels_;  // kChoice: label per entry; recorded: JSON text per entry
  bool recorded_ = false;
  bool integer_values_ = true;  // recorded: every value was an integer
};

using Config = std::vector<uint32_t>;  // one entry index per knob

// A partial assignment handed to constraints: knobs 0..depth are set.
class Assignment {
 public:
  Assignment(const std::vector<Knob>& knobs, const uint32_t* entries, size_t depth)
      : knobs_(&knobs), entries_(entries), depth_(depth) {}
  int64_t operator[](size_t knob) const { return (*knobs_)[knob].value(entries_[knob]); }
  std::span<const int64_t> parts(size_t knob) const {
    return (*knobs_)[knob].parts(entries_[knob]);
  }
  size_t depth() const { return depth_; }

 private:
  const std::vector<Knob>* knobs_;
  const uint32_t* entries_;
  size_t depth_;
};

using Constraint = std::function<bool(const Assignment&)>;

class Space;

class SpaceBuilder {
 public:
  // Adds a knob and returns its position. Constraints given here may read knobs up to this one.
  size_t add(Knob knob, std::vector<Constraint> constraints = {});
  // Attaches a constraint to an already added knob (it may read knobs up to that one).
  void constrain(size_t knob, Constraint c);
  size_t index_of(const std::string& name) const;
  // Enumerates the valid tree. Throws std::invalid_argument on an empty or inconsistent space.
  Space build() &&;
  // Builds the space of exactly the given configurations (each an entry index per knob);
  // duplicates are merged. Used for recorded spaces, whose restrictions are only known through
  // the configurations that were recorded.
  Space build_from(std::vector<Config> configs) &&;

 private:
  std::vector<Knob> knobs_;
  std::vector<std::vector<Constraint>> constraints_;
};

class Space {
 public:
  Space();
  ~Space();
  Space(Space&&) noexcept;
  Space& operator=(Space&&) noexcept;

  const std::vector<Knob>& knobs() const;
  size_t num_knobs() const { return knobs().size(); }
  size_t knob_index(const std::string& name) const;  // throws std::invalid_argument
  uint64_t size() const;

  Config at(uint64_t index) const;                          // requires index < size()
  std::optional<uint64_t> index_of(const Config& c) const;  // nullopt: not a valid configuration
  bool contains(const Config& c) const { return index_of(c).has_value(); }

  // Uniform over valid configurations.
  uint64_t sample(std::mt19937_64& rng) const;
  // Valid configurations that differ from `c` in exactly one knob, as indices, ascending.
  std::vector<uint64_t> neighbours(uint64_t index) const;

  // The "knob" features a cost model sees: the integer parts of every knob, flattened.
  size_t num_features() const;
  std::vector<std::string> feature_names() const;
  void features(uint64_t index, std::span<double> out) const;

  nlohmann::json to_json(const Config& c) const;
  // Parses {"knob": value, ...}. Throws std::invalid_argument naming the unknown knob, the value
  // outside its domain, or the constraint the configuration breaks.
  Config from_json(const nlohmann::json& j) const;

  // A stable fingerprint of the knobs and the valid set, to refuse resuming a store made for a
  // different space.
  std::string digest() const;
  // Bytes held by the index structure.
  size_t memory_bytes() const;

  struct Tree;  // defined in space.cc

 private:
  friend class SpaceBuilder;
  std::unique_ptr<Tree> tree_;
};

}  // namespace ml2
