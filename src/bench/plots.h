// The bench's pictures: convergence curves over the runs of a bench, as self-contained SVG files
// (no plotting library: a line chart is a few dozen lines of SVG, and the files open in any
// browser or Markdown viewer). The curves are computed here from the runs' histories, apart from
// the drawing, so that their numbers can be tested.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ml2::bench_plots {

// A run's best latency after each of trials 1..budget, from its summary's history (entries with
// "trial" and "latency_ms", null for a failure): NaN until its first successful trial.
std::vector<double> running_best(const nlohmann::json& history, int64_t budget);

// The share of runs that have reached a target by each of trials 1..budget, given the first
// trial at which each run reached it (0: never).
std::vector<double> share_reached(const std::vector<int64_t>& first_trials, int64_t budget);

// Per trial, the q-quantile (0..1, linear between order statistics) over the runs' curves, each
// of `budget` points. A NaN (nothing measured yet) ranks above every number; a quantile that
// falls among the NaNs, or between a NaN and a number, is NaN (not drawn).
std::vector<double> quantile_by_trial(const std::vector<std::vector<double>>& runs, double q);

struct Series {
  std::string label;
  std::vector<double> y;       // y[i] at trial i + 1; NaN: not drawn
  std::vector<double> lo, hi;  // an optional band (empty, or as long as y), drawn shaded
};

struct Chart {
  std::string title, x_label, y_label;
  double y_min = 0, y_max = 1;  // values outside are drawn at the edge
  bool y_percent = false;       // y tick labels as percentages of 1
  std::vector<Series> series;   // drawn as step curves over trials 1..y.size(), log x axis
};

// The chart as a standalone SVG document (720 x 420), a legend at the right.
std::string svg(const Chart& chart);

}  // namespace ml2::bench_plots
