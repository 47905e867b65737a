// The tuning loop. One round:
//   ask -> build (worker pool, parallel) -> record builds -> [choose] -> run (worker pool,
//   isolated) -> record each run as it completes -> tell.
// A trial gets its number when its outcome is final and every trial the strategy put before it
// is numbered, so the store's trials are always numbered 1..n in the strategy's order, without
// gaps, even after a kill.
#include "ml2tuner/tuner.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "util/hash.h"

namespace ml2 {

using nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The cost the real toolchain or device would have paid: the target's own estimate where it
// replays or simulates, else the time it really took.
double charged(double virtual_s, double wall_s) { return virtual_s > 0 ? virtual_s : wall_s; }

Outcome outcome_of(const Record& r) {
  Outcome o;
  o.index = r.config_index;
  o.stage = r.stage;
  o.status = r.status;
  if (r.latency) o.latency_ms = r.latency->mean_ms;
  o.hidden = &r.hidden;
  o.artifact_digest = r.artifact_digest;
  o.trial = r.trial.has_value();
  return o;
}

}  // namespace

void validate(const TuneOptions& o) {
  if (o.trials < 0) {
    throw std::invalid_argument("--trials must be >= 0 (got " + std::to_string(o.trials) + ")");
  }
  if (o.batch < 1) {
    throw std::invalid_argument("--batch must be >= 1 (got " + std::to_string(o.batch) + ")");
  }
  if (o.jobs < 1 || o.jobs > 256) {
    throw std::invalid_argument("--jobs must be in 1..256 (got " + std::to_string(o.jobs) + ")");
  }
  if (!(o.build_timeout_s > 0) || !(o.run_timeout_s > 0)) {
    throw std::invalid_argument("timeouts must be > 0 seconds");
  }
  if (o.worker_memory_mb < 0) throw std::invalid_argument("--worker-memory-mb must be >= 0");
}

double parallel_makespan(std::vector<double> durations, int jobs) {
  if (durations.empty()) return 0;
  std::sort(durations.begin(), durations.end(), std::greater<>());
  std::vector<double> lanes(static_cast<size_t>(std::max(jobs, 1)), 0.0);
  for (double d : durations) *std::min_element(lanes.begin(), lanes.end()) += d;
  return *std::max_element(lanes.begin(), lanes.end());
}

json TuneSummary::to_json() const {
  json j;
  j["task"] = task;
  j["target"] = target;
  j["tuner"] = tuner;
  j["seed"] = seed;
  j["space_size"] = space_size;
  j["trials"] = trials;
  j["builds"] = builds;
  j["invalid_trials"] = invalid_trials;
  j["build_failures"] = build_failures;
  j["run_failures"] = run_failures;
  j["trial_status"] = trial_status;
  j["best_latency_ms"] = best_latency_ms ? json(*best_latency_ms) : json(nullptr);
  j["best_config"] = best_config;
  j["best_trial"] = best_trial ? json(*best_trial) : json(nullptr);
  j["virtual_time_s"] = virtual_time_s;
  j["elapsed_s"] = elapsed_s;
  j["strategy_s"] = strategy_s;
  j["rounds"] = rounds;
  j["strategy_s_per_round"] = rounds ? strategy_s / static_cast<double>(rounds) : 0.0;
  j["strategy_metrics"] = json::object();
  for (const auto& [k, v] : strategy_metrics) {
    j["strategy_metrics"][k] = std::isfinite(v) ? json(v) : json(nullptr);
  }
  j["resumed_trials"] = resumed_trials;
  j["stored_rounds"] = stored_rounds;
  j["replayed_rounds"] = replayed_rounds;
  j["new_trials"] = new_trials;
  j["history"] = history;
  j["trial_virtual_s"] = trial_virtual_s;
  return j;
}

TuneSummary summarize(const std::vector<Record>& records, const SessionInfo& session,
                      uint64_t space_size, int build_jobs) {
  TuneSummary s;
  s.task = session.task;
  s.target = session.target;
  s.tuner = session.tuner;
  s.seed = session.seed;
  s.space_size = space_size;
  s.best_config = nullptr;
  s.history = json::array();
  std::map<int64_t, std::vector<double>> builds_by_round;
  std::vector<const Record*> trials;
  for (const Record& r : records) {
    ++s.builds;  // every record was built (a run needs a build)
    builds_by_round[r.round].push_back(charged(r.virtual_build_s, r.build_time_s));
    if (r.stage == Stage::kRun && !r.trial) {  // a run that never finished still took its time
      s.virtual_time_s += charged(r.virtual_run_s, r.run_time_s);
    }
    const bool build_failed = r.stage == Stage::kBuild && r.status != Status::kOk;
    if (build_failed) ++s.build_failures;
    if (r.trial) trials.push_back(&r);
  }
  // The virtual clock: a round's builds (in parallel), then its runs one after another. A trial's
  // time is the clock when its outcome was final.
  std::map<int64_t, double> builds_done;  // round -> clock when its builds were done
  std::map<int64_t, double> runs_of_round;
  for (const Record* r : trials) {
    if (r->stage == Stage::kRun)
      runs_of_round[r->round] += charged(r->virtual_run_s, r->run_time_s);
  }
  for (auto& [round, costs] : builds_by_round) {
    const double makespan = parallel_makespan(std::move(costs), build_jobs);
    builds_done[round] = s.virtual_time_s + makespan;
    s.virtual_time_s += makespan + runs_of_round[round];
  }
  std::sort(trials.begin(), trials.end(),
            [](const Record* a, const Record* b) { return *a->trial < *b->trial; });
  std::map<int64_t, double> clock = builds_done;
  for (const Record* r : trials) {
    double& at = clock[r->round];
    if (r->stage == Stage::kRun) at += charged(r->virtual_run_s, r->run_time_s);
    ++s.trials;
    ++s.trial_status[std::string(to_string(r->status))];
    if (r->status != Status::kOk) {
      ++s.invalid_trials;
      if (r->stage == Stage::kRun) ++s.run_failures;
    } else if (r->latency && (!s.best_latency_ms || r->latency->mean_ms < *s.best_latency_ms)) {
      s.best_latency_ms = r->latency->mean_ms;
      s.best_trial = *r->trial;
      s.best_config = json::parse(r->config_json);
    }
    json h;
    h["trial"] = *r->trial;
    h["config"] = json::parse(r->config_json);
    h["stage"] = to_string(r->stage);
    h["status"] = to_string(r->status);
    h["latency_ms"] = r->latency ? json(r->latency->mean_ms) : json(nullptr);
    s.history.push_back(std::move(h));
    s.trial_virtual_s.push_back(at);
  }
  return s;
}

namespace {

// A digest of a tuning history, record by record in order (empty for none).
std::string history_digest(const std::vector<HistoryRecord>& history) {
  if (history.empty()) return "";
  std::string bytes;
  char latency[32];
  for (const HistoryRecord& r : history) {
    // to_chars: the shortest form that reads back exactly, whatever the locale.
    const char* end =
        std::to_chars(latency, latency + sizeof latency, r.latency_ms.value_or(-1)).ptr;
    bytes += std::to_string(r.index) + ' ' + std::string(to_string(r.status)) + ' ' +
             std::string(latency, static_cast<size_t>(end - latency)) + '\n';
  }
  return content_digest(bytes);
}

}  // namespace

SessionInfo session_of(const Target& target, const TuneOptions& options) {
  return SessionInfo{target.task(), target.name(), target.space().digest(),
                     options.tuner, options.seed,  history_digest(options.history)};
}

HistoryStore read_history_store(const std::string& path) {
  HistoryStore h;
  std::error_code ec;
  h.path = std::filesystem::weakly_canonical(path, ec).string();
  if (ec) throw std::invalid_argument("--history " + path + ": " + ec.message());
  std::optional<SessionInfo> session;
  std::vector<Record> records;
  try {
    const RecordStore store = RecordStore::open_read_only(path);
    session = store.session();
    records = store.records();
  } catch (const std::runtime_error& e) {
    throw std::invalid_argument("--history " + path + ": " + e.what());
  }
  if (!session) {
    throw std::invalid_argument("--history " + path +
                                ": holds no tuning session; give a record store that tuned "
                                "this space");
  }
  h.session = *session;
  for (const Record& r : records) {
    const bool ran = r.stage == Stage::kRun;
    const bool build_failed = r.stage == Stage::kBuild && r.status != Status::kOk;
    if (!ran && !build_failed) continue;  // built only: validity unknown
    HistoryRecord x{r.config_index, r.status, std::nullopt};
    if (r.status == Status::kOk) {
      if (!r.latency) continue;  // a run that never finished
      x.latency_ms = r.latency->mean_ms;
    }
    h.records.push_back(x);
  }
  if (h.records.empty()) {
    throw std::invalid_argument("--history " + path +
                                ": holds no run and no failed build; give a store that "
                                "measured configurations");
  }
  return h;
}

History load_history(const std::vector<std::string>& paths, const std::string& space_digest) {
  History out;
  for (const std::string& path : paths) {
    HistoryStore h = read_history_store(path);
    if (std::find(out.stores.begin(), out.stores.end(), h.path) != out.stores.end()) continue;
    if (h.session.space_digest != space_digest) {
      throw std::invalid_argument("--history " + path + ": tuned " + h.session.task +
                                  ", whose space (digest " + h.session.space_digest +
                                  ") is not this task's (" + space_digest +
                                  "); a history must come from the same space");
    }
    out.records.insert(out.records.end(), h.records.begin(), h.records.end());
    out.stores.push_back(std::move(h.path));
  }
  return out;
}

Tuner::Tuner(const Target& target, RecordStore& store, TuneOptions options)
    : target_(target), store_(store), options_(std::move(options)) {}

void Tuner::on_progress(std::function<void(const Progress&)> callback) {
  progress_ = std::move(callback);
}

namespace {

// A round between its builds and its tell: its records in the order the strategy proposed them,
// the artifact of each successful build (empty where the record came from the store), its trials
// as positions into `records`, in the strategy's order, and how many of them are final.
struct Round {
  std::vector<Record> records;
  std::vector<std::string> artifacts;
  std::vector<size_t> trials;
  size_t final_trials = 0;
};

std::vector<Outcome> outcomes_of(const std::vector<Record>& records) {
  std::vector<Outcome> outcomes;
  outcomes.reserve(records.size());
  for (const Record& r : records) outcomes.push_back(outcome_of(r));
  return outcomes;
}

// A round's proposal, as the tuning loop and the replay both ask for it: `left` trials remain in
// the budget, at most `batch` are asked for; a strategy must not propose what was measured (the
// loop enforces it), and a committed proposal is cut to the budget.
Proposal ask_round(Strategy& strategy, size_t left, int64_t batch,
                   const std::unordered_set<uint64_t>& measured) {
  Proposal proposal = strategy.ask(std::min(left, static_cast<size_t>(batch)));
  std::erase_if(proposal.configs, [&](uint64_t i) { return measured.count(i) != 0; });
  if (proposal.committed && proposal.configs.size() > left) proposal.configs.resize(left);
  return proposal;
}

// The trials of a round: every proposed configuration for a committed proposal (a failed build
// consumes its trial, as in AutoTVM), else those the strategy chooses among the successful builds.
std::vector<size_t> trials_of(Strategy& strategy, bool committed,
                              const std::vector<Record>& records, size_t left) {
  std::vector<size_t> trials;
  if (committed) {
    for (size_t i = 0; i < records.size(); ++i) trials.push_back(i);
    return trials;
  }
  std::vector<size_t> ok;
  std::vector<Outcome> candidates;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].status != Status::kOk) continue;
    ok.push_back(i);
    candidates.push_back(outcome_of(records[i]));
  }
  for (size_t pick : strategy.choose(candidates, left)) {
    if (pick >= ok.size()) throw std::logic_error("internal: choose() returned a bad position");
    trials.push_back(ok[pick]);
  }
  if (trials.size() > left) trials.resize(left);
  return trials;
}

// What a configuration's build gave in round `round`, from its record of that round or of a later
// one (it was built again then, which replaced the record): builds are deterministic.
Record as_built_in(const Record& later, int64_t round) {
  Record r = later;
  if (r.stage == Stage::kRun) {
    r.stage = Stage::kBuild;
    r.status = Status::kOk;
    r.message.clear();
    r.latency.reset();
    r.run_time_s = 0;
    r.virtual_run_s = 0;
  }
  r.trial.reset();
  r.round = round;
  return r;
}

// The records of a store by round (1, 2, ...) and by configuration.
struct StoredRounds {
  explicit StoredRounds(const std::vector<Record>& records) {
    for (const Record& r : records) {
      by_round[r.round].push_back(&r);
      by_index[r.config_index] = &r;
    }
  }
  std::map<int64_t, std::vector<const Record*>> by_round;
  std::unordered_map<uint64_t, const Record*> by_index;
};

// Replays at most `max_rounds` stored rounds: asks the strategy again, round by round, with the
// budget it had then, checks that it proposes and chooses what the store holds, and tells it the
// stored outcomes, so that its models, random streams and search state are those of the
// uninterrupted session. A last round whose trials were not all final is returned in `unfinished`.
// Returns the number of rounds replayed (the unfinished one included). It stops at the first round
// where the strategy departs from the store (the store was made with another budget or batch, by
// another version, or by a target that does not build the same way twice); the strategy is spent
// then, as it was asked for that round.
int64_t replay(Strategy& strategy, const StoredRounds& stored, int64_t budget, int64_t batch,
               int64_t max_rounds, std::optional<Round>& unfinished) {
  const auto& by_index = stored.by_index;
  std::unordered_set<uint64_t> measured;
  int64_t trials = 0, replayed = 0;
  for (const auto& [number, held] : stored.by_round) {
    if (replayed == max_rounds || number != replayed + 1 || trials >= budget) return replayed;
    const auto left = static_cast<size_t>(budget - trials);
    const Proposal proposal = ask_round(strategy, left, batch, measured);

    // The round's records as they are now, and as they were when its builds were done.
    Round round;
    std::vector<Record> built;
    size_t from_round = 0;  // stored records of this round that were proposed again
    for (uint64_t i : proposal.configs) {
      const auto it = by_index.find(i);
      if (it == by_index.end() || it->second->round < number) return replayed;
      built.push_back(as_built_in(*it->second, number));
      if (it->second->round == number) {
        ++from_round;
        round.records.push_back(*it->second);
      } else {
        round.records.push_back(built.back());
      }
    }
    if (from_round != held.size()) return replayed;
    round.artifacts.resize(round.records.size());
    round.trials = trials_of(strategy, proposal.committed, built, left);
    // The stored trials of the round are the first of its trials, numbered on from the last round.
    size_t final_trials = 0;
    while (final_trials < round.trials.size() &&
           round.records[round.trials[final_trials]].trial ==
               trials + static_cast<int64_t>(final_trials) + 1) {
      ++final_trials;
    }
    const auto numbered = std::count_if(round.records.begin(), round.records.end(),
                                        [](const Record& r) { return r.trial.has_value(); });
    if (static_cast<size_t>(numbered) != final_trials) return replayed;
    for (size_t k = 0; k < final_trials; ++k) {
      measured.insert(round.records[round.trials[k]].config_index);
    }
    trials += static_cast<int64_t>(final_trials);
    round.final_trials = final_trials;
    if (final_trials < round.trials.size()) {
      if (number != stored.by_round.rbegin()->first) return replayed;
      unfinished = std::move(round);
      return replayed + 1;
    }
    strategy.tell(outcomes_of(round.records));
    ++replayed;
  }
  return replayed;
}

}  // namespace

TuneSummary Tuner::run() {
  validate(options_);
  const auto t0 = std::chrono::steady_clock::now();
  const Space& space = target_.space();
  const StrategyOptions strategy_options{options_.seed, options_.params, options_.history};
  auto strategy = make_strategy(options_.tuner, space, strategy_options);
  double strategy_s = 0;
  int64_t rounds_run = 0;
  // Time spent in the strategy: its models and search, the tuner's own overhead.
  auto timed = [&strategy_s](auto&& f) {
    const auto t = std::chrono::steady_clock::now();
    f();
    strategy_s += seconds_since(t);
  };

  const SessionInfo info = session_of(target_, options_);
  store_.bind(info);

  // Resume: what the store holds is told to the strategy and never measured again.
  std::vector<Record> previous = store_.records();
  std::unordered_set<uint64_t> measured;
  Progress progress;
  progress.budget = options_.trials;
  int64_t round = 0;
  for (const Record& r : previous) {
    round = std::max(round, r.round);
    if (!r.trial) continue;
    measured.insert(r.config_index);
    ++progress.trials;
    if (r.status == Status::kOk) {
      ++progress.valid;
      if (r.latency && (!progress.best_ms || r.latency->mean_ms < *progress.best_ms)) {
        progress.best_ms = r.latency->mean_ms;
      }
    } else {
      ++progress.invalid;
    }
  }
  const int64_t resumed_trials = progress.trials;
  // Resume, not counted as strategy time (which is per round this session runs).
  std::optional<Round> unfinished;
  int64_t replayed_rounds = 0;
  const StoredRounds stored(previous);
  const auto stored_rounds = static_cast<int64_t>(stored.by_round.size());
  if (stored_rounds > 0) {
    replayed_rounds =
        replay(*strategy, stored, options_.trials, options_.batch, stored_rounds, unfinished);
  }
  if (replayed_rounds < stored_rounds) {
    // The strategy departed from the store after `replayed_rounds` rounds: a fresh one replays
    // those, and is told the later rounds as they were measured. A model-based strategy retrains
    // as it did then and can restore its predictions for them, but its random streams and search
    // go on from the last replayed round.
    strategy = make_strategy(options_.tuner, space, strategy_options);
    replay(*strategy, stored, options_.trials, options_.batch, replayed_rounds, unfinished);
    for (auto it = stored.by_round.upper_bound(replayed_rounds); it != stored.by_round.end();
         ++it) {
      std::vector<Outcome> outcomes;
      for (const Record* r : it->second) outcomes.push_back(outcome_of(*r));
      strategy->recall_round(outcomes);
      strategy->tell(outcomes);
    }
  }
  double virtual_s = summarize(previous, info, space.size(), options_.jobs).virtual_time_s;
  previous.clear();

  const int run_workers = std::max(1, std::min(options_.jobs, target_.max_parallel_runs()));
  WorkerPool builders(target_, Stage::kBuild,
                      {options_.jobs, options_.build_timeout_s, options_.worker_memory_mb});
  WorkerPool runners(target_, Stage::kRun,
                     {run_workers, options_.run_timeout_s, options_.worker_memory_mb});

  auto report = [&] {
    if (!progress_) return;
    progress.elapsed_s = seconds_since(t0);
    progress.virtual_s = virtual_s;
    progress_(progress);
  };

  while (unfinished || progress.trials < options_.trials) {
    Round current;
    if (unfinished) {
      // The round a kill interrupted: its builds and first trials are stored; the artifacts of the
      // trials still to run are built again (their build was charged already).
      current = std::move(*unfinished);
      unfinished.reset();
      std::vector<size_t> to_build;
      std::vector<Config> configs;
      for (size_t k = current.final_trials; k < current.trials.size(); ++k) {
        const size_t i = current.trials[k];
        // A run that never finished is run again from its build.
        current.records[i] = as_built_in(current.records[i], current.records[i].round);
        if (current.records[i].status != Status::kOk) continue;
        to_build.push_back(i);
        configs.push_back(space.at(current.records[i].config_index));
      }
      std::vector<BuildResult> built = builders.build(configs);
      for (size_t k = 0; k < to_build.size(); ++k) {
        Record& r = current.records[to_build[k]];
        if (built[k].status == Status::kOk) {
          current.artifacts[to_build[k]] = std::move(built[k].artifact);
          continue;
        }
        r.status = built[k].status;  // a target that does not build the same way twice
        r.message = std::move(built[k].message);
      }
    } else {
      const auto left = static_cast<size_t>(options_.trials - progress.trials);
      Proposal proposal;
      timed([&] { proposal = ask_round(*strategy, left, options_.batch, measured); });
      if (proposal.configs.empty()) break;
      ++round;

      // Build.
      std::vector<Config> configs;
      configs.reserve(proposal.configs.size());
      for (uint64_t i : proposal.configs) configs.push_back(space.at(i));
      std::vector<BuildResult> built = builders.build(configs);
      current.records.resize(configs.size());
      current.artifacts.resize(configs.size());
      std::vector<double> build_costs;
      for (size_t i = 0; i < configs.size(); ++i) {
        Record& r = current.records[i];
        BuildResult& b = built[i];
        r.task = info.task;
        r.target = info.target;
        r.config_index = proposal.configs[i];
        r.config_json = space.to_json(configs[i]).dump();
        r.stage = Stage::kBuild;
        r.status = b.status;
        r.message = std::move(b.message);
        r.hidden = std::move(b.hidden);
        if (b.status == Status::kOk) r.artifact_digest = content_digest(b.artifact);
        current.artifacts[i] = std::move(b.artifact);
        r.build_time_s = b.wall_s;
        r.virtual_build_s = b.virtual_s;
        r.tuner = info.tuner;
        r.seed = info.seed;
        r.round = round;
        r.timestamp = utc_timestamp();
        build_costs.push_back(charged(b.virtual_s, b.wall_s));
      }
      virtual_s += parallel_makespan(std::move(build_costs), options_.jobs);
      store_.put_all(current.records);
      timed([&] {
        current.trials = trials_of(*strategy, proposal.committed, current.records, left);
      });
    }

    // Run `run_workers` trials at a time. Trial numbers follow the strategy's order (so batch
    // boundaries, and therefore resuming, do not change a run), and each group of outcomes is
    // committed before the next group starts.
    std::vector<Record>& records = current.records;
    const std::vector<size_t>& trials = current.trials;
    size_t next = current.final_trials;
    while (next < trials.size()) {
      size_t end = next;
      std::vector<std::string> artifacts;
      std::vector<size_t> running;
      while (end < trials.size() && artifacts.size() < static_cast<size_t>(run_workers)) {
        Record& r = records[trials[end]];
        if (r.status == Status::kOk) {
          artifacts.push_back(std::move(current.artifacts[trials[end]]));
          running.push_back(trials[end]);
        }
        ++end;
      }
      std::vector<RunResult> ran = runners.run(artifacts);
      for (size_t k = 0; k < running.size(); ++k) {
        Record& r = records[running[k]];
        RunResult& res = ran[k];
        r.stage = Stage::kRun;
        r.status = res.status;
        r.message = std::move(res.message);
        if (res.status == Status::kOk &&
            !(res.latency.mean_ms > 0 && std::isfinite(res.latency.mean_ms))) {
          // A broken timer is the target's failure, not a configuration infinitely fast.
          r.status = Status::kRuntimeError;
          r.message = "the target reported a latency of " + std::to_string(res.latency.mean_ms) +
                      " ms, not a positive time";
        }
        if (r.status == Status::kOk) r.latency = res.latency;
        r.run_time_s = res.wall_s;
        r.virtual_run_s = res.virtual_s;
        r.timestamp = utc_timestamp();
        virtual_s += charged(res.virtual_s, res.wall_s);
      }
      std::vector<Record> done;
      for (; next < end; ++next) {
        Record& r = records[trials[next]];
        r.trial = ++progress.trials;
        measured.insert(r.config_index);
        if (r.status == Status::kOk) {
          ++progress.valid;
          if (!progress.best_ms || r.latency->mean_ms < *progress.best_ms) {
            progress.best_ms = r.latency->mean_ms;
          }
        } else {
          ++progress.invalid;
        }
        done.push_back(r);
      }
      store_.put_all(done);
      report();
    }

    timed([&] { strategy->tell(outcomes_of(records)); });
    ++rounds_run;
  }

  TuneSummary summary = summarize(store_.records(), info, space.size(), options_.jobs);
  summary.elapsed_s = seconds_since(t0);
  summary.resumed_trials = resumed_trials;
  summary.stored_rounds = stored_rounds;
  summary.replayed_rounds = replayed_rounds;
  summary.strategy_s = strategy_s;
  summary.rounds = rounds_run;
  summary.strategy_metrics = strategy->metrics();
  summary.new_trials = summary.trials - resumed_trials;
  return summary;
}

}  // namespace ml2
