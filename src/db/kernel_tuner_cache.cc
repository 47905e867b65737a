#include "ml2tuner/kernel_tuner_cache.h"

#include <ostream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace ml2 {
namespace {

using nlohmann::ordered_json;

// A knob value as a Kernel Tuner parameter: a scalar.
ordered_json param_value(const Knob& k, uint32_t e) {
  if (k.kind() == KnobKind::kSplit) {
    if (k.arity() != 2) {
      throw std::invalid_argument("knob '" + k.name() +
                                  "' splits into more than two parts; a Kernel Tuner parameter "
                                  "must be a scalar");
    }
    return k.parts(e)[1];
  }
  return ordered_json::parse(k.to_json(e).dump());
}

std::string key_text(const ordered_json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

}  // namespace

void write_kernel_tuner_cache(std::ostream& out, const Space& space,
                              const std::vector<Record>& records, const std::string& kernel_name,
                              const std::string& device_name) {
  const auto& knobs = space.knobs();
  ordered_json j;
  j["device_name"] = device_name;
  j["kernel_name"] = kernel_name;
  j["problem_size"] = ordered_json::array();
  j["tune_params_keys"] = ordered_json::array();
  j["tune_params"] = ordered_json::object();
  for (const Knob& k : knobs) {
    j["tune_params_keys"].push_back(k.name());
    ordered_json values = ordered_json::array();
    for (uint32_t e = 0; e < k.size(); ++e) {
      ordered_json v = param_value(k, e);
      if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
    }
    j["tune_params"][k.name()] = values;
  }
  j["objective"] = "time";
  ordered_json cache = ordered_json::object();
  for (const Record& r : records) {
    const bool build_failed = r.stage == Stage::kBuild && r.status != Status::kOk;
    if (r.stage != Stage::kRun && !build_failed) continue;  // built, never run
    const Config c = space.at(r.config_index);
    ordered_json entry;
    std::string key;
    for (size_t k = 0; k < knobs.size(); ++k) {
      ordered_json v = param_value(knobs[k], c[k]);
      if (k) key += ',';
      key += key_text(v);
      entry[knobs[k].name()] = v;
    }
    if (r.status == Status::kOk && r.latency) {
      entry["time"] = r.latency->mean_ms;
    } else {
      entry["time"] = build_failed ? "CompilationFailedConfig" : "RuntimeFailedConfig";
    }
    entry["compile_time"] = r.virtual_build_s * 1000.0;
    entry["verification_time"] = 0;
    entry["benchmark_time"] = r.virtual_run_s * 1000.0;
    entry["strategy_time"] = 0;
    entry["framework_time"] = 0;
    entry["timestamp"] = r.timestamp;
    entry["ml2_status"] = std::string(to_string(r.status));
    entry["ml2_hidden"] = r.hidden;
    cache[key] = std::move(entry);
  }
  j["cache"] = std::move(cache);
  out << j.dump(1) << "\n";
}

}  // namespace ml2
