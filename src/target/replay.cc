// The replay target (see replay.h): loads a Kernel Tuner cache or a KTT output file into flat
// tables indexed by space index, then answers build() and run() from those tables.
//
// Loading: the file is read whole (gzip or plain), parsed once with nlohmann::json, and turned
// into one Record per recorded configuration. The space is built from exactly those
// configurations, and each record is then scattered to its space index. After construction
// nothing is mutated, so build() and run() are safe in forked workers.
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ml2tuner/replay.h"
#include "util/gzfile.h"

namespace ml2 {
namespace {

using nlohmann::json;

constexpr double kAbsent = std::numeric_limits<double>::quiet_NaN();

// Hidden features a Kernel Tuner cache may hold: `num_regs` (written by Kernel Tuner's
// observers) and `registers` (a user metric in the expdist recording); both are register counts
// per thread and are kept under their own names. Other per-entry fields (`reg` in hotspot, NVML
// power and clock readings) are not compile-time properties or duplicate these, and are ignored.
// A cache that `ml2tuner sweep` wrote also holds `ml2_hidden`, an object of every hidden feature
// the target's build gave; those are replayed under their own names.
constexpr std::array<std::string_view, 2> kKernelTunerHidden = {"num_regs", "registers"};

// KTT CompilationData fields and the names they are recorded under.
constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kKttHidden = {{
    {"RegistersCount", "registers"},
    {"LocalMemorySize", "shared_memory_bytes"},   // OpenCL "local" memory = CUDA shared memory
    {"PrivateMemorySize", "local_memory_bytes"},  // OpenCL "private" = CUDA local (spills)
    {"ConstantMemorySize", "constant_memory_bytes"},
    {"MaxWorkGroupSize", "max_block_size"},
}};

// One recorded configuration, in file order.
struct Record {
  Config config;
  Status build = Status::kOk;
  Status run = Status::kOk;
  uint8_t message = 0;  // index into Recording::messages; 0 is the empty message
  Measurement latency;
  double build_s = 0;
  double run_s = 0;
  std::vector<std::pair<uint32_t, double>> hidden;  // (Recording::hidden_names index, value)
};

struct Recording {
  std::string task;
  std::vector<Knob> knobs;
  std::vector<Record> records;
  std::vector<std::string> hidden_names;
  std::map<std::string, uint32_t, std::less<>> hidden_ids;
  std::vector<std::string> messages{""};

  uint32_t hidden_id(std::string_view name) {
    auto it = hidden_ids.find(name);
    if (it != hidden_ids.end()) return it->second;
    const auto id = static_cast<uint32_t>(hidden_names.size());
    hidden_names.emplace_back(name);
    hidden_ids.emplace(std::string(name), id);
    return id;
  }

  // Adds a hidden feature to `r` when `value` is a recorded number (NaN: absent).
  void add_hidden(Record& r, std::string_view name, double value) {
    if (std::isfinite(value)) r.hidden.emplace_back(hidden_id(name), value);  // else: absent
  }

  uint8_t message_id(const std::string& m) {
    for (size_t i = 0; i < messages.size(); ++i) {
      if (messages[i] == m) return static_cast<uint8_t>(i);
    }
    if (messages.size() >= 255) throw std::logic_error("internal: too many replay messages");
    messages.push_back(m);
    return static_cast<uint8_t>(messages.size() - 1);
  }
};

// Messages must stay on one line whatever the file contains.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(one_line(path + ": " + what));
}

double number_or(const json& obj, std::string_view key, double fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return fallback;
  return it->get<double>();
}

std::string str_or(const json& obj, std::string_view key, std::string fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return fallback;
  return it->get<std::string>();
}

// Position of `v` in `domain` (numbers compare by value: 1 == 1.0), or nullopt.
std::optional<uint32_t> find_in(const std::vector<json>& domain, const json& v) {
  for (size_t i = 0; i < domain.size(); ++i) {
    if (domain[i] == v) return static_cast<uint32_t>(i);
  }
  return std::nullopt;
}

// Whether `part` of a Kernel Tuner cache key (Python's str() of the value) denotes `d`.
bool key_part_matches(const json& d, std::string_view part) {
  if (d.is_string()) return d.get_ref<const std::string&>() == part;
  if (d.is_boolean()) return part == (d.get<bool>() ? "True" : "False");
  if (d.is_number_integer()) {
    int64_t x = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), x);
    if (ec == std::errc() && p == part.data() + part.size()) return d.get<int64_t>() == x;
  }
  if (d.is_number()) {
    double x = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), x);
    return ec == std::errc() && p == part.data() + part.size() && d.get<double>() == x;
  }
  return false;
}

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t comma = s.find(',', start);
    parts.push_back(s.substr(start, comma == std::string_view::npos ? s.npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Kernel Tuner cache

Recording load_kernel_tuner(const std::string& path, const json& root) {
  Recording rec;
  rec.task = str_or(root, "kernel_name", "unknown_kernel") + "@" +
             str_or(root, "device_name", "unknown_device");

  const json& keys = root["tune_params_keys"];
  if (!keys.is_array() || keys.empty()) fail(path, "'tune_params_keys' is not a non-empty list");
  auto tp = root.find("tune_params");
  if (tp == root.end() || !tp->is_object()) fail(path, "'tune_params' is missing or not an object");

  std::vector<std::string> names;
  std::vector<std::vector<json>> domains;
  for (const json& k : keys) {
    if (!k.is_string()) fail(path, "'tune_params_keys' holds a non-string " + k.dump());
    const std::string& name = k.get_ref<const std::string&>();
    auto values = tp->find(name);
    if (values == tp->end() || !values->is_array() || values->empty()) {
      fail(path, "'tune_params' has no value list for '" + name + "'");
    }
    names.push_back(name);
    domains.emplace_back(values->begin(), values->end());
    rec.knobs.push_back(Knob::Recorded(name, domains.back()));
  }

  // A failure marker may sit in `time` or in the objective's field (expdist keeps
  // "CompilationFailedConfig" under "GFLOP/s" and has no `time` for failed entries).
  const std::string objective = str_or(root, "objective", "time");

  auto cache = root.find("cache");
  if (cache == root.end() || !cache->is_object()) fail(path, "'cache' is not an object");

  const uint8_t compile_msg = rec.message_id("recorded compile failure (CompilationFailedConfig)");
  const uint8_t runtime_msg = rec.message_id("recorded runtime failure (RuntimeFailedConfig)");
  const uint8_t invalid_msg = rec.message_id("recorded invalid configuration (InvalidConfig)");

  rec.records.reserve(cache->size());
  std::vector<double> samples;
  for (auto it = cache->begin(); it != cache->end(); ++it) {
    const std::string& key = it.key();
    const json& entry = it.value();
    if (!entry.is_object()) fail(path, "cache entry '" + key + "' is not an object");

    Record r;
    r.config.resize(names.size());
    std::vector<std::string_view> key_parts;  // split lazily: entries normally repeat the values
    for (size_t k = 0; k < names.size(); ++k) {
      auto field = entry.find(names[k]);
      std::optional<uint32_t> e;
      if (field != entry.end()) {
        e = find_in(domains[k], *field);
        if (!e) {
          fail(path, "cache entry '" + key + "': " + names[k] + " = " + field->dump() +
                         " is not in tune_params (" + rec.knobs[k].describe_domain() + ")");
        }
      } else {
        if (key_parts.empty()) key_parts = split_commas(key);
        if (key_parts.size() != names.size()) {
          fail(path, "cache entry '" + key + "' lacks '" + names[k] +
                         "' and its key does not have one value per tune_params_keys entry");
        }
        for (size_t d = 0; d < domains[k].size() && !e; ++d) {
          if (key_part_matches(domains[k][d], key_parts[k])) e = static_cast<uint32_t>(d);
        }
        if (!e) {
          fail(path, "cache entry '" + key + "': " + names[k] + " = " + std::string(key_parts[k]) +
                         " is not in tune_params (" + rec.knobs[k].describe_domain() + ")");
        }
      }
      r.config[k] = *e;
    }

    const json* marker = nullptr;
    auto time = entry.find("time");
    if (time != entry.end() && time->is_string()) {
      marker = &*time;
    } else if (objective != "time") {
      auto obj = entry.find(objective);
      if (obj != entry.end() && obj->is_string()) marker = &*obj;
    }

    r.build_s = number_or(entry, "compile_time", 0) / 1000;
    r.run_s =
        (number_or(entry, "benchmark_time", 0) + number_or(entry, "verification_time", 0)) / 1000;
    for (auto h : kKernelTunerHidden) rec.add_hidden(r, h, number_or(entry, h, kAbsent));
    if (auto mh = entry.find("ml2_hidden"); mh != entry.end() && mh->is_object()) {
      for (const auto& [name, v] : mh->items()) {
        if (v.is_number()) rec.add_hidden(r, name, v.get<double>());
      }
    }

    if (marker != nullptr) {
      const std::string& m = marker->get_ref<const std::string&>();
      if (m == "CompilationFailedConfig") {
        r.build = Status::kCompileError;
        r.message = compile_msg;
      } else if (m == "RuntimeFailedConfig") {
        r.run = Status::kRuntimeError;
        r.message = runtime_msg;
      } else if (m == "InvalidConfig") {
        r.build = Status::kDeviceLimitsExceeded;
        r.message = invalid_msg;
      } else {
        fail(path, "cache entry '" + key + "': unknown failure marker '" + m + "'");
      }
    } else {
      if (time == entry.end() || !time->is_number()) {
        fail(path, "cache entry '" + key + "' has no numeric 'time'");
      }
      // The recorded mean is kept exactly; the other statistics come from `times`.
      const double mean = time->get<double>();
      if (!(mean > 0 && std::isfinite(mean))) {
        fail(path, "cache entry '" + key + "': time " + time->dump() +
                       " is not a positive number of milliseconds");
      }
      samples.clear();
      auto times = entry.find("times");
      if (times != entry.end() && times->is_array()) {
        for (const json& t : *times) {
          if (!t.is_number() || !(t.get<double>() > 0)) {  // no time: keep the mean alone
            samples.clear();
            break;
          }
          samples.push_back(t.get<double>());
        }
      }
      if (!samples.empty()) {
        r.latency = Measurement::from_samples(samples);
      } else {
        r.latency.repeats = 1;
        r.latency.min_ms = r.latency.max_ms = mean;
      }
      r.latency.mean_ms = mean;
    }
    rec.records.push_back(std::move(r));
  }
  return rec;
}

// ---------------------------------------------------------------------------------------------
// KTT output

Recording load_ktt(const std::string& path, const json& root) {
  Recording rec;
  static const json kEmpty = json::object();
  auto meta_it = root.find("Metadata");
  const json& meta = (meta_it != root.end() && meta_it->is_object()) ? *meta_it : kEmpty;

  const std::string unit = str_or(meta, "TimeUnit", "Microseconds");
  double unit_ms = 0;  // one recorded time unit in milliseconds
  if (unit == "Microseconds") {
    unit_ms = 1e-3;
  } else if (unit == "Milliseconds") {
    unit_ms = 1;
  } else if (unit == "Nanoseconds") {
    unit_ms = 1e-6;
  } else if (unit == "Seconds") {
    unit_ms = 1e3;
  } else {
    fail(path, "unknown Metadata.TimeUnit '" + unit + "'");
  }
  const double unit_s = unit_ms / 1000;

  const json& results = root["Results"];
  if (!results.is_array()) fail(path, "'Results' is not a list");
  if (results.empty()) fail(path, "no recorded configurations ('Results' is empty)");

  rec.task = str_or(results[0], "KernelName", "unknown_kernel") + "@" +
             str_or(meta, "Device", "unknown_device");

  // Knobs in the order of the first result.
  std::vector<std::string> names;
  {
    auto conf = results[0].find("Configuration");
    if (conf == results[0].end() || !conf->is_array() || conf->empty()) {
      fail(path, "result 0 has no 'Configuration' list");
    }
    for (const json& p : *conf) {
      auto n = p.find("Name");
      if (n == p.end() || !n->is_string()) fail(path, "result 0: a parameter has no 'Name'");
      const std::string& name = n->get_ref<const std::string&>();
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        fail(path, "result 0: parameter '" + name + "' appears twice");
      }
      names.push_back(name);
    }
  }

  // Pass 1: every result's value per knob; the domains are the sorted unique values seen.
  const size_t nk = names.size();
  std::vector<const json*> values(results.size() * nk, nullptr);
  for (size_t i = 0; i < results.size(); ++i) {
    const json& r = results[i];
    auto conf = r.is_object() ? r.find("Configuration") : r.end();
    if (!r.is_object() || conf == r.end() || !conf->is_array()) {
      fail(path, "result " + std::to_string(i) + " has no 'Configuration' list");
    }
    if (conf->size() != nk) {
      fail(path, "result " + std::to_string(i) + " has " + std::to_string(conf->size()) +
                     " parameters, result 0 has " + std::to_string(nk));
    }
    for (size_t j = 0; j < nk; ++j) {
      const json& p = (*conf)[j];
      // Usually the same order as result 0; otherwise look the name up.
      size_t k = j;
      auto n = p.find("Name");
      if (n == p.end() || !n->is_string()) {
        fail(path, "result " + std::to_string(i) + ": a parameter has no 'Name'");
      }
      if (names[k] != n->get_ref<const std::string&>()) {
        auto pos = std::find(names.begin(), names.end(), n->get_ref<const std::string&>());
        if (pos == names.end()) {
          fail(path, "result " + std::to_string(i) + ": unknown parameter '" +
                         n->get<std::string>() + "'");
        }
        k = static_cast<size_t>(pos - names.begin());
      }
      auto v = p.find("Value");
      if (v == p.end() || !(v->is_number() || v->is_string() || v->is_boolean())) {
        fail(path, "result " + std::to_string(i) + ": parameter '" + names[k] +
                       "' has no scalar 'Value'");
      }
      if (values[i * nk + k] != nullptr) {
        fail(path, "result " + std::to_string(i) + ": parameter '" + names[k] + "' appears twice");
      }
      values[i * nk + k] = &*v;
    }
  }
  std::vector<std::vector<json>> domains(nk);
  for (size_t k = 0; k < nk; ++k) {
    std::vector<json>& d = domains[k];
    for (size_t i = 0; i < results.size(); ++i) {
      const json& v = *values[i * nk + k];
      if (!find_in(d, v)) d.push_back(v);  // domains are small; linear is fine
    }
    std::sort(d.begin(), d.end());
    rec.knobs.push_back(Knob::Recorded(names[k], d));
  }

  // Pass 2: the records.
  rec.records.reserve(results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    const json& r = results[i];
    Record out;
    out.config.resize(nk);
    for (size_t k = 0; k < nk; ++k) out.config[k] = *find_in(domains[k], *values[i * nk + k]);

    const std::string status = str_or(r, "Status", "");
    static const json kNoResults = json::array();
    auto crs_it = r.find("ComputationResults");
    const json& crs = (crs_it != r.end() && crs_it->is_array()) ? *crs_it : kNoResults;

    // A result may hold several kernel launches; their durations and overheads add up (the
    // recordings here hold one launch per result). Hidden features are those of the first.
    double duration = 0;
    double overhead = 0;
    for (const json& cr : crs) {
      duration += number_or(cr, "Duration", 0);
      overhead += number_or(cr, "Overhead", 0);
    }
    if (crs.empty()) duration = number_or(r, "TotalDuration", 0);
    if (!crs.empty()) {
      auto cd = crs[0].find("CompilationData");
      if (cd != crs[0].end() && cd->is_object()) {
        for (const auto& [field, name] : kKttHidden) {
          rec.add_hidden(out, name, number_or(*cd, field, kAbsent));
        }
      }
    }
    out.build_s = overhead * unit_s;
    out.run_s = (duration + number_or(r, "DataMovementOverhead", 0) +
                 number_or(r, "ValidationOverhead", 0)) *
                unit_s;

    if (!std::isfinite(out.build_s) || !std::isfinite(out.run_s)) {
      fail(path, "result " + std::to_string(i) +
                     ": its overheads and durations add up to more "
                     "time than a double holds");
    }
    if (status == "Ok") {
      if (!(duration > 0 && std::isfinite(duration * unit_ms))) {
        char text[32];
        std::snprintf(text, sizeof text, "%g", duration);
        fail(path, "result " + std::to_string(i) + " is Ok with a duration of " + text + " (" +
                       unit + "), not a positive time in range");
      }
      out.latency.mean_ms = out.latency.min_ms = out.latency.max_ms = duration * unit_ms;
      out.latency.repeats = 1;
    } else if (status == "ComputationFailed") {
      out.run = Status::kRuntimeError;
      out.message = rec.message_id("recorded runtime failure (KTT ComputationFailed)");
    } else if (status == "ValidationFailed") {
      out.run = Status::kWrongAnswer;
      out.message = rec.message_id("recorded wrong answer (KTT ValidationFailed)");
    } else if (status == "DeviceLimitsExceeded") {
      out.run = Status::kDeviceLimitsExceeded;
      out.message = rec.message_id("recorded device limits exceeded (KTT DeviceLimitsExceeded)");
    } else if (status == "CompilationFailed") {
      out.build = Status::kCompileError;
      out.message = rec.message_id("recorded compile failure (KTT CompilationFailed)");
    } else {
      fail(path, "result " + std::to_string(i) + ": unknown Status '" + status + "'");
    }
    rec.records.push_back(std::move(out));
  }
  return rec;
}

// ---------------------------------------------------------------------------------------------
// Parsing

// Kernel Tuner appends to its cache while tuning; an interrupted run leaves the file ending after
// an entry's "},". Kernel Tuner's read_cache closes such a text like this: strip trailing
// whitespace; unless it ends with the closing of the root, drop one trailing comma and append
// "}\n}".
std::optional<std::string> close_unterminated_cache(const std::string& text) {
  size_t end = text.size();
  while (end > 0 && (text[end - 1] == ' ' || text[end - 1] == '\n' || text[end - 1] == '\r' ||
                     text[end - 1] == '\t')) {
    --end;
  }
  std::string_view t(text.data(), end);
  if (t.ends_with("}\n}") || t.ends_with("}}}")) return std::nullopt;  // already closed
  if (t.ends_with(',')) t.remove_suffix(1);
  std::string fixed;
  fixed.reserve(t.size() + 3);
  fixed.append(t);
  fixed.append("}\n}");
  return fixed;
}

bool is_kernel_tuner_cache(const json& root) {
  return root.is_object() && root.contains("cache") && root.contains("tune_params_keys");
}

bool is_ktt_output(const json& root) { return root.is_object() && root.contains("Results"); }

Recording load(const std::string& path) {
  std::string text = read_maybe_gzipped(path);
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& first) {
    // Only a Kernel Tuner cache may be repaired, and only by closing it.
    bool repaired = false;
    if (auto fixed = close_unterminated_cache(text)) {
      try {
        root = json::parse(*fixed);
        repaired = is_kernel_tuner_cache(root);
      } catch (const json::parse_error&) {
      }
    }
    if (!repaired) fail(path, std::string("malformed JSON: ") + first.what());
  } catch (const json::exception& e) {  // a number beyond a double (1e400), and the like
    fail(path, std::string("malformed JSON: ") + e.what());
  }
  text.clear();
  text.shrink_to_fit();

  try {
    if (is_kernel_tuner_cache(root)) return load_kernel_tuner(path, root);
    if (is_ktt_output(root)) return load_ktt(path, root);
  } catch (const json::exception& e) {
    fail(path, std::string("unexpected structure: ") + e.what());
  } catch (const std::invalid_argument& e) {
    fail(path, e.what());  // Knob::Recorded rejecting a domain
  }
  fail(path,
       "neither a Kernel Tuner cache nor a KTT output file (expected keys 'cache' or 'Results')");
}

// ---------------------------------------------------------------------------------------------
// The target

class ReplayTarget final : public Target {
 public:
  ReplayTarget(const std::string& path, Recording rec)
      : task_(std::move(rec.task)),
        hidden_names_(std::move(rec.hidden_names)),
        messages_(std::move(rec.messages)) {
    if (rec.records.empty()) fail(path, "no recorded configurations");
    std::vector<Config> configs;
    configs.reserve(rec.records.size());
    for (const Record& r : rec.records) configs.push_back(r.config);
    SpaceBuilder builder;
    for (Knob& k : rec.knobs) builder.add(std::move(k));
    try {
      space_ = std::move(builder).build_from(std::move(configs));
    } catch (const std::invalid_argument& e) {
      fail(path, e.what());
    }

    const size_t n = space_.size();
    build_status_.assign(n, Status::kCompileError);
    run_status_.assign(n, Status::kOk);
    message_.assign(n, 0);
    latency_.assign(n, Measurement{});
    build_s_.assign(n, 0);
    run_s_.assign(n, 0);
    // Duplicated configurations (none in the recordings here) keep the last record.
    std::vector<const Record*> by_index(n, nullptr);
    for (const Record& r : rec.records) {
      const auto idx = space_.index_of(r.config);
      if (!idx) throw std::logic_error("internal: a recorded configuration is not in its space");
      const size_t i = static_cast<size_t>(*idx);
      build_status_[i] = r.build;
      run_status_[i] = r.run;
      message_[i] = r.message;
      latency_[i] = r.latency;
      build_s_[i] = r.build_s;
      run_s_[i] = r.run_s;
      by_index[i] = &r;
    }
    hidden_begin_.assign(n + 1, 0);
    for (size_t i = 0; i < n; ++i) {
      if (by_index[i])
        hidden_.insert(hidden_.end(), by_index[i]->hidden.begin(), by_index[i]->hidden.end());
      hidden_begin_[i + 1] = hidden_.size();
    }
  }

  std::string name() const override { return "replay"; }
  std::string task() const override { return task_; }
  const Space& space() const override { return space_; }
  // Replaying contends for nothing.
  int max_parallel_runs() const override { return 64; }

  BuildResult build(const Config& config) const override {
    const auto start = std::chrono::steady_clock::now();
    BuildResult out;
    std::optional<uint64_t> idx;
    if (config.size() == space_.num_knobs()) {
      try {
        idx = space_.index_of(config);
      } catch (const std::exception&) {
        idx.reset();  // an entry outside a knob's domain
      }
    }
    if (!idx) {
      out.status = Status::kCompileError;
      out.message = "configuration is not in the recorded space";
      return out;
    }
    const size_t i = static_cast<size_t>(*idx);
    out.status = build_status_[i];
    out.message = messages_[message_[i]];
    out.virtual_s = build_s_[i];
    for (size_t h = hidden_begin_[i]; h < hidden_begin_[i + 1]; ++h) {
      out.hidden.emplace(hidden_names_[hidden_[h].first], hidden_[h].second);
    }
    if (out.status == Status::kOk) out.artifact = std::to_string(i);
    out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
  }

  RunResult run(const std::string& artifact) const override {
    RunResult out;
    uint64_t i = 0;
    const char* first = artifact.data();
    const char* last = first + artifact.size();
    auto [p, ec] = std::from_chars(first, last, i);
    if (artifact.empty() || ec != std::errc() || p != last || i >= space_.size() ||
        build_status_[i] != Status::kOk) {
      std::string shown;
      for (char c : artifact.substr(0, 32)) {
        shown += (c >= 0x20 && c < 0x7f) ? c : '?';
      }
      out.status = Status::kRuntimeError;
      out.message = "malformed replay artifact '" + shown + "'";
      return out;
    }
    out.status = run_status_[i];
    out.message = messages_[message_[i]];
    out.virtual_s = run_s_[i];
    if (out.status == Status::kOk) out.latency = latency_[i];
    return out;
  }

 private:
  std::string task_;
  Space space_;
  std::vector<std::string> hidden_names_;
  std::vector<std::string> messages_;
  // Per space index.
  std::vector<Status> build_status_;
  std::vector<Status> run_status_;
  std::vector<uint8_t> message_;
  std::vector<Measurement> latency_;
  std::vector<double> build_s_;
  std::vector<double> run_s_;
  // The recorded hidden features of index i: hidden_[hidden_begin_[i] .. hidden_begin_[i + 1]).
  std::vector<size_t> hidden_begin_;
  std::vector<std::pair<uint32_t, double>> hidden_;
};

}  // namespace

std::unique_ptr<Target> make_replay_target(const std::string& path) {
  return std::make_unique<ReplayTarget>(path, load(path));
}

}  // namespace ml2
