#include "bench/plots.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace ml2::bench_plots {
namespace {

using nlohmann::json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(BenchPlots, RunningBestIsNaNUntilTheFirstSuccessThenTheLowestSoFar) {
  const json history = json::parse(R"([
      {"trial": 1, "latency_ms": null}, {"trial": 3, "latency_ms": 2.0},
      {"trial": 2, "latency_ms": null}, {"trial": 4, "latency_ms": 3.0},
      {"trial": 5, "latency_ms": 1.5}, {"trial": 9, "latency_ms": 0.1}])");  // 9: past the budget
  const std::vector<double> best = running_best(history, 6);
  ASSERT_EQ(best.size(), 6u);
  EXPECT_TRUE(std::isnan(best[0]));
  EXPECT_TRUE(std::isnan(best[1]));
  EXPECT_EQ(best[2], 2.0);
  EXPECT_EQ(best[3], 2.0);
  EXPECT_EQ(best[4], 1.5);
  EXPECT_EQ(best[5], 1.5);
}

TEST(BenchPlots, RunningBestTakesTheLowerOfATrialListedTwiceAndSkipsEntriesWithoutALatency) {
  const json history = json::parse(R"([
      {"trial": 1, "latency_ms": 3.0}, {"trial": 1, "latency_ms": 2.0},
      {"trial": 2}, {"trial": 2, "latency_ms": 2.5}, {"latency_ms": 0.5}])");
  EXPECT_EQ(running_best(history, 2), (std::vector<double>{2.0, 2.0}));
  EXPECT_TRUE(running_best(history, 0).empty());
}

TEST(BenchPlots, ShareReachedCountsTheRunsThatGotThereByEachTrial) {
  EXPECT_EQ(share_reached({0, 3, 5, 5}, 6), (std::vector<double>{0, 0, 0.25, 0.25, 0.75, 0.75}));
  EXPECT_EQ(share_reached({}, 2), (std::vector<double>{0, 0}));
  EXPECT_EQ(share_reached({7}, 3), (std::vector<double>{0, 0, 0}));  // after the budget: never
}

TEST(BenchPlots, QuantilesRankNothingMeasuredAboveEveryNumber) {
  const std::vector<std::vector<double>> runs = {{1, 2}, {3, kNaN}, {2, 4}};
  const std::vector<double> median = quantile_by_trial(runs, 0.5);
  EXPECT_EQ(median, (std::vector<double>{2, 4}));
  EXPECT_DOUBLE_EQ(quantile_by_trial(runs, 0.75)[0], 2.5);    // halfway between 2 and 3
  EXPECT_TRUE(std::isnan(quantile_by_trial(runs, 0.75)[1]));  // between 4 and nothing yet
  EXPECT_TRUE(std::isnan(quantile_by_trial(runs, 1.0)[1]));
  EXPECT_EQ(quantile_by_trial(runs, 0.0), (std::vector<double>{1, 2}));
  EXPECT_TRUE(quantile_by_trial({}, 0.5).empty());
}

TEST(BenchPlots, SvgDrawsEachSpanOfACurveItsBandAndAnEscapedLegend) {
  Chart c{"a <title> & more", "trial", "ratio", 1, 2, false, {}};
  // Trial 1 at the left edge and the bottom (y_min); a gap at trial 3 splits the curve in two.
  c.series.push_back(
      {"ml2 <new>", {1, 1.5, kNaN, 2, 2}, {1, 1.2, kNaN, 1.5, 1.5}, {1, 2, kNaN, 2, 3}});
  c.series.push_back({"xgb", {2, 2, 1.5, 1.5, 1}, {}, {}});
  const std::string s = svg(c);
  EXPECT_EQ(s.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(s.find("</svg>\n"), std::string::npos);
  EXPECT_EQ(count(s, "<polyline class=\"curve\" data-series=\"ml2 &lt;new&gt;\""), 2u);
  EXPECT_EQ(count(s, "<polyline class=\"curve\" data-series=\"xgb\""), 1u);
  EXPECT_EQ(count(s, "<polygon class=\"band\""), 2u);
  EXPECT_NE(s.find("a &lt;title&gt; &amp; more"), std::string::npos);
  EXPECT_EQ(s.find("<title>"), std::string::npos);
  EXPECT_NE(s.find("points=\"64.0,364.0 "), std::string::npos);  // (trial 1, y_min)
  // xgb's curve: (1, 2) at the top-left, the step at trial 3 and at trial 5 (the right edge), drawn
  // at the top of the plot (y_max) down to the bottom.
  const std::string key = "data-series=\"xgb\" points=\"";
  const size_t from = s.find(key) + key.size();
  ASSERT_NE(s.find(key), std::string::npos);
  const std::string points = s.substr(from, s.find('"', from) - from);
  EXPECT_EQ(points.rfind("64.0,36.0 ", 0), 0u) << points;
  EXPECT_EQ(points.substr(points.size() - 11), "560.0,364.0") << points;
  // Values beyond the axis are drawn at its edge: nothing above the plot's top (y = 36).
  EXPECT_EQ(s.find(",-"), std::string::npos);
  // One tick label per power of ten times 1, 2, 5 up to the 5 trials: 1, 2, 5.
  EXPECT_NE(s.find(">5</text>"), std::string::npos);
  EXPECT_EQ(s.find(">10</text>"), std::string::npos);
}

TEST(BenchPlots, APointAloneIsDrawnAndNamesAreWellFormedXml) {
  // A curve of one trial (a budget of 1), or one finite trial between gaps, is a dot: a polyline
  // of one point draws nothing. A label with a control character or a byte that is not UTF-8
  // (task names come from file names) would make the document invalid XML.
  Chart c{"t\x01itle", "trial", "ratio", 1, 2, false, {}};
  c.series.push_back({"caf\xc3\xa9 \xff", {1.5}, {}, {}});
  c.series.push_back({"gaps", {kNaN, 1.2, kNaN, 1.4, 1.4}, {}, {}});
  const std::string s = svg(c);
  EXPECT_EQ(count(s, "<circle class=\"curve\" data-series=\"caf\xc3\xa9 ?\""), 1u) << s;
  EXPECT_EQ(count(s, "<circle class=\"curve\" data-series=\"gaps\""), 1u);
  EXPECT_EQ(count(s, "<polyline class=\"curve\" data-series=\"gaps\""), 1u);
  EXPECT_NE(s.find(">t?itle</text>"), std::string::npos);
  EXPECT_EQ(s.find('\x01'), std::string::npos);
  EXPECT_EQ(s.find('\xff'), std::string::npos);
}

TEST(BenchPlots, PercentTicksOnAShareAxis) {
  Chart c{"share", "trial", "runs", 0, 1, true, {{"xgb", {0, 0.5, 1}, {}, {}}}};
  const std::string s = svg(c);
  EXPECT_NE(s.find(">100 %</text>"), std::string::npos);
  EXPECT_NE(s.find(">0 %</text>"), std::string::npos);
}

}  // namespace
}  // namespace ml2::bench_plots
