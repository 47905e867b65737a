// Factories of the built-in model-based strategies; registered by name in strategy.cc.
#pragma once

#include <memory>

#include "ml2tuner/strategy.h"
#include "strategy/params.h"

namespace ml2 {

// AutoTVM's ε-greedy rule: position `pt` of a plan of `plan_len` points is replaced by a random
// unvisited configuration when it falls in the last int(epsilon * plan_size) positions (or past
// the plan's end).
bool xgb_takes_random(size_t pt, size_t plan_len, size_t plan_size, double epsilon);

// With a history (make_strategy has checked it), AutoTVM's transfer learning: see xgb.cc.
std::unique_ptr<Strategy> make_xgb_strategy(const Space& space, const Params& params, uint64_t seed,
                                            const std::vector<HistoryRecord>& history);
std::unique_ptr<Strategy> make_ga_strategy(const Space& space, const Params& params, uint64_t seed);
// `levels` names the ML²Tuner variant: "p", "pv", "pa" or "ml2". With a history, priors for
// ModelP and ModelV: see ml2.cc.
std::unique_ptr<Strategy> make_ml2_strategy(const Space& space, const Params& params, uint64_t seed,
                                            const std::string& levels,
                                            const std::vector<HistoryRecord>& history);

}  // namespace ml2
