// Strategy parameters, each declared once with its default, bounds and one-line description; the
// CLI's options and help are generated from the same table, and a parameter a tuner does not use
// is rejected rather than ignored.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace ml2 {

struct ParamSpec {
  std::string name;           // "plan_size"; the CLI option is --plan-size
  std::string default_value;  // as text
  double min = 0, max = 0;    // numeric bounds (ignored for choices)
  bool integer = false;
  std::vector<std::string> choices;  // non-empty: a named choice
  std::string description;
  std::vector<std::string> tuners;  // the tuners that read it
};

// Every declared parameter.
const std::vector<ParamSpec>& param_specs();

// Parsed, validated parameters of one tuner: every parameter it reads, defaults filled in.
class Params {
 public:
  // Throws std::invalid_argument naming an unknown parameter, one the tuner does not use (with
  // the tuners that do), or a value that does not parse or lies outside its bounds.
  Params(const std::string& tuner, const std::map<std::string, std::string>& given);
  double number(const std::string& name) const;
  int integer(const std::string& name) const;
  const std::string& text(const std::string& name) const;

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace ml2
