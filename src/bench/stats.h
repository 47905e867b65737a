// Small statistics over a bench's runs, shared by bench.cc and compare.cc.
#pragma once

#include <cmath>
#include <vector>

namespace ml2::bench_stats {

inline double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

// The standard error of the mean: the sample standard deviation over sqrt(n); needs n >= 2.
inline double standard_error(const std::vector<double>& v) {
  const double m = mean(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  const double n = static_cast<double>(v.size());
  return std::sqrt(ss / (n - 1) / n);
}

}  // namespace ml2::bench_stats
