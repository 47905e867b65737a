// Two benches side by side, run by run (compare_bench in bench.h).
//
// A bench's results.json holds every run's metrics under tasks.<task>.<tuner>.seeds.<seed>. Runs
// are deterministic, so a run of the same task, tuner and seed in both benches differs only by
// what changed between them (code or --set parameters): the pairs give a paired difference,
// whose standard error is far smaller than that of either mean (a run's samples to equal varies
// by about 0.3 from seed to seed).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/stats.h"
#include "ml2tuner/bench.h"

namespace ml2 {
namespace {

using nlohmann::json;

// The measures compared, all "lower is better", as results.json names them.
constexpr const char* kMeasures[] = {"samples_to_equal", "samples_to_1pct", "time_to_equal",
                                     "invalid_trials",   "run_failures",    "builds"};

bool is_ratio(const std::string& measure) {
  return measure == "samples_to_equal" || measure == "samples_to_1pct" ||
         measure == "time_to_equal";
}

const json& seeds_of(const json& results, const std::string& task, const std::string& tuner) {
  static const json none = json::object();
  const json& tasks = results.at("tasks");
  if (!tasks.contains(task) || !tasks[task].is_object() || !tasks[task].contains(tuner)) {
    return none;
  }
  const json& t = tasks[task][tuner];
  return t.is_object() && t.contains("seeds") && t["seeds"].is_object() ? t["seeds"] : none;
}

// Whether xgb's run of (task, seed) reached the same best at the same trial in both benches: the
// ratios' denominators are then the same.
bool same_yardstick(const json& base, const json& changed, const std::string& task,
                    const std::string& seed) {
  const json& a = seeds_of(base, task, "xgb");
  const json& b = seeds_of(changed, task, "xgb");
  if (!a.contains(seed) || !b.contains(seed) || !a[seed].is_object() || !b[seed].is_object()) {
    return false;
  }
  return a[seed].value("best_latency_ms", json()) == b[seed].value("best_latency_ms", json()) &&
         a[seed].value("best_trial", json()) == b[seed].value("best_trial", json());
}

struct Paired {
  std::vector<double> a, b;
  json summary() const {
    const size_t n = a.size();
    std::vector<double> diff(n);
    int64_t lower = 0, higher = 0, same = 0;
    for (size_t i = 0; i < n; ++i) {
      const double d = diff[i] = b[i] - a[i];
      const double scale = std::max({std::abs(a[i]), std::abs(b[i]), 1e-300});
      if (std::abs(d) <= 1e-12 * scale) {
        ++same;
      } else if (d < 0) {
        ++lower;
      } else {
        ++higher;
      }
    }
    json out = {{"pairs", n},
                {"base", bench_stats::mean(a)},
                {"new", bench_stats::mean(b)},
                {"difference", bench_stats::mean(diff)},
                {"lower", lower},
                {"higher", higher},
                {"same", same}};
    out["standard_error"] = n > 1 ? json(bench_stats::standard_error(diff)) : json(nullptr);
    return out;
  }
};

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

std::string shown(const std::string& measure, const json& x) {
  if (!x.is_number()) return "–";
  const double v = x.get<double>();
  return is_ratio(measure) ? fmt("%.1f %%", 100 * v) : fmt("%.1f", v);
}

// Task names in natural order: C2 before C10.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ei = i, ej = j;
      while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei]))) ++ei;
      while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej]))) ++ej;
      const std::string na = a.substr(i, ei - i), nb = b.substr(j, ej - j);
      if (na.size() != nb.size()) return na.size() < nb.size();  // no leading zeros expected
      if (na != nb) return na < nb;
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

}  // namespace

json compare_bench(const json& base, const json& changed, const std::vector<std::string>& tuners) {
  for (const json* r : {&base, &changed}) {
    if (!r->is_object() || !r->contains("tasks") || !(*r)["tasks"].is_object()) {
      throw std::invalid_argument("not a bench results.json: it has no \"tasks\" object");
    }
  }
  auto tuners_in = [](const json& r) {
    std::set<std::string> out;
    for (const auto& [task, per_tuner] : r["tasks"].items()) {
      if (!per_tuner.is_object()) continue;
      for (const auto& [tuner, v] : per_tuner.items()) out.insert(tuner);
    }
    return out;
  };
  const std::set<std::string> in_a = tuners_in(base), in_b = tuners_in(changed);
  std::vector<std::string> which = tuners;
  if (which.empty()) {
    for (const std::string& t : in_a) {
      if (t != "xgb" && in_b.count(t)) which.push_back(t);
    }
  }
  if (which.empty()) {
    throw std::invalid_argument("the two benches have no tuner besides xgb in common");
  }
  json out = {{"tuners", json::object()}};
  for (const std::string& tuner : which) {
    std::map<std::string, Paired> overall;
    json per_task = json::object();
    int64_t pairs = 0, other_yardstick = 0;
    for (const auto& [task, unused] : base["tasks"].items()) {
      const json& sa = seeds_of(base, task, tuner);
      const json& sb = seeds_of(changed, task, tuner);
      Paired task_equal;
      for (const auto& [seed, ma] : sa.items()) {
        if (!sb.contains(seed) || !ma.is_object() || !sb[seed].is_object()) continue;
        const json& mb = sb[seed];
        ++pairs;
        const bool same_x = same_yardstick(base, changed, task, seed);
        if (!same_x) ++other_yardstick;
        for (const char* m : kMeasures) {
          if (!ma.contains(m) || !mb.contains(m) || !ma[m].is_number() || !mb[m].is_number()) {
            continue;
          }
          overall[m].a.push_back(ma[m].get<double>());
          overall[m].b.push_back(mb[m].get<double>());
        }
        if (ma.value("samples_to_equal", json()).is_number() &&
            mb.value("samples_to_equal", json()).is_number()) {
          task_equal.a.push_back(ma["samples_to_equal"].get<double>());
          task_equal.b.push_back(mb["samples_to_equal"].get<double>());
        }
      }
      if (!task_equal.a.empty()) per_task[task] = task_equal.summary();
    }
    if (pairs == 0) {
      auto list = [](const std::set<std::string>& s) {
        std::string l;
        for (const std::string& t : s) l += (l.empty() ? "" : ", ") + t;
        return l.empty() ? std::string("none") : l;
      };
      throw std::invalid_argument("tuner '" + tuner +
                                  "' has no run (task and seed) in both benches; the base has " +
                                  list(in_a) + ", the new one " + list(in_b));
    }
    json t = {{"pairs", pairs}, {"xgb_differs", other_yardstick}, {"measures", json::object()}};
    for (const char* m : kMeasures) {
      if (overall.count(m)) t["measures"][m] = overall[m].summary();
    }
    t["samples_to_equal_per_task"] = per_task;
    out["tuners"][tuner] = t;
  }
  return out;
}

std::string compare_markdown(const json& c) {
  std::ostringstream md;
  md << "| tuner | measure | pairs | base | new | new − base (± standard error) | lower | higher "
        "| same |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& [tuner, t] : c["tuners"].items()) {
    for (const char* m : kMeasures) {
      if (!t["measures"].contains(m)) continue;
      const json& s = t["measures"][m];
      const double d = s["difference"].get<double>();
      const double scale = is_ratio(m) ? 100 : 1;
      std::string diff = fmt(is_ratio(m) ? "%+.1f pt" : "%+.1f", scale * d);
      if (s["standard_error"].is_number()) {
        diff += fmt(" (± %.1f)", scale * s["standard_error"].get<double>());
      }
      md << "| " << tuner << " | " << m << " | " << s["pairs"].get<int64_t>() << " | "
         << shown(m, s["base"]) << " | " << shown(m, s["new"]) << " | " << diff << " | "
         << s["lower"].get<int64_t>() << " | " << s["higher"].get<int64_t>() << " | "
         << s["same"].get<int64_t>() << " |\n";
    }
  }
  md << "\nPairs are runs of the same task, tuner and seed in both benches; lower is better for "
        "every measure; \"lower\" counts the pairs where the new bench's run was lower.\n";
  for (const auto& [tuner, t] : c["tuners"].items()) {
    const int64_t differs = t["xgb_differs"].get<int64_t>();
    if (differs > 0) {
      md << "\n"
         << tuner << ": xgb's run differs (or is missing) in " << differs << " of the "
         << t["pairs"].get<int64_t>()
         << " pairs, so their ratios to xgb have different denominators.\n";
    }
  }
  md << "\n| tuner | task | pairs | samples to equal, base | new | lower | higher | same "
        "|\n|---|---|---|---|---|---|---|---|\n";
  for (const auto& [tuner, t] : c["tuners"].items()) {
    std::vector<std::string> tasks;
    for (const auto& [task, unused] : t["samples_to_equal_per_task"].items()) tasks.push_back(task);
    std::sort(tasks.begin(), tasks.end(), natural_less);
    for (const std::string& task : tasks) {
      const json& s = t["samples_to_equal_per_task"][task];
      md << "| " << tuner << " | " << task << " | " << s["pairs"].get<int64_t>() << " | "
         << shown("samples_to_equal", s["base"]) << " | " << shown("samples_to_equal", s["new"])
         << " | " << s["lower"].get<int64_t>() << " | " << s["higher"].get<int64_t>() << " | "
         << s["same"].get<int64_t>() << " |\n";
    }
  }
  return md.str();
}

}  // namespace ml2
