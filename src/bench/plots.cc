#include "bench/plots.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace ml2::bench_plots {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The plot area inside the 720 x 420 canvas; the legend sits right of it.
constexpr double kWidth = 720, kHeight = 420;
constexpr double kLeft = 64, kRight = 560, kTop = 36, kBottom = 364;

// Distinguishable on white and for the common colour-vision deficiencies (Okabe and Ito).
// Neighbours in the order differ most (xgb, ml2, p, pv, pa, ga in a full bench).
constexpr const char* kColours[] = {"#000000", "#E69F00", "#0072B2", "#009E73",
                                    "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"};

// The length of the well-formed UTF-8 sequence at text[i], or 0.
size_t utf8_length(const std::string& text, size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  const size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

// Text as XML character data: markup escaped, control characters and bytes that are not UTF-8
// (task names come from file names) as '?'.
std::string escaped(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t n = utf8_length(text, i);
      out += n == 0 ? std::string("?") : text.substr(i, n);
      i += n == 0 ? 0 : n - 1;
      continue;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c < 0x20 ? '?' : static_cast<char>(c);
    }
  }
  return out;
}

std::string fmt(const char* format, double x) {
  char buf[48];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}

class Axes {
 public:
  Axes(size_t trials, double y_min, double y_max)
      : log_max_(std::log(static_cast<double>(std::max<size_t>(trials, 2)))),
        y_min_(y_min),
        y_max_(y_max > y_min ? y_max : y_min + 1) {}
  double x(double trial) const { return kLeft + (kRight - kLeft) * std::log(trial) / log_max_; }
  double y(double value) const {
    const double v = std::clamp(value, y_min_, y_max_);
    return kBottom - (kBottom - kTop) * (v - y_min_) / (y_max_ - y_min_);
  }

 private:
  double log_max_, y_min_, y_max_;
};

// A step curve through (trial, value) for trials first..last (1-based, values[t - 1]): a point
// where the value changes, and the last one.
std::vector<std::string> step_points(const Axes& a, const std::vector<double>& values, size_t first,
                                     size_t last) {
  std::vector<std::string> pts;
  auto add = [&](double trial, double value) {
    pts.push_back(fmt("%.1f", a.x(trial)) + "," + fmt("%.1f", a.y(value)));
  };
  add(static_cast<double>(first), values[first - 1]);
  for (size_t t = first + 1; t <= last; ++t) {
    if (values[t - 1] != values[t - 2]) {
      add(static_cast<double>(t), values[t - 2]);
      add(static_cast<double>(t), values[t - 1]);
    }
  }
  if (last > first) add(static_cast<double>(last), values[last - 1]);
  return pts;
}

// SVG's points attribute: the points, separated by spaces.
std::string joined(const std::vector<std::string>& pts) {
  std::string out;
  for (const std::string& p : pts) out += (out.empty() ? "" : " ") + p;
  return out;
}

// The maximal runs of trials where every one of `curves` is a number, as (first, last), 1-based.
std::vector<std::pair<size_t, size_t>> finite_spans(
    const std::vector<const std::vector<double>*>& curves) {
  std::vector<std::pair<size_t, size_t>> spans;
  const size_t n = curves.front()->size();
  size_t t = 1;
  while (t <= n) {
    auto finite = [&](size_t i) {
      return std::all_of(curves.begin(), curves.end(),
                         [&](const std::vector<double>* c) { return std::isfinite((*c)[i - 1]); });
    };
    if (!finite(t)) {
      ++t;
      continue;
    }
    const size_t first = t;
    while (t + 1 <= n && finite(t + 1)) ++t;
    spans.emplace_back(first, t);
    ++t;
  }
  return spans;
}

// Tick values: 1, 2, 5, 10, 20, 50... up to `max`.
std::vector<double> log_ticks(double max) {
  std::vector<double> ticks;
  for (double decade = 1; decade <= max; decade *= 10) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (m * decade <= max) ticks.push_back(m * decade);
    }
  }
  return ticks;
}

// About five round steps between lo and hi.
std::vector<double> linear_ticks(double lo, double hi) {
  const double raw = (hi - lo) / 5;
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
  }
  return ticks;
}

}  // namespace

std::vector<double> running_best(const nlohmann::json& history, int64_t budget) {
  std::vector<double> best(static_cast<size_t>(std::max<int64_t>(budget, 0)), kNaN);
  std::vector<double> at(best.size(), kNaN);  // the successful latency of each trial
  for (const nlohmann::json& h : history) {
    const int64_t trial = h.value("trial", int64_t{0});
    auto latency = h.find("latency_ms");
    if (trial < 1 || trial > budget || latency == h.end() || !latency->is_number()) continue;
    double& slot = at[static_cast<size_t>(trial - 1)];
    if (!(slot <= latency->get<double>())) slot = latency->get<double>();  // the lower of two
  }
  double so_far = kNaN;
  for (size_t i = 0; i < at.size(); ++i) {
    if (std::isfinite(at[i]) && !(so_far <= at[i])) so_far = at[i];
    best[i] = so_far;
  }
  return best;
}

std::vector<double> share_reached(const std::vector<int64_t>& first_trials, int64_t budget) {
  std::vector<double> share(static_cast<size_t>(std::max<int64_t>(budget, 0)), 0);
  if (first_trials.empty()) return share;
  for (int64_t first : first_trials) {
    if (first < 1 || first > budget) continue;
    for (size_t i = static_cast<size_t>(first - 1); i < share.size(); ++i) share[i] += 1;
  }
  for (double& s : share) s /= static_cast<double>(first_trials.size());
  return share;
}

std::vector<double> quantile_by_trial(const std::vector<std::vector<double>>& runs, double q) {
  if (runs.empty()) return {};
  const size_t n = runs.front().size();
  std::vector<double> out(n, kNaN), column(runs.size());
  for (size_t i = 0; i < n; ++i) {
    for (size_t r = 0; r < runs.size(); ++r) {
      const double v = i < runs[r].size() ? runs[r][i] : kNaN;
      column[r] = std::isfinite(v) ? v : std::numeric_limits<double>::infinity();
    }
    std::sort(column.begin(), column.end());
    const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(column.size() - 1);
    const auto below = static_cast<size_t>(std::floor(pos));
    const size_t above = std::min(below + 1, column.size() - 1);
    const double frac = pos - static_cast<double>(below);
    const double lo = column[below], hi = column[above];
    double v = lo;
    if (frac > 0 && hi != lo) v = lo + frac * (hi - lo);
    out[i] = std::isfinite(v) ? v : kNaN;
  }
  return out;
}

std::string svg(const Chart& chart) {
  size_t trials = 1;
  for (const Series& s : chart.series) trials = std::max(trials, s.y.size());
  const Axes a(trials, chart.y_min, chart.y_max);
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
    << "\" viewBox=\"0 0 " << kWidth << " " << kHeight
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << kLeft << "\" y=\"22\" font-size=\"14\">" << escaped(chart.title)
    << "</text>\n";
  // Grid and ticks.
  for (double t : log_ticks(static_cast<double>(trials))) {
    const std::string x = fmt("%.1f", a.x(t));
    o << "<line x1=\"" << x << "\" y1=\"" << kTop << "\" x2=\"" << x << "\" y2=\"" << kBottom
      << "\" stroke=\"#e0e0e0\"/>\n<text x=\"" << x << "\" y=\"" << kBottom + 16
      << "\" text-anchor=\"middle\">" << fmt("%g", t) << "</text>\n";
  }
  for (double v : linear_ticks(chart.y_min, chart.y_max)) {
    const std::string y = fmt("%.1f", a.y(v));
    o << "<line x1=\"" << kLeft << "\" y1=\"" << y << "\" x2=\"" << kRight << "\" y2=\"" << y
      << "\" stroke=\"#e0e0e0\"/>\n<text x=\"" << kLeft - 6 << "\" y=\"" << y
      << "\" dy=\"4\" text-anchor=\"end\">"
      << (chart.y_percent ? fmt("%g", 100 * v) + " %" : fmt("%g", v)) << "</text>\n";
  }
  o << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << kRight - kLeft
    << "\" height=\"" << kBottom - kTop << "\" fill=\"none\" stroke=\"#808080\"/>\n"
    << "<text x=\"" << (kLeft + kRight) / 2 << "\" y=\"" << kBottom + 36
    << "\" text-anchor=\"middle\">" << escaped(chart.x_label) << "</text>\n"
    << "<text transform=\"translate(16 " << (kTop + kBottom) / 2
    << ") rotate(-90)\" text-anchor=\"middle\">" << escaped(chart.y_label) << "</text>\n";
  // Bands first, then the curves over them.
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const Series& s = chart.series[k];
    if (s.lo.size() != s.y.size() || s.hi.size() != s.y.size() || s.y.empty()) continue;
    for (const auto& [first, last] : finite_spans({&s.lo, &s.hi})) {
      // The lower edge, then the upper edge backwards: a closed polygon.
      std::vector<std::string> edge = step_points(a, s.lo, first, last);
      const std::vector<std::string> upper = step_points(a, s.hi, first, last);
      edge.insert(edge.end(), upper.rbegin(), upper.rend());
      o << "<polygon class=\"band\" points=\"" << joined(edge) << "\" fill=\"" << kColours[k % 8]
        << "\" fill-opacity=\"0.15\" stroke=\"none\"/>\n";
    }
  }
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const Series& s = chart.series[k];
    if (s.y.empty()) continue;
    for (const auto& [first, last] : finite_spans({&s.y})) {
      if (first == last) {  // one point: a polyline would draw nothing
        o << "<circle class=\"curve\" data-series=\"" << escaped(s.label) << "\" cx=\""
          << fmt("%.1f", a.x(static_cast<double>(first))) << "\" cy=\""
          << fmt("%.1f", a.y(s.y[first - 1])) << "\" r=\"3\" fill=\"" << kColours[k % 8]
          << "\"/>\n";
        continue;
      }
      o << "<polyline class=\"curve\" data-series=\"" << escaped(s.label) << "\" points=\""
        << joined(step_points(a, s.y, first, last)) << "\" fill=\"none\" stroke=\""
        << kColours[k % 8] << "\" stroke-width=\"2\"/>\n";
    }
    const double ly = kTop + 10 + 20 * static_cast<double>(k);
    o << "<line x1=\"" << kRight + 16 << "\" y1=\"" << ly << "\" x2=\"" << kRight + 40 << "\" y2=\""
      << ly << "\" stroke=\"" << kColours[k % 8] << "\" stroke-width=\"2\"/>\n"
      << "<text x=\"" << kRight + 46 << "\" y=\"" << ly << "\" dy=\"4\">" << escaped(s.label)
      << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace ml2::bench_plots
