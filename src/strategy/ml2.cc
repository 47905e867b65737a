// `ml2`: ML²Tuner (Cha et al., arXiv 2411.10764), and its ablations `p`, `pv`, `pa`.
//
// One round:
//   ask     (α+1)·N candidates to build: a revisit share of those built in earlier rounds but
//           never run (best first by the current models), a local share of the best-scored
//           untried one-knob neighbours of the best runs, and the rest from simulated annealing
//           over ModelP's scores (knob features); with ModelV (pv, ml2) those predicted invalid
//           (P(valid) below the threshold) are dropped. An exploration share of the proposals
//           goes to the rejected candidates the gate was least sure of, then to random ones, so
//           that the gate never seals a region off. Where the gate lets too few new candidates
//           through (late in a run it can reject nearly all that is left unknown), more of the
//           earlier candidates come before random ones, and once nothing new is left, they fill
//           the proposal (neither share takes a candidate whose program has run already). The
//           proposal is not committed: its configurations are only built (a failed build teaches
//           ModelV and costs no trial).
//   choose  among the candidates that built, a second validity check on knob + hidden features
//           (pv, ml2) drops predicted run failures; the rest are ranked by ModelA on knob + hidden
//           features (pa, ml2) or by ModelP (p, pv, and pa and ml2 where the builds reveal no
//           hidden features: ModelA would know only the knobs, and ModelP is the ensemble); the
//           best N run (an exploration share of them drawn at random from the others; with
//           exploration_draw=valid, pv and ml2 draw in proportion to the post-build check's
//           P(valid)). In pa and ml2 the run cutoff can end the round sooner: once a quarter of N
//           is picked, the first candidate ModelA predicts slower than run_cutoff x the best
//           latency ends the picks (the exploration share stays the same share of the shorter
//           round). The best is the lower of the best measured so far and the best ModelA
//           predicts among the round's runnable candidates (run_cutoff_reference=predicted; with
//           `measured`, the best measured alone). Such candidates would spend trials on what
//           ModelA already knows is worse; the next round's proposals come from models refit
//           sooner, and they stay built and unrun, so the revisit share can still return to
//           them. Only where ModelA ranks: where the builds reveal nothing, ModelP, which
//           proposed the candidates, ranks them, and cutting by it cost trials on the GPU spaces. A
//           candidate whose artifact is the same program as one already run, or one picked in the
//           same round (the digest the tuner takes of each artifact), is not run (dedup=program):
//           its measurement would repeat that one's. On VTA, changing the tile loop order often
//           leaves the program unchanged.
//   tell    every outcome is kept; the models are retrained: ModelP and ModelA on successful runs,
//           ModelV on every labelled outcome (build failures, run failures, successes), the
//           post-build check on the runs. Candidates built but never run stay unlabelled.
// Before ModelP has two successful runs, candidates are drawn at random; those that built are run
// by the target's compile-time estimate (the hidden feature `estimate`, lowest first) in pa and ml2
// where the prior is on, else in the order drawn.
// The prior (default on): where every successful build carries an `estimate` (the VTA target's
// busiest-module cycles), ModelA learns latency / estimate rather than latency, so that it only has
// to learn what the estimate misses (how well the modules overlap), and a round builds
// (alpha_prior + 1)·N candidates instead of (α + 1)·N (pa, ml2; default 1, the same as α): more
// candidates for a ModelA that ranks them well, traded against build time. A target without
// estimates (the recorded GPU spaces) leaves ModelA as it was, and α from the second round on
// (the first round cannot know yet). Where no build gives any hidden feature (Kernel Tuner's
// caches), ModelA could only rank by the knobs, as ModelP did when it proposed the candidates, so
// pa and ml2 build N per round from the second on: more builds would only cost build time. There
// N is n_without_hidden (at most n), from the first round's runs on: nothing ranks the builds but
// the model that proposed them, so shorter rounds cost no builds and refit ModelP sooner.
// ModelP may be a bagged ensemble (`ensemble` members, each on its own seed and a `subsample` of
// the rows per boosting round, predicting their mean): it proposes from a few dozen runs, where
// one booster's scores follow the noise of which rows it saw and the ensemble's mean ranks the
// configurations not yet tried more reliably.
// With a tuning history (StrategyOptions::history, other sessions of the same space), a prior for
// ModelP (a model of the same options learnt on the history's successful runs, throughput
// normalised by its best, as AutoTVM's base model) and, with ModelV, for ModelV (on its outcomes).
// They rank and gate from the first round on instead of random draws. Once the session's own
// models are trained, each score is w x the prior's + (1 - w) x the session's model's, with
// w = history_weight(labelled outcomes of this session) (AutoTVM's discount of its base model),
// until w reaches 0 and the priors are dropped. The scores are blended as logarithms of throughput
// (each model's normalisation, by the history's best or by the session's best so far, is then a
// constant): the prior's normalised throughput t enters as log(t), and so does ModelP's with the
// throughput label (-log(latency) already is one); a rank label's margins have no scale to match,
// and are blended as they are. The history's prior ranks the first round's builds only where they
// carry no compile-time estimate (pa, ml2 with the prior on): this device's estimate knows more of
// it. rmse_p stays the error of the session's own ModelP.
//
// metrics(): rmse_p and rmse_a, the RMSE of log(latency) predicted by ModelP and ModelA for
// configurations before they were run (the paper compares these); v_precision and v_recall of the
// pre-build validity gate (invalid is positive), measured on the random exploration candidates,
// which are built whatever the gate predicts (the gate's own choices would only show how often
// what it let through failed), wherever their validity became known: a build failure or a run;
// v_kind_accuracy, how often the failure kind ModelV predicted before the build (likely_failure)
// was the kind of failure a candidate then had, over the v_kind_failures built candidates that
// failed, and v_kind_majority, the share of the most common kind among them (what always
// predicting that kind would score).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "strategy/builtin.h"
#include "strategy/search.h"
#include "util/random.h"

namespace ml2 {
namespace {

struct Known {
  Stage stage = Stage::kBuild;
  Status status = Status::kOk;
  std::optional<double> latency_ms;
  HiddenFeatures hidden;
  std::string digest;  // of the artifact, where a build succeeded
  bool trial = false;
};

class Ml2Strategy final : public Strategy {
 public:
  Ml2Strategy(const Space& space, const Params& p, uint64_t seed, const std::string& levels,
              const std::vector<HistoryRecord>& history)
      : space_(space),
        levels_(levels),
        use_v_(levels == "pv" || levels == "ml2"),
        use_a_(levels == "pa" || levels == "ml2"),
        rng_(seed),
        n_(static_cast<size_t>(p.integer("n"))),
        n_without_hidden_(use_a_ && p.integer("n_without_hidden") > 0
                              ? std::min(n_, static_cast<size_t>(p.integer("n_without_hidden")))
                              : n_),
        alpha_(p.number("alpha")),
        alpha_prior_(use_a_ ? p.number("alpha_prior") : alpha_),
        threshold_(use_v_ ? p.number("validity_threshold") : 0.0),
        exploration_(p.number("exploration")),
        local_(p.number("local")),
        revisit_(p.number("revisit")),
        run_cutoff_(use_a_ ? p.number("run_cutoff") : 0.0),
        cutoff_predicted_(use_a_ && p.text("run_cutoff_reference") == "predicted"),
        threshold_build_(use_v_ ? p.number("validity_build_share") * threshold_ : 0.0),
        expected_(use_v_ && p.text("search") == "expected"),
        use_prior_(p.text("prior") == "estimate"),
        dedup_(p.text("dedup") == "program"),
        draw_valid_(use_v_ && p.text("exploration_draw") == "valid"),
        v_pairs_(use_v_ && p.text("validity_features") == "pairs"),
        knob_pairs_(space),
        annealer_(space,
                  {p.integer("sa_walkers"), p.integer("sa_iterations"), p.integer("sa_early_stop")},
                  seed ^ 0xa11ea1ULL) {
    model_options_.rounds = p.integer("rounds");
    auto_label_ = p.text("label") == "auto";
    model_options_.label =
        auto_label_ ? PerfLabel::kLogLatency : perf_label_from_string(p.text("label"));
    model_options_.seed = seed;
    ensemble_ = p.integer("ensemble");
    subsample_ = ensemble_ > 1 ? p.number("subsample") : 1.0;
    validity_options_.rounds = p.integer("rounds");
    validity_options_.seed = seed;
    reset_models();
    if (!history.empty()) learn_history(history);
  }

  std::string name() const override { return levels_; }

  Proposal ask(size_t left) override {
    Proposal out;
    out.committed = false;
    // A ModelA that learns relative to the estimate ranks well enough to pick among more builds
    // (and before anything is known, the estimate itself picks the first runs among them).
    // Where the builds reveal no hidden features, ModelA can only rank by the knobs, as ModelP
    // already did when it proposed them: building more than N then only costs build time.
    const bool blind = builds_reveal_nothing();
    const double alpha = prior_on() ? alpha_prior_ : blind ? 0.0 : alpha_;
    const size_t want = std::max<size_t>(
        1, static_cast<size_t>(
               std::llround((alpha + 1) * static_cast<double>(std::min(round_n(blind), left)))));
    std::unordered_set<uint64_t> exclude;
    for (const auto& [index, k] : known_) exclude.insert(index);
    if (!perf_on()) {
      out.configs = random_unknown(want, exclude);
      return out;
    }
    const size_t explore =
        static_cast<size_t>(std::llround(exploration_ * static_cast<double>(want)));
    // Search wider than needed so that the validity gate has candidates to spare. With ModelV
    // the search itself prefers likely-valid points: by default ("gated") it walks ModelP's
    // scores where P(valid) passes the threshold and pushes the rest to the bottom; "expected"
    // walks P(valid) x score (throughput label only), which also discounts valid regions next
    // to failures.
    auto search_score = [this](const std::vector<uint64_t>& pts) {
      const FeatureMatrix f = knob_features(space_, pts);
      std::vector<double> score = perf_score(f);
      if (!v_on()) return score;
      const auto [p_valid, threshold] = gate_rows(f);
      for (size_t i = 0; i < score.size(); ++i) {
        if (expected_ && model_options_.label == PerfLabel::kThroughput) {
          score[i] *= p_valid[i];
        } else if (p_valid[i] < threshold[i]) {
          score[i] -= 1e6;
        }
      }
      return score;
    };
    std::vector<uint64_t> kept, rejected;
    // Candidates built in earlier rounds but never run, best first by the current models: the
    // best of them are built again and compete with the new ones.
    const std::vector<uint64_t> reservoir = reservoir_ranked();
    size_t reused =
        std::min({reservoir.size(), want - explore,
                  static_cast<size_t>(std::llround(revisit_ * static_cast<double>(want)))});
    kept.assign(reservoir.begin(), reservoir.begin() + static_cast<ptrdiff_t>(reused));
    // Refinement: the best-scored unknown neighbours of the best configurations run so far.
    const size_t local =
        std::min(want - explore - kept.size(),
                 static_cast<size_t>(std::llround(local_ * static_cast<double>(want))));
    for (uint64_t x : local_candidates(local, exclude, search_score)) {
      exclude.insert(x);
      kept.push_back(x);
    }
    std::vector<uint64_t> pool =
        annealer_.find_maximums(search_score, use_v_ ? 4 * want : want, exclude);
    std::unordered_map<uint64_t, double> p_gate;  // P(valid) the gate gave each candidate
    auto gate = [&](const std::vector<uint64_t>& candidates) {
      const auto [p_valid, threshold] =
          use_v_ && !candidates.empty() ? gate_unbuilt(candidates) : open_gate(candidates);
      for (size_t i = 0; i < candidates.size(); ++i) {
        exclude.insert(candidates[i]);
        p_gate[candidates[i]] = p_valid[i];
        (p_valid[i] >= threshold[i] ? kept : rejected).push_back(candidates[i]);
      }
    };
    gate(pool);
    // Too few that the gate lets through: random candidates that it does let through.
    for (int tries = 0; use_v_ && kept.size() < want - explore && tries < 8; ++tries) {
      gate(random_unknown(4 * want, exclude));
    }
    if (kept.size() > want - explore) kept.resize(want - explore);
    // Still too few (late in a run, the gate can reject nearly all that is left unknown): the best
    // of the earlier candidates, built but never run, before random ones, which would then fill
    // whole rounds and mostly fail to build.
    while (kept.size() < want - explore && reused < reservoir.size()) {
      kept.push_back(reservoir[reused++]);
    }
    out.configs = kept;
    // Exploration: the rejected candidates the gate was least sure of, then random ones.
    std::stable_sort(rejected.begin(), rejected.end(),
                     [&](uint64_t a, uint64_t b) { return p_gate[a] > p_gate[b]; });
    for (size_t i = 0; i < rejected.size() && i < explore && out.configs.size() < want; ++i) {
      out.configs.push_back(rejected[i]);
    }
    // The random ones are built whatever the gate thinks of them: an unbiased sample on which to
    // measure it (metrics()).
    const std::vector<uint64_t> probes = random_unknown(want - out.configs.size(), exclude);
    if (v_on() && !probes.empty()) {
      const auto [p_valid, threshold] = gate_unbuilt(probes);
      for (size_t i = 0; i < probes.size(); ++i) probe_[probes[i]] = p_valid[i] < threshold[i];
    }
    out.configs.insert(out.configs.end(), probes.begin(), probes.end());
    // Nothing new left to try (a small space): more of the earlier candidates.
    while (out.configs.size() < want && reused < reservoir.size()) {
      out.configs.push_back(reservoir[reused++]);
    }
    // How each candidate would fail, if it fails: scored against the failures that happen.
    remember_kinds(out.configs);
    return out;
  }

  std::vector<size_t> choose(std::span<const Outcome> built, size_t left) override {
    const size_t n_run = std::min(round_n(reveals_nothing_with(built)), left);
    std::vector<size_t> candidates(built.size());
    std::iota(candidates.begin(), candidates.end(), 0);
    if (built.empty() || n_run == 0) return {};
    const Batch b = batch_of(built);
    const auto& [indices, hidden, knob, full, base] = b;
    // The post-build validity check; what it drops can still be drawn for exploration below.
    std::vector<double> p2(built.size(), 1.0);
    if (use_v_ && v_hidden_.trained()) p2 = v_hidden_.p_valid(full);
    // Rank by ModelA (pa, ml2) or ModelP; untrained: by the prior (ModelA's tuners), else the
    // search order.
    std::vector<double> score(built.size(), 0.0);
    // Where the builds reveal nothing, ModelA knows no more than the knobs, and ModelP (the
    // ensemble) ranks them better. ModelA's latencies serve the run cutoff; ModelP's do not:
    // it proposed these candidates, and cutting by it cost trials on the GPU spaces.
    const bool cut_on = run_cutoff_ > 0 && model_options_.label != PerfLabel::kRank;
    std::vector<double> predicted_ms;
    if (use_a_ && a_.trained() && !builds_reveal_nothing()) {
      score = a_.score(full, base);
      if (cut_on) predicted_ms = a_.predict_latency_ms(full, base);
    } else if (p_.trained()) {
      score = perf_score(knob);
    } else if (use_a_ && prior_on() && std::any_of(hidden.begin(), hidden.end(), has_estimate)) {
      const std::vector<double> e = estimates(hidden);
      for (size_t i = 0; i < built.size(); ++i) score[i] = -std::log(e[i]);
    } else if (perf_on()) {
      score = perf_score(knob);  // the history's prior
    }
    // A candidate that compiled to a program already run, or to one picked in this round, would
    // only repeat that measurement.
    std::vector<size_t> picks;
    std::unordered_set<std::string> picked_programs;
    auto repeats = [&](size_t i) {
      const std::string& d = built[i].artifact_digest;
      return program_ran(d) || (dedup_ && picked_programs.count(d));
    };
    auto pick = [&](size_t i) {
      picks.push_back(i);
      if (!built[i].artifact_digest.empty()) picked_programs.insert(built[i].artifact_digest);
    };
    const size_t explore =
        static_cast<size_t>(std::llround(exploration_ * static_cast<double>(n_run)));
    // The run cutoff: once a quarter of N is picked, a candidate predicted slower than
    // run_cutoff x the best latency ends the round's picks (see the top). With
    // run_cutoff_reference=predicted (the default), the best is the lower of the best measured
    // and the best predicted among the candidates that could run: early on, when ModelA expects
    // large gains over a poor best, the round then stops after the most promising ones and their
    // measurements reach the models sooner.
    // Runnable: passes the post-build check and repeats no program.
    auto runnable = [&](size_t i) { return p2[i] >= threshold_ && !repeats(i); };
    double best_ms = best_run_ms();
    if (cutoff_predicted_) {
      for (size_t i = 0; i < predicted_ms.size(); ++i) {
        if (runnable(i)) best_ms = std::min(best_ms, predicted_ms[i]);
      }
    }
    const double cutoff_ms = predicted_ms.empty() ? 0.0 : run_cutoff_ * best_ms;
    const size_t at_least = std::max<size_t>(1, n_run / 4);
    size_t to_run = n_run;
    for (size_t i : best_first(score)) {
      if (picks.size() >= n_run - std::min(explore, n_run)) break;
      if (cutoff_ms > 0 && picks.size() >= at_least && predicted_ms[i] > cutoff_ms) {
        // The exploration share stays the same share of a shorter round.
        to_run =
            std::min(n_run, picks.size() + static_cast<size_t>(std::llround(
                                               exploration_ * static_cast<double>(picks.size()) /
                                               std::max(1e-9, 1.0 - exploration_))));
        break;
      }
      if (runnable(i)) pick(i);
    }
    std::vector<size_t> rest;
    for (size_t i : candidates) {
      if (std::find(picks.begin(), picks.end(), i) == picks.end()) rest.push_back(i);
    }
    // The exploration picks: uniformly at random, or (exploration_draw=valid) in proportion to
    // the post-build check's P(valid) where it tells the candidates apart; with equal weights,
    // the uniform draws. Where failures happen at run time, a uniform draw among what the ranking
    // left spends trials on failures the check foresaw; the weights keep every candidate
    // reachable.
    auto draw = [&]() -> size_t {
      if (draw_valid_) {
        double total = 0;
        bool equal = true;
        for (size_t i : rest) {
          total += p2[i];
          equal = equal && p2[i] == p2[rest.front()];
        }
        if (!equal && total > 0) {
          double u = uniform01(rng_) * total;
          for (size_t r = 0; r < rest.size(); ++r) {
            u -= p2[rest[r]];
            if (u < 0) return r;
          }
          return rest.size() - 1;
        }
      }
      return uniform_below(rng_, rest.size());
    };
    while (picks.size() < to_run && !rest.empty()) {
      const size_t r = draw();
      const size_t i = rest[r];
      rest.erase(rest.begin() + static_cast<ptrdiff_t>(r));
      if (!repeats(i)) pick(i);
    }
    // Predictions made before the runs, for the models' error on unseen configurations.
    record_predictions(picks, b);
    return picks;
  }

  void tell(std::span<const Outcome> outcomes) override {
    for (const Outcome& o : outcomes) {
      Known& k = known_[o.index];
      k.stage = o.stage;
      k.status = o.status;
      k.latency_ms = o.latency_ms;
      k.trial = o.trial;
      if (o.hidden) k.hidden = *o.hidden;
      if (!o.artifact_digest.empty()) k.digest = o.artifact_digest;
      if (o.trial && o.stage == Stage::kRun && !k.digest.empty()) {
        ran_programs_.insert(k.digest);
      }
      if (o.stage == Stage::kRun || o.status == Status::kOk) {  // the build succeeded
        built_ok_ = true;
        (has_estimate(o.hidden) ? seen_estimate_ : missing_estimate_) = true;
      }
      score_prediction(o);
    }
    retrain();
  }

  // On resume, for a stored round the session could not replay, with the models as they were when
  // the round was asked for (retrained round by round): what they predicted for its trials, and
  // the failure kind ModelV gave each of its candidates. Which candidates were the gate's random
  // probes is not stored, so ModelV's precision and recall cover the replayed rounds and the
  // rounds this session runs, not these.
  void recall_round(std::span<const Outcome> outcomes) override {
    std::vector<Outcome> trials;
    std::copy_if(outcomes.begin(), outcomes.end(), std::back_inserter(trials),
                 [](const Outcome& o) { return o.trial; });
    if (!trials.empty()) {
      std::vector<size_t> all(trials.size());
      std::iota(all.begin(), all.end(), 0);
      record_predictions(all, batch_of(trials));
    }
    std::vector<uint64_t> idx;
    for (const Outcome& o : outcomes) idx.push_back(o.index);
    remember_kinds(idx);
  }

  std::map<std::string, double> metrics() const override {
    std::map<std::string, double> m;
    auto rmse_of = [](const std::vector<double>& sq) {
      if (sq.empty()) return std::nan("");
      return std::sqrt(std::accumulate(sq.begin(), sq.end(), 0.0) / static_cast<double>(sq.size()));
    };
    m["rmse_p"] = rmse_of(sq_p_);
    m["rmse_a"] = rmse_of(sq_a_);
    m["rmse_samples"] = static_cast<double>(sq_p_.size());
    m["v_precision"] =
        tp_ + fp_ ? static_cast<double>(tp_) / static_cast<double>(tp_ + fp_) : std::nan("");
    m["v_recall"] =
        tp_ + fn_ ? static_cast<double>(tp_) / static_cast<double>(tp_ + fn_) : std::nan("");
    // The failure kind predicted before the build, on the candidates that failed; against the
    // share of the most common kind among them (what always answering that kind would score).
    if (kind_scored_ > 0) {
      int64_t most = 0;
      for (const auto& [status, count] : kind_seen_) most = std::max(most, count);
      m["v_kind_accuracy"] = static_cast<double>(kind_hits_) / static_cast<double>(kind_scored_);
      m["v_kind_majority"] = static_cast<double>(most) / static_cast<double>(kind_scored_);
      m["v_kind_failures"] = static_cast<double>(kind_scored_);
    }
    return m;
  }

 private:
  void reset_models() {
    p_ = PerformanceModel(p_model_options());
    a_ = PerformanceModel(model_options_);
    v_ = ValidityModel(validity_options_);
    v_hidden_ = ValidityModel(validity_options_);
  }

  // ModelP, or its prior, ranks.
  bool perf_on() const { return p_.trained() || hist_p_; }
  // ModelV, or its prior, gates (pv, ml2).
  bool v_on() const { return use_v_ && (v_.trained() || hist_v_); }

  // ModelP's scores, blended with its prior's while the prior weighs (see the top).
  std::vector<double> perf_score(const FeatureMatrix& knob) const {
    if (!hist_p_) return p_.score(knob);
    std::vector<double> blend = hist_p_->score(knob);  // a normalised throughput
    const PerfLabel label = model_options_.label;
    auto log_of = [](double t) { return std::log(std::max(t, kMinNormalisedThroughput)); };
    // Normalised throughputs as logarithms: the history's best and the session's best so far
    // then only shift each score by a constant, and the weights hold as given.
    if (label != PerfLabel::kRank) {
      for (double& v : blend) v = log_of(v);
    }
    if (p_.trained()) {
      std::vector<double> own = p_.score(knob);
      if (label == PerfLabel::kThroughput) {
        for (double& v : own) v = log_of(v);
      }
      for (size_t i = 0; i < blend.size(); ++i) {
        blend[i] = hist_w_ * blend[i] + (1 - hist_w_) * own[i];
      }
    }
    // Back to a throughput for that label: positive, as search=expected's P(valid) x score needs.
    if (label == PerfLabel::kThroughput) {
      for (double& v : blend) v = std::exp(v);
    }
    return blend;
  }

  // ModelV's P(valid) on rows as it sees them, blended with its prior's likewise.
  std::vector<double> v_p_valid(const FeatureMatrix& x) const {
    if (!hist_v_) return v_.p_valid(x);
    std::vector<double> prior = hist_v_->p_valid(x);
    if (!v_.trained()) return prior;
    const std::vector<double> own = v_.p_valid(x);
    for (size_t i = 0; i < prior.size(); ++i) {
      prior[i] = hist_w_ * prior[i] + (1 - hist_w_) * own[i];
    }
    return prior;
  }

  // ModelP's options: ModelA's plus the ensemble (see the top). ModelA stays one booster: bagging
  // it too changed nothing measurable (0.204 against 0.195 on the development shapes).
  ModelOptions p_model_options() const {
    ModelOptions o = model_options_;
    o.ensemble = ensemble_;
    o.subsample = subsample_;
    return o;
  }

  // ModelV's failure kind for each candidate, before its build, to score against its outcome
  // (nothing without a trained ModelV).
  void remember_kinds(const std::vector<uint64_t>& candidates) {
    if (!use_v_ || !v_.trained() || candidates.empty()) return;
    const std::vector<std::optional<Status>> kind =
        likely_failure_unbuilt(knob_features(space_, candidates));
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (kind[i]) predicted_kind_[candidates[i]] = *kind[i];
    }
  }

  // Positions of `score`, highest first (ties in order).
  static std::vector<size_t> best_first(const std::vector<double>& score) {
    std::vector<size_t> order(score.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return score[a] > score[b]; });
    return order;
  }

  // The candidates that built but never ran, best first: by ModelA on knob + hidden features
  // (pa, ml2), else by ModelP; those the post-build check predicts to fail run last.
  std::vector<uint64_t> reservoir_ranked() const {
    std::vector<uint64_t> idx;
    std::vector<const HiddenFeatures*> hidden;
    for (const auto& [index, k] : known_) {
      if (k.stage == Stage::kBuild && k.status == Status::kOk && !k.trial &&
          !program_ran(k.digest)) {
        idx.push_back(index);
        hidden.push_back(&k.hidden);
      }
    }
    if (idx.empty()) return idx;
    const FeatureMatrix knob = knob_features(space_, idx);
    const FeatureMatrix full = with_hidden(knob, hidden);
    std::vector<double> score =
        use_a_ && a_.trained() ? a_.score(full, baselines(hidden)) : perf_score(knob);
    if (use_v_ && v_hidden_.trained()) {
      const std::vector<double> p2 = v_hidden_.p_valid(full);
      for (size_t i = 0; i < idx.size(); ++i) {
        if (p2[i] < threshold_) score[i] -= 1e6;
      }
    }
    std::vector<uint64_t> out;
    for (size_t i : best_first(score)) out.push_back(idx[i]);
    return out;
  }

  // Up to `count` unknown one-knob neighbours of the best configurations run so far, the best
  // scored first; with ModelV only those that pass the gate.
  std::vector<uint64_t> local_candidates(size_t count, const std::unordered_set<uint64_t>& exclude,
                                         const BatchScore& score) {
    if (count == 0) return {};
    std::vector<std::pair<double, uint64_t>> best;
    for (const auto& [index, k] : known_) {
      if (k.stage == Stage::kRun && k.status == Status::kOk && k.latency_ms) {
        best.push_back({*k.latency_ms, index});
      }
    }
    std::sort(best.begin(), best.end());
    std::vector<uint64_t> near;
    std::unordered_set<uint64_t> seen;
    for (size_t b = 0; b < best.size() && near.size() < 4 * count; ++b) {
      for (uint64_t x : space_.neighbours(best[b].second)) {
        if (!exclude.count(x) && seen.insert(x).second) near.push_back(x);
      }
    }
    if (near.empty()) return {};
    const std::vector<double> s = score(near);
    const auto [p_valid, threshold] = v_on() ? gate_unbuilt(near) : open_gate(near);
    std::vector<uint64_t> out;
    for (size_t i : best_first(s)) {
      if (out.size() == count) break;
      if (p_valid[i] >= threshold[i]) out.push_back(near[i]);
    }
    return out;
  }

  std::vector<uint64_t> random_unknown(size_t count, const std::unordered_set<uint64_t>& exclude) {
    std::vector<uint64_t> out;
    std::unordered_set<uint64_t> taken;
    const uint64_t free = space_.size() > exclude.size() ? space_.size() - exclude.size() : 0;
    count = static_cast<size_t>(std::min<uint64_t>(count, free));
    while (out.size() < count) {
      const uint64_t x = space_.sample(rng_);
      if (!exclude.count(x) && taken.insert(x).second) out.push_back(x);
    }
    return out;
  }

  // With dedup: a trial has run the program with this artifact digest (empty: no artifact).
  bool program_ran(const std::string& digest) const {
    return dedup_ && !digest.empty() && ran_programs_.count(digest);
  }

  // Calls f with the rows as ModelV sees them: the knob features, and with
  // validity_features=pairs their knob pairs too (extended once, only then).
  template <class F>
  auto as_v_sees(const FeatureMatrix& knob, F f) const {
    return v_pairs_ ? f(knob_pairs_.extend(knob)) : f(knob);
  }

  // The priors from a tuning history (see the top); untrained where the history has too few
  // successful runs (ModelP) or only one class of outcome (ModelV).
  void learn_history(const std::vector<HistoryRecord>& history) {
    std::vector<uint64_t> ok_idx, all_idx;
    std::vector<double> ok_lat;
    std::vector<Status> all_status;
    for (const HistoryRecord& r : history) {
      all_idx.push_back(r.index);
      all_status.push_back(r.status);
      if (r.status == Status::kOk && r.latency_ms) {
        ok_idx.push_back(r.index);
        ok_lat.push_back(*r.latency_ms);
      }
    }
    ModelOptions o = p_model_options();
    o.label = PerfLabel::kThroughput;
    o.seed ^= 0x4157ULL;
    hist_p_ = PerformanceModel(o);
    hist_p_->fit(knob_features(space_, ok_idx), ok_lat);
    if (!hist_p_->trained()) hist_p_.reset();
    if (use_v_) {
      ValidityOptions vo = validity_options_;
      vo.seed ^= 0x4157ULL;
      hist_v_ = ValidityModel(vo);
      as_v_sees(knob_features(space_, all_idx),
                [&](const FeatureMatrix& x) { hist_v_->fit(x, all_status); });
      if (!hist_v_->trained()) hist_v_.reset();
    }
  }

  // The pre-build gate on knob feature rows: ModelV's P(valid) and the threshold each row must
  // pass, threshold_build_ where ModelV expects the failure, if any, to be a build failure (which
  // costs build time but no trial; by default half of threshold_), else threshold_ (with
  // validity_build_share=1 they are the same and no kind is predicted).
  std::pair<std::vector<double>, std::vector<double>> gate_rows(const FeatureMatrix& knob) const {
    return as_v_sees(knob, [&](const FeatureMatrix& x) {
      std::vector<double> threshold(knob.rows, threshold_);
      if (threshold_build_ != threshold_) {
        const std::vector<std::optional<Status>> kind = v_.likely_failure(x);
        for (size_t i = 0; i < threshold.size(); ++i) {
          if (kind[i] && (*kind[i] == Status::kCompileError || *kind[i] == Status::kBuildTimeout)) {
            threshold[i] = threshold_build_;
          }
        }
      }
      return std::make_pair(v_p_valid(x), std::move(threshold));
    });
  }
  std::pair<std::vector<double>, std::vector<double>> gate_unbuilt(
      const std::vector<uint64_t>& configs) const {
    return gate_rows(knob_features(space_, configs));
  }
  // No gate: every candidate passes.
  static std::pair<std::vector<double>, std::vector<double>> open_gate(
      const std::vector<uint64_t>& configs) {
    return {std::vector<double>(configs.size(), 1.0), std::vector<double>(configs.size(), 0.0)};
  }

  // ModelV's most likely failure kind before the build (as gate_rows sees the rows).
  std::vector<std::optional<Status>> likely_failure_unbuilt(const FeatureMatrix& knob) const {
    return as_v_sees(knob, [&](const FeatureMatrix& x) { return v_.likely_failure(x); });
  }

  // The lowest latency a trial has measured so far (infinity before any).
  double best_run_ms() const {
    double best = std::numeric_limits<double>::infinity();
    for (const auto& [index, k] : known_) {
      if (k.trial && k.latency_ms) best = std::min(best, *k.latency_ms);
    }
    return best;
  }

  // pa and ml2 after successful builds none of which gave a hidden feature.
  bool builds_reveal_nothing() const { return reveals_nothing_with({}); }

  // The same, counting a round's successful builds that have not been told yet: the first round
  // already runs n_without_hidden where its builds reveal nothing.
  bool reveals_nothing_with(std::span<const Outcome> built) const {
    if (!use_a_ || !hidden_names_.empty()) return false;
    for (const Outcome& o : built) {
      if (o.hidden && !o.hidden->empty()) return false;
    }
    return built_ok_ || !built.empty();
  }

  // N for a round: n_without_hidden where the builds reveal nothing (pa, ml2), else n.
  size_t round_n(bool reveal_nothing) const { return reveal_nothing ? n_without_hidden_ : n_; }

  // The prior is on and no successful build so far lacked an estimate.
  bool prior_on() const { return use_prior_ && !missing_estimate_; }

  static double estimate_of(const HiddenFeatures* h) {
    if (!h) return std::nan("");
    auto it = h->find("estimate");
    return it == h->end() ? std::nan("") : it->second;
  }
  // A usable estimate: positive and finite.
  static bool has_estimate(const HiddenFeatures* h) {
    const double e = estimate_of(h);
    return e > 0 && std::isfinite(e);
  }

  // The compile-time estimate of each row; a row without one (a target that gives none, which
  // turns the prior off at the next refit) gets the geometric mean of the others, or 1.
  static std::vector<double> estimates(const std::vector<const HiddenFeatures*>& hidden) {
    std::vector<double> out;
    double log_sum = 0;
    size_t n = 0;
    for (const HiddenFeatures* h : hidden) {
      const double e = estimate_of(h);
      const bool ok = has_estimate(h);
      out.push_back(ok ? e : std::nan(""));
      if (ok) log_sum += std::log(e), ++n;
    }
    const double fill = n ? std::exp(log_sum / static_cast<double>(n)) : 1.0;
    for (double& e : out) {
      if (std::isnan(e)) e = fill;
    }
    return out;
  }

  // ModelA's baseline per row: the compile-time estimate, when the prior is on and every build
  // that succeeded so far carried one; otherwise none (empty). Fixed between refits, so that
  // ModelA is always asked as it was fitted.
  std::vector<double> baselines(const std::vector<const HiddenFeatures*>& hidden) const {
    if (!a_with_prior_) return {};
    return estimates(hidden);
  }

  // Knob features followed by the hidden features seen so far (NaN where absent).
  FeatureMatrix with_hidden(const FeatureMatrix& knob,
                            const std::vector<const HiddenFeatures*>& hidden) const {
    FeatureMatrix m(knob.rows, knob.cols + hidden_names_.size());
    for (size_t r = 0; r < knob.rows; ++r) {
      std::copy(knob.row(r), knob.row(r) + knob.cols, m.row(r));
      for (size_t h = 0; h < hidden_names_.size(); ++h) {
        float v = std::nanf("");
        if (hidden[r]) {
          auto it = hidden[r]->find(hidden_names_[h]);
          // A value beyond float's range (a target's or a recording's) would reach XGBoost as an
          // infinity, which it refuses: the largest float keeps its order.
          if (it != hidden[r]->end() && !std::isnan(it->second)) {
            v = static_cast<float>(std::clamp(it->second,
                                              -double{std::numeric_limits<float>::max()},
                                              double{std::numeric_limits<float>::max()}));
          }
        }
        m.row(r)[knob.cols + h] = v;
      }
    }
    return m;
  }

  // Built configurations as the models see them: ModelP's knob features, ModelA's knob + hidden
  // features and its baseline per row.
  struct Batch {
    std::vector<uint64_t> indices;
    std::vector<const HiddenFeatures*> hidden;
    FeatureMatrix knob, full;
    std::vector<double> base;
  };

  Batch batch_of(std::span<const Outcome> built) const {
    Batch b;
    for (const Outcome& o : built) {
      b.indices.push_back(o.index);
      b.hidden.push_back(o.hidden);
    }
    b.knob = knob_features(space_, b.indices);
    b.full = with_hidden(b.knob, b.hidden);
    b.base = baselines(b.hidden);
    return b;
  }

  // What ModelP and ModelA predict for the rows `picks` of `b`, kept until they have run.
  void record_predictions(const std::vector<size_t>& picks, const Batch& b) {
    if (model_options_.label == PerfLabel::kRank) return;  // a rank predicts no latency
    const std::vector<double> lp =
        p_.trained() ? p_.predict_latency_ms(b.knob) : std::vector<double>();
    const std::vector<double> la =
        a_.trained() ? a_.predict_latency_ms(b.full, b.base) : std::vector<double>();
    for (size_t i : picks) {
      if (!lp.empty()) predicted_p_[b.indices[i]] = lp[i];
      if (!la.empty()) predicted_a_[b.indices[i]] = la[i];
    }
  }

  void score_prediction(const Outcome& o) {
    // The pre-build gate on the random exploration candidates: invalid is the positive class;
    // only known outcomes count (a build failure, or a run).
    if (auto g = probe_.find(o.index);
        g != probe_.end() && (o.stage == Stage::kRun || o.status != Status::kOk)) {
      const bool predicted_invalid = g->second;
      const bool invalid = o.status != Status::kOk;
      tp_ += predicted_invalid && invalid;
      fp_ += predicted_invalid && !invalid;
      fn_ += !predicted_invalid && invalid;
      probe_.erase(g);
    }
    if (auto k = predicted_kind_.find(o.index);
        k != predicted_kind_.end() && (o.stage == Stage::kRun || o.status != Status::kOk)) {
      if (o.status != Status::kOk) {
        ++kind_scored_;
        kind_hits_ += k->second == o.status;
        ++kind_seen_[o.status];
      }
      predicted_kind_.erase(k);
    }
    if (o.stage != Stage::kRun || o.status != Status::kOk || !o.latency_ms) return;
    const double actual = std::log(*o.latency_ms);
    // Both errors are measured on the same configurations, so the two RMSEs compare.
    auto p = predicted_p_.find(o.index), a = predicted_a_.find(o.index);
    if (p != predicted_p_.end() && a != predicted_a_.end()) {
      sq_p_.push_back(std::pow(std::log(std::max(p->second, 1e-12)) - actual, 2));
      sq_a_.push_back(std::pow(std::log(std::max(a->second, 1e-12)) - actual, 2));
    }
    predicted_p_.erase(o.index);
    predicted_a_.erase(o.index);
  }

  void retrain() {
    // The hidden-feature columns: every name seen so far, sorted.
    std::set<std::string> names;
    for (const auto& [index, k] : known_) {
      for (const auto& [name, v] : k.hidden) names.insert(name);
    }
    hidden_names_.assign(names.begin(), names.end());

    std::vector<uint64_t> ok_idx, labelled_idx, run_idx;
    std::vector<double> ok_lat;
    std::vector<Status> labelled_status, run_status;
    std::vector<const HiddenFeatures*> ok_hidden, run_hidden;
    for (const auto& [index, k] : known_) {
      const bool ran = k.stage == Stage::kRun;
      const bool build_failed = k.stage == Stage::kBuild && k.status != Status::kOk;
      if (!ran && !build_failed) continue;  // built, never run: validity unknown
      labelled_idx.push_back(index);
      labelled_status.push_back(k.status);
      if (!ran) continue;
      run_idx.push_back(index);
      run_status.push_back(k.status);
      run_hidden.push_back(&k.hidden);
      if (k.status == Status::kOk && k.latency_ms) {
        ok_idx.push_back(index);
        ok_lat.push_back(*k.latency_ms);
        ok_hidden.push_back(&k.hidden);
      }
    }
    hist_w_ = history_weight(labelled_idx.size());
    if (hist_w_ == 0) hist_p_.reset(), hist_v_.reset();
    a_with_prior_ = prior_on() && seen_estimate_;
    if (auto_label_) {
      // auto: -log(latency) where the models learn relative to the target's estimate (a ratio,
      // well-behaved in log space), else throughput normalised by the best, which spends the
      // models' capacity on the fast configurations, as AutoTVM's does.
      const PerfLabel label = a_with_prior_ ? PerfLabel::kLogLatency : PerfLabel::kThroughput;
      if (label != model_options_.label) {
        model_options_.label = label;
        p_ = PerformanceModel(p_model_options());
        a_ = PerformanceModel(model_options_);
      }
    }
    // Sorted by index so that the same history gives the same models.
    const FeatureMatrix ok_knob = knob_features(space_, ok_idx);
    p_.fit(ok_knob, ok_lat);
    // ModelA is trained in every variant so that its error can be compared with ModelP's on the
    // same configurations; only pa and ml2 rank by it.
    a_.fit(with_hidden(ok_knob, ok_hidden), ok_lat, baselines(ok_hidden));
    if (use_v_) {
      const FeatureMatrix labelled = knob_features(space_, labelled_idx);
      as_v_sees(labelled, [&](const FeatureMatrix& x) { v_.fit(x, labelled_status); });
      v_hidden_.fit(with_hidden(knob_features(space_, run_idx), run_hidden), run_status);
    }
  }

  const Space& space_;
  std::string levels_;
  bool use_v_, use_a_;
  std::mt19937_64 rng_;
  size_t n_;
  size_t n_without_hidden_;  // N where the builds reveal no hidden features (pa, ml2), <= n_
  double alpha_, alpha_prior_, threshold_, exploration_, local_, revisit_;
  double run_cutoff_;       // 0, or run only candidates predicted within this factor of the best
  bool cutoff_predicted_;   // the cutoff's best is also the best predicted among the runnable
  double threshold_build_;  // the threshold where ModelV expects a failure to be a build failure
  bool expected_;           // the search walks P(valid) x ModelP (else ModelP above the threshold)
  bool use_prior_;          // ModelA learns latency relative to the hidden feature `estimate`
  bool dedup_;              // a program already run is not run again for another configuration
  bool draw_valid_;  // exploration runs drawn in proportion to the post-build check's P(valid)
  bool v_pairs_;     // ModelV sees the knob pairs (validity_features=pairs)
  KnobPairs knob_pairs_;
  bool auto_label_;  // the label follows the prior: log-latency with it, throughput without
  bool seen_estimate_ = false, missing_estimate_ = false;  // over the builds that succeeded
  bool built_ok_ = false;                                  // some build succeeded
  bool a_with_prior_ = false;  // ModelA was last fitted relative to the estimate
  Annealer annealer_;
  ModelOptions model_options_;
  int ensemble_ = 1;        // members of ModelP's ensemble
  double subsample_ = 1.0;  // rows each member's boosting round sees
  ValidityOptions validity_options_;
  PerformanceModel p_, a_;
  ValidityModel v_, v_hidden_;
  // From a tuning history; reset once their weight reaches 0.
  std::optional<PerformanceModel> hist_p_;
  std::optional<ValidityModel> hist_v_;
  double hist_w_ = 1;  // the priors' weight (history_weight)
  std::map<uint64_t, Known> known_;
  std::unordered_set<std::string> ran_programs_;  // digests of the programs trials ran
  std::vector<std::string> hidden_names_;
  std::unordered_map<uint64_t, bool> probe_;  // the gate would have rejected a random candidate
  std::unordered_map<uint64_t, double> predicted_p_, predicted_a_;
  std::vector<double> sq_p_, sq_a_;
  int64_t tp_ = 0, fp_ = 0, fn_ = 0;
  std::unordered_map<uint64_t, Status> predicted_kind_;  // ModelV's failure kind, before the build
  int64_t kind_scored_ = 0, kind_hits_ = 0;              // failures it was predicted for; right
  std::map<Status, int64_t> kind_seen_;                  // those failures by kind
};

}  // namespace

std::unique_ptr<Strategy> make_ml2_strategy(const Space& space, const Params& params, uint64_t seed,
                                            const std::string& levels,
                                            const std::vector<HistoryRecord>& history) {
  return std::make_unique<Ml2Strategy>(space, params, seed, levels, history);
}

}  // namespace ml2
