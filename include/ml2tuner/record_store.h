// The record store: every configuration that was built or run has exactly one record.
//
// SQLite in WAL mode. One store holds one tuning session (task, target, space digest, tuner,
// seed); opening it again continues that session. The tuner writes a record when a round's builds
// finish (stage "build") and updates it in place when its run finishes (stage "run"), each write
// committed before the next measurement starts, so a tuner killed with SIGKILL loses at most the
// measurements in flight and the file stays readable.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ml2tuner/measure.h"

namespace ml2 {

struct SessionInfo {
  std::string task;
  std::string target;
  std::string space_digest;
  std::string tuner;
  uint64_t seed = 0;
  // A digest of the tuning history the session learnt from (empty: none), so that a session is
  // resumed only with the history it began with.
  std::string history;
};

struct Record {
  std::string task;
  std::string target;
  uint64_t config_index = 0;
  std::string config_json;  // {"knob": value, ...}
  Stage stage = Stage::kBuild;
  Status status = Status::kOk;
  std::string message;
  std::optional<Measurement> latency;  // set for a successful run
  HiddenFeatures hidden;
  // A digest of the artifact of a successful build (32 hex digits; empty otherwise): two
  // configurations with the same digest compiled to the same program.
  std::string artifact_digest;
  double build_time_s = 0;
  double run_time_s = 0;
  double virtual_build_s = 0;
  double virtual_run_s = 0;
  std::string tuner;
  uint64_t seed = 0;
  int64_t round = 0;
  // 1-based trial number, in the strategy's order, once the trial's outcome is final (its build
  // failed or its run finished); nullopt for a configuration that was only built (a probe), or
  // whose run never finished.
  std::optional<int64_t> trial;
  std::string timestamp;  // ISO 8601, UTC
};

// Thrown by RecordStore::bind for a store that holds another session; the message names both
// sessions and what differs.
struct OtherSessionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class RecordStore {
 public:
  // Opens or creates the store. Throws std::runtime_error with a one-line message if the file is
  // not a record store (nothing is written to such a file).
  explicit RecordStore(const std::string& path);
  // Opens an existing store read-only; throws if it does not exist.
  static RecordStore open_read_only(const std::string& path);
  ~RecordStore();
  RecordStore(RecordStore&&) noexcept;
  RecordStore& operator=(RecordStore&&) noexcept;

  // The session the store holds, if any.
  std::optional<SessionInfo> session() const;
  // Binds the store to `info`: records it if the store is new; throws OtherSessionError naming
  // the mismatch if the store holds another session (the store is left untouched). The handle
  // then holds the store for writing until it is destroyed: another handle, in this process or
  // another, that binds or imports into it meanwhile gets std::runtime_error. Readers are not
  // held up, and the lock goes with the process that holds it.
  void bind(const SessionInfo& info);

  // Inserts or replaces the record of r.config_index. Each call is one committed transaction.
  void put(const Record& r);
  // Several records in one transaction.
  void put_all(const std::vector<Record>& rs);

  // All records, ordered by trial number (trials first), then by config index.
  std::vector<Record> records() const;
  size_t count() const;

  // One JSON object per line, with the session as the first line ({"session": {...}}).
  void export_jsonl(std::ostream& out) const;
  // Reads what export_jsonl wrote into this store (holding it for writing, as bind()); returns the
  // number of records imported.
  // Throws std::runtime_error naming the line that is malformed (nothing is imported then).
  size_t import_jsonl(std::istream& in);

 private:
  struct Impl;
  explicit RecordStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

std::string utc_timestamp();

}  // namespace ml2
