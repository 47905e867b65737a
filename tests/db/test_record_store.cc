#include "ml2tuner/record_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace ml2 {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path_ =
        fs::temp_directory_path() / ("ml2tuner-record-store-" + std::to_string(::getpid()) + "-" +
                                     std::to_string(counter++) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// Runs statements on a database through the SQLite API directly.
void sql_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err != nullptr ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

// The first column of the first row of a query.
std::string sql_value(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "<cannot open>";
  }
  sqlite3_stmt* s = nullptr;
  std::string out = "<error>";
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    out = p != nullptr ? p : "<null>";
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

SessionInfo make_session() {
  SessionInfo s;
  s.task = "matmul_512";
  s.target = "sim-gpu";
  s.space_digest = "sha256:abcdef";
  s.tuner = "random";
  s.seed = 7;
  return s;
}

// A record of a configuration after its build (probe: no trial) or after its run (a trial).
Record make_record(uint64_t index, Stage stage, std::string message = "") {
  Record r;
  r.task = "matmul_512";
  r.target = "sim-gpu";
  r.config_index = index;
  r.config_json = R"({"tile_x": )" + std::to_string(index % 64) + R"(, "unroll": true})";
  r.stage = stage;
  r.status = Status::kOk;
  r.message = std::move(message);
  r.hidden = {{"registers", 32.0 + static_cast<double>(index % 7)}, {"shared_bytes", 4096.5}};
  r.build_time_s = 0.25 + static_cast<double>(index) / 1000.0;
  r.virtual_build_s = 1.0 / 3.0;
  r.tuner = "random";
  r.seed = 7;
  r.round = static_cast<int64_t>(index / 10);
  r.timestamp = "2026-11-26T03:22:12.123Z";
  r.artifact_digest = "0123456789abcdef0123456789abcd" + std::to_string(10 + index % 90);
  if (stage == Stage::kRun) {
    r.latency = Measurement::from_samples({1.0 + static_cast<double>(index), 1.5, 0.1});
    r.run_time_s = 0.125;
    r.virtual_run_s = 2.0 / 7.0;
    r.trial = static_cast<int64_t>(index) + 1;
  }
  return r;
}

bool same_double(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// Field-by-field equality; doubles must be bit-for-bit equal (or both NaN).
::testing::AssertionResult same_record(const Record& a, const Record& b) {
  auto fail = [&](const std::string& field) {
    return ::testing::AssertionFailure()
           << "record " << a.config_index << " / " << b.config_index << " differ in " << field;
  };
  if (a.config_index != b.config_index) return fail("config_index");
  if (a.task != b.task) return fail("task");
  if (a.target != b.target) return fail("target");
  if (a.config_json != b.config_json) return fail("config_json");
  if (a.stage != b.stage) return fail("stage");
  if (a.status != b.status) return fail("status");
  if (a.message != b.message) return fail("message");
  if (a.latency.has_value() != b.latency.has_value()) return fail("latency presence");
  if (a.latency) {
    if (!same_double(a.latency->mean_ms, b.latency->mean_ms) ||
        !same_double(a.latency->min_ms, b.latency->min_ms) ||
        !same_double(a.latency->max_ms, b.latency->max_ms) ||
        !same_double(a.latency->std_ms, b.latency->std_ms) ||
        a.latency->repeats != b.latency->repeats) {
      return fail("latency");
    }
  }
  if (a.hidden.size() != b.hidden.size()) return fail("hidden");
  for (const auto& [k, v] : a.hidden) {
    auto it = b.hidden.find(k);
    if (it == b.hidden.end() || !same_double(v, it->second)) return fail("hidden." + k);
  }
  if (!same_double(a.build_time_s, b.build_time_s)) return fail("build_time_s");
  if (!same_double(a.run_time_s, b.run_time_s)) return fail("run_time_s");
  if (!same_double(a.virtual_build_s, b.virtual_build_s)) return fail("virtual_build_s");
  if (!same_double(a.virtual_run_s, b.virtual_run_s)) return fail("virtual_run_s");
  if (a.tuner != b.tuner) return fail("tuner");
  if (a.seed != b.seed) return fail("seed");
  if (a.round != b.round) return fail("round");
  if (a.trial != b.trial) return fail("trial");
  if (a.timestamp != b.timestamp) return fail("timestamp");
  if (a.artifact_digest != b.artifact_digest) return fail("artifact_digest");
  return ::testing::AssertionSuccess();
}

// Expects `fn` to throw std::runtime_error with a one-line message containing every part.
template <typename Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    for (const auto& p : parts) EXPECT_NE(what.find(p), std::string::npos) << what << " / " << p;
  }
}

TEST(RecordStore, OneHandleWritesASessionAtATime) {
  // Two tuners writing one session would number their trials over each other: the second
  // handle to bind (or import into) a store is refused while the first is open; readers are not.
  TempDir dir;
  const std::string path = dir.file("s.db");
  {
    RecordStore writer(path);
    writer.bind(make_session());
    writer.bind(make_session());  // the same handle binds again
    writer.put(make_record(3, Stage::kBuild));
    RecordStore second(path);
    try {
      second.bind(make_session());
      ADD_FAILURE() << "a second handle bound a store that is being written";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("s.db is being written by another session"),
                std::string::npos)
          << e.what();
    }
    std::istringstream lines("{\"session\": {}}\n");
    EXPECT_THROW(second.import_jsonl(lines), std::runtime_error);
    EXPECT_EQ(RecordStore::open_read_only(path).records().size(), 1u);
    EXPECT_EQ(second.records().size(), 1u);
  }
  RecordStore after(path);  // the writer is closed: the store is free again
  EXPECT_NO_THROW(after.bind(make_session()));
}

TEST(RecordStore, ALockIsDroppedWhenItsProcessIsKilled) {
  TempDir dir;
  const std::string path = dir.file("s.db");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    RecordStore store(path);
    store.bind(make_session());
    const char c = 'r';
    if (write(ready[1], &c, 1) != 1) _exit(1);
    for (;;) pause();
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  RecordStore store(path);
  EXPECT_THROW(store.bind(make_session()), std::runtime_error);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_NO_THROW(store.bind(make_session()));
  close(ready[0]);
  close(ready[1]);
}

TEST(RecordStore, NewStoreUsesWalAndHasSchemaVersion) {
  TempDir dir;
  std::string path = dir.file("new.db");
  {
    RecordStore store(path);
    EXPECT_EQ(store.count(), 0u);
    EXPECT_FALSE(store.session().has_value());
    EXPECT_TRUE(store.records().empty());
  }
  EXPECT_EQ(sql_value(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(sql_value(path, "PRAGMA user_version"), "2");
  EXPECT_EQ(sql_value(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'records'"), "1");
  EXPECT_EQ(sql_value(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'session'"), "1");
}

TEST(RecordStore, PutThenReadBackEveryField) {
  TempDir dir;
  RecordStore store(dir.file("s.db"));
  std::vector<Record> written;
  written.push_back(make_record(3, Stage::kRun, "ran fine"));
  written.push_back(make_record(5, Stage::kBuild));  // a probe: no trial, no latency
  Record failed =
      make_record(9, Stage::kBuild, "error: too many resources\nsecond line \"quoted\"");
  failed.status = Status::kCompileError;
  failed.hidden.clear();
  failed.trial = 3;
  failed.seed = std::numeric_limits<uint64_t>::max();
  failed.round = -2;
  written.push_back(failed);
  Record big = make_record(std::numeric_limits<uint64_t>::max() / 2, Stage::kRun);
  big.status = Status::kWrongAnswer;
  big.trial = 4;
  written.push_back(big);
  for (const auto& r : written) store.put(r);

  ASSERT_EQ(store.count(), written.size());
  auto got = store.records();
  ASSERT_EQ(got.size(), written.size());
  std::map<uint64_t, Record> by_index;
  for (const auto& r : got) by_index[r.config_index] = r;
  for (const auto& r : written) {
    ASSERT_TRUE(by_index.count(r.config_index));
    EXPECT_TRUE(same_record(r, by_index[r.config_index]));
  }
}

TEST(RecordStore, EveryStatusAndStageRoundTrips) {
  TempDir dir;
  RecordStore store(dir.file("s.db"));
  uint64_t index = 0;
  for (Status status : all_statuses()) {
    for (Stage stage : {Stage::kBuild, Stage::kRun}) {
      Record r = make_record(index++, stage);
      r.status = status;
      store.put(r);
    }
  }
  auto got = store.records();
  ASSERT_EQ(got.size(), all_statuses().size() * 2);
  for (const auto& r : got) {
    Record expected = make_record(r.config_index, r.stage);
    expected.status = all_statuses()[r.config_index / 2];
    EXPECT_TRUE(same_record(expected, r));
  }
}

TEST(RecordStore, NonFiniteValuesRoundTrip) {
  TempDir dir;
  RecordStore store(dir.file("s.db"));
  Record r = make_record(1, Stage::kRun);
  r.latency->std_ms = std::numeric_limits<double>::quiet_NaN();
  r.hidden["inf"] = std::numeric_limits<double>::infinity();
  r.hidden["neg_inf"] = -std::numeric_limits<double>::infinity();
  r.hidden["nan"] = std::numeric_limits<double>::quiet_NaN();
  r.run_time_s = std::numeric_limits<double>::infinity();
  r.virtual_run_s = std::numeric_limits<double>::quiet_NaN();
  store.put(r);
  auto got = store.records();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(same_record(r, got[0]));

  std::stringstream out;
  store.export_jsonl(out);
  RecordStore copy(dir.file("copy.db"));
  std::istringstream in(out.str());
  ASSERT_EQ(copy.import_jsonl(in), 1u);
  Record imported = copy.records().at(0);
  r.config_json = R"({"tile_x":1,"unroll":true})";  // import stores the compact form
  EXPECT_TRUE(same_record(r, imported));
}

TEST(RecordStore, PutReplacesTheRecordOfTheSameConfigIndex) {
  TempDir dir;
  RecordStore store(dir.file("s.db"));
  store.put(make_record(4, Stage::kBuild));
  store.put(make_record(6, Stage::kBuild));
  Record run = make_record(4, Stage::kRun, "done");
  store.put(run);
  EXPECT_EQ(store.count(), 2u);
  auto got = store.records();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(same_record(run, got[0]));
  EXPECT_TRUE(same_record(make_record(6, Stage::kBuild), got[1]));
  // And back to a record without latency or trial: the columns become NULL again.
  store.put(make_record(4, Stage::kBuild));
  EXPECT_TRUE(same_record(make_record(4, Stage::kBuild), store.records().at(0)));
}

TEST(RecordStore, RecordsAreOrderedByTrialThenConfigIndex) {
  TempDir dir;
  RecordStore store(dir.file("s.db"));
  auto with_trial = [](uint64_t index, std::optional<int64_t> trial) {
    Record r = make_record(index, Stage::kRun);
    r.trial = trial;
    return r;
  };
  store.put(with_trial(50, std::nullopt));
  store.put(with_trial(10, 3));
  store.put(with_trial(40, 1));
  store.put(with_trial(5, std::nullopt));
  store.put(with_trial(30, 2));
  store.put(with_trial(20, 10));
  std::vector<uint64_t> order;
  for (const auto& r : store.records()) order.push_back(r.config_index);
  EXPECT_EQ(order, (std::vector<uint64_t>{40, 30, 10, 20, 5, 50}));
}

TEST(RecordStore, PutAllWritesEverythingOrNothing) {
  TempDir dir;
  RecordStore store(dir.file("s.db"));
  std::vector<Record> batch;
  for (uint64_t i = 0; i < 100; ++i) batch.push_back(make_record(i, Stage::kRun));
  store.put_all(batch);
  EXPECT_EQ(store.count(), 100u);

  std::vector<Record> bad{make_record(200, Stage::kRun), make_record(201, Stage::kRun)};
  bad[1].config_json = "not json";
  EXPECT_THROW(store.put_all(bad), std::invalid_argument);
  EXPECT_EQ(store.count(), 100u);  // record 200 was rolled back
  // The store stays usable after the rollback.
  store.put_all({make_record(200, Stage::kRun)});
  EXPECT_EQ(store.count(), 101u);
  store.put_all({});
  EXPECT_EQ(store.count(), 101u);
}

TEST(RecordStore, PutRejectsAConfigThatIsNotAJsonObject) {
  TempDir dir;
  RecordStore store(dir.file("s.db"));
  Record r = make_record(1, Stage::kBuild);
  r.config_json = "[1, 2]";
  EXPECT_THROW(store.put(r), std::invalid_argument);
  EXPECT_EQ(store.count(), 0u);
}

TEST(RecordStore, BindRecordsTheSessionAndAcceptsItAgain) {
  TempDir dir;
  std::string path = dir.file("s.db");
  {
    RecordStore store(path);
    store.bind(make_session());
    store.bind(make_session());
    store.put(make_record(1, Stage::kRun));
    auto s = store.session();
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->task, "matmul_512");
    EXPECT_EQ(s->target, "sim-gpu");
    EXPECT_EQ(s->space_digest, "sha256:abcdef");
    EXPECT_EQ(s->tuner, "random");
    EXPECT_EQ(s->seed, 7u);
  }
  // Reopening continues the session.
  RecordStore again(path);
  again.bind(make_session());
  EXPECT_EQ(again.count(), 1u);
  EXPECT_TRUE(same_record(make_record(1, Stage::kRun), again.records().at(0)));
}

TEST(RecordStore, BindRejectsAnotherSessionAndWritesNothing) {
  TempDir dir;
  std::string path = dir.file("s.db");
  RecordStore store(path);
  store.bind(make_session());
  SessionInfo other = make_session();
  other.tuner = "grid";
  other.seed = 3;
  expect_error([&] { store.bind(other); },
               {path, "'random'", "'grid'", "seed 3", "tuner, seed", "--db"});
  SessionInfo other_space = make_session();
  other_space.space_digest = "sha256:000000";
  expect_error([&] { store.bind(other_space); }, {path, "space"});
  SessionInfo big_seed = make_session();
  big_seed.seed = std::numeric_limits<uint64_t>::max();
  expect_error([&] { store.bind(big_seed); }, {path, "seed"});
  auto s = store.session();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->tuner, "random");
  EXPECT_EQ(s->seed, 7u);
  EXPECT_EQ(s->space_digest, "sha256:abcdef");
}

// A session's tuning history (a digest) is part of it: kept, exported and imported, and a bind
// with another one, or none, is refused. A store made before histories existed (no such table)
// holds a session without one.
TEST(RecordStore, TheSessionsTuningHistoryIsPartOfIt) {
  TempDir dir;
  SessionInfo with = make_session();
  with.history = "0123456789abcdef0123456789abcdef";
  {
    RecordStore store(dir.file("h.db"));
    store.bind(with);
    store.put(make_record(3, Stage::kRun));
    SessionInfo none = make_session();
    try {
      store.bind(none);
      ADD_FAILURE() << "a session without the history was accepted";
    } catch (const OtherSessionError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("with tuning history " + with.history), std::string::npos) << m;
      EXPECT_NE(m.find("with no tuning history (they differ in tuning history)"), std::string::npos)
          << m;
    }
    SessionInfo other = with;
    other.history = "fedcba9876543210fedcba9876543210";
    expect_error([&] { store.bind(other); }, {"differ in tuning history"});
    store.bind(with);  // the same session
  }
  EXPECT_EQ(RecordStore::open_read_only(dir.file("h.db")).session()->history, with.history);
  // Version 3, which builds that know no history refuse (they would drop it); version 2 without.
  EXPECT_EQ(sql_value(dir.file("h.db"), "PRAGMA user_version"), "3");
  std::stringstream jsonl;
  RecordStore::open_read_only(dir.file("h.db")).export_jsonl(jsonl);
  EXPECT_NE(jsonl.str().find("\"history\":\"" + with.history + "\""), std::string::npos);
  {
    RecordStore copy(dir.file("copy.db"));
    EXPECT_EQ(copy.import_jsonl(jsonl), 1u);
    EXPECT_EQ(copy.session()->history, with.history);
  }
  // Without the table, as stores made before: no history, and binding one without still works.
  {
    RecordStore old(dir.file("old.db"));
    old.bind(make_session());
  }
  EXPECT_EQ(sql_value(dir.file("old.db"), "SELECT count(*) FROM session_history"), "0");
  EXPECT_EQ(sql_value(dir.file("old.db"), "PRAGMA user_version"), "2");
  sql_exec(dir.file("old.db"), "DROP TABLE session_history");
  EXPECT_EQ(RecordStore::open_read_only(dir.file("old.db")).session()->history, "");
  RecordStore old(dir.file("old.db"));
  old.bind(make_session());
  expect_error([&] { old.bind(with); }, {"differ in tuning history"});
}

TEST(RecordStore, HugeSeedRoundTripsInTheSession) {
  TempDir dir;
  RecordStore store(dir.file("s.db"));
  SessionInfo s = make_session();
  s.seed = std::numeric_limits<uint64_t>::max() - 5;
  store.bind(s);
  EXPECT_EQ(store.session()->seed, s.seed);
  store.bind(s);
}

TEST(RecordStore, RejectsAFileThatIsNotSqliteWithoutTouchingIt) {
  TempDir dir;
  std::string path = dir.file("notes.db");
  std::string garbage = "these are my notes, not a database\n";
  for (int i = 0; i < 200; ++i) garbage += "line " + std::to_string(i) + " of text\n";
  write_bytes(path, garbage);
  expect_error([&] { RecordStore store(path); }, {path + " is not an ml2tuner record store"});
  expect_error([&] { RecordStore::open_read_only(path); },
               {path + " is not an ml2tuner record store"});
  EXPECT_EQ(read_bytes(path), garbage);
  EXPECT_FALSE(fs::exists(path + "-wal"));
  EXPECT_FALSE(fs::exists(path + "-journal"));

  // Short garbage, shorter than an SQLite header.
  std::string tiny = "hi";
  write_bytes(path, tiny);
  expect_error([&] { RecordStore store(path); }, {path + " is not an ml2tuner record store"});
  EXPECT_EQ(read_bytes(path), tiny);
}

TEST(RecordStore, RejectsAnotherSqliteDatabaseWithoutTouchingIt) {
  TempDir dir;
  std::string path = dir.file("other.db");
  sql_exec(path,
           "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
           "INSERT INTO notes (body) VALUES ('keep me');");
  std::string before = read_bytes(path);
  ASSERT_FALSE(before.empty());
  expect_error([&] { RecordStore store(path); },
               {path + " is not an ml2tuner record store", "notes"});
  expect_error([&] { RecordStore::open_read_only(path); },
               {path + " is not an ml2tuner record store"});
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(sql_value(path, "PRAGMA journal_mode"), "delete");
}

TEST(RecordStore, RejectsAnotherSchemaVersionWithoutTouchingIt) {
  TempDir dir;
  std::string path = dir.file("future.db");
  {
    RecordStore store(path);
    store.bind(make_session());
    store.put(make_record(1, Stage::kRun));
  }
  sql_exec(path, "PRAGMA user_version = 4");
  std::string before = read_bytes(path);
  expect_error([&] { RecordStore store(path); },
               {path + " is not an ml2tuner record store", "version 4"});
  expect_error([&] { RecordStore::open_read_only(path); },
               {path + " is not an ml2tuner record store", "version 4"});
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(sql_value(path, "PRAGMA user_version"), "4");
  // Version 3 (a session with a tuning history) without its history table is damaged.
  sql_exec(path, "PRAGMA user_version = 3");
  sql_exec(path, "DROP TABLE session_history");
  expect_error([&] { RecordStore::open_read_only(path); },
               {path + " is not an ml2tuner record store", "session_history is missing"});
}

// A store as version 1 wrote it: no artifact_digest column.
std::string version1_store(TempDir& dir) {
  std::string path = dir.file("v1.db");
  {
    RecordStore store(path);
    store.bind(make_session());
    store.put(make_record(1, Stage::kRun));
    store.put(make_record(2, Stage::kBuild));
  }
  sql_exec(path, "ALTER TABLE records DROP COLUMN artifact_digest");
  sql_exec(path, "PRAGMA user_version = 1");
  return path;
}

TEST(RecordStore, ReadsAVersion1StoreReadOnlyWithoutTouchingIt) {
  TempDir dir;
  std::string path = version1_store(dir);
  std::string before = read_bytes(path);
  RecordStore ro = RecordStore::open_read_only(path);
  auto got = ro.records();
  ASSERT_EQ(got.size(), 2u);
  Record expected = make_record(1, Stage::kRun);
  expected.artifact_digest.clear();
  EXPECT_TRUE(same_record(expected, got[0]));
  EXPECT_EQ(read_bytes(path), before);
}

TEST(RecordStore, UpgradesAVersion1StoreOpenedForWriting) {
  TempDir dir;
  std::string path = version1_store(dir);
  {
    RecordStore store(path);
    auto got = store.records();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].artifact_digest, "");
    store.put(make_record(3, Stage::kRun));
  }
  EXPECT_EQ(sql_value(path, "PRAGMA user_version"), "2");
  RecordStore again(path);
  EXPECT_EQ(again.count(), 3u);
  auto got = again.records();
  EXPECT_TRUE(same_record(make_record(3, Stage::kRun), got.at(1)));
  EXPECT_EQ(got.at(0).artifact_digest, "");
}

TEST(RecordStore, RejectsAStoreWithAChangedTable) {
  TempDir dir;
  std::string path = dir.file("changed.db");
  { RecordStore store(path); }
  sql_exec(path, "ALTER TABLE records ADD COLUMN extra TEXT");
  std::string before = read_bytes(path);
  expect_error([&] { RecordStore store(path); },
               {path + " is not an ml2tuner record store", "records"});
  EXPECT_EQ(read_bytes(path), before);
}

TEST(RecordStore, InitialisesAnEmptyFile) {
  TempDir dir;
  std::string path = dir.file("empty.db");
  write_bytes(path, "");
  {
    RecordStore store(path);
    store.bind(make_session());
    store.put(make_record(2, Stage::kBuild));
  }
  EXPECT_EQ(RecordStore::open_read_only(path).count(), 1u);
}

TEST(RecordStore, FailsClearlyWhenTheDirectoryIsMissing) {
  TempDir dir;
  std::string path = dir.file("no/such/dir/s.db");
  expect_error([&] { RecordStore store(path); }, {path});
}

TEST(RecordStore, OpenReadOnlyThrowsIfMissing) {
  TempDir dir;
  std::string path = dir.file("missing.db");
  expect_error([&] { RecordStore::open_read_only(path); }, {path});
  EXPECT_FALSE(fs::exists(path));
  write_bytes(path, "");
  expect_error([&] { RecordStore::open_read_only(path); }, {path, "empty"});
}

TEST(RecordStore, OpenReadOnlyReadsButDoesNotWrite) {
  TempDir dir;
  std::string path = dir.file("s.db");
  {
    RecordStore store(path);
    store.bind(make_session());
    store.put(make_record(1, Stage::kRun));
    store.put(make_record(2, Stage::kBuild));
  }
  RecordStore ro = RecordStore::open_read_only(path);
  EXPECT_EQ(ro.count(), 2u);
  ASSERT_TRUE(ro.session().has_value());
  EXPECT_EQ(ro.session()->tuner, "random");
  EXPECT_TRUE(same_record(make_record(1, Stage::kRun), ro.records().at(0)));
  expect_error([&] { ro.put(make_record(3, Stage::kBuild)); }, {path});
  EXPECT_EQ(ro.count(), 2u);
}

TEST(RecordStore, ReadOnlyStoreSeesWritesOfAnotherConnection) {
  TempDir dir;
  std::string path = dir.file("s.db");
  RecordStore writer(path);
  writer.put(make_record(1, Stage::kBuild));
  RecordStore reader = RecordStore::open_read_only(path);
  EXPECT_EQ(reader.count(), 1u);
  writer.put(make_record(2, Stage::kBuild));
  EXPECT_EQ(reader.count(), 2u);
}

TEST(RecordStore, MoveTransfersTheStore) {
  TempDir dir;
  RecordStore a(dir.file("a.db"));
  a.put(make_record(1, Stage::kBuild));
  RecordStore b(std::move(a));
  EXPECT_EQ(b.count(), 1u);
  RecordStore c(dir.file("c.db"));
  c = std::move(b);
  EXPECT_EQ(c.count(), 1u);
}

TEST(RecordStore, UtcTimestampIsIso8601WithMilliseconds) {
  std::string ts = utc_timestamp();
  EXPECT_TRUE(std::regex_match(ts, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)")))
      << ts;
  // Close to now: compare the date and hour with the C library's view of the current time.
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char year[16];
  std::snprintf(year, sizeof year, "%04d", tm.tm_year + 1900);
  EXPECT_EQ(ts.substr(0, 4), year);
}

// --- JSON lines -----------------------------------------------------------------------------

RecordStore filled_store(const std::string& path) {
  RecordStore store(path);
  store.bind(make_session());
  std::vector<Record> rs;
  for (uint64_t i = 0; i < 20; ++i) {
    Record r = make_record(i, i % 3 == 0 ? Stage::kBuild : Stage::kRun, "msg " + std::to_string(i));
    if (i % 5 == 0) {
      r.status = Status::kRunTimeout;
      r.latency.reset();
    }
    rs.push_back(r);
  }
  store.put_all(rs);
  return store;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::vector<std::string> exported_lines(const RecordStore& store) {
  std::stringstream out;
  store.export_jsonl(out);
  return lines_of(out.str());
}

TEST(RecordStoreJsonl, ExportWritesTheSessionThenOneObjectPerRecord) {
  TempDir dir;
  RecordStore store = filled_store(dir.file("s.db"));
  std::stringstream out;
  store.export_jsonl(out);
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 21u);
  auto head = nlohmann::json::parse(lines[0]);
  ASSERT_TRUE(head.contains("session"));
  EXPECT_EQ(head["session"]["task"], "matmul_512");
  EXPECT_EQ(head["session"]["target"], "sim-gpu");
  EXPECT_EQ(head["session"]["space_digest"], "sha256:abcdef");
  EXPECT_EQ(head["session"]["tuner"], "random");
  EXPECT_EQ(head["session"]["seed"], 7);

  auto records = store.records();
  for (size_t i = 1; i < lines.size(); ++i) {
    auto j = nlohmann::json::parse(lines[i]);
    const Record& r = records[i - 1];
    EXPECT_EQ(j["config_index"], r.config_index);
    EXPECT_EQ(j["config"], nlohmann::json::parse(r.config_json));
    EXPECT_EQ(j["stage"], std::string(to_string(r.stage)));
    EXPECT_EQ(j["status"], std::string(to_string(r.status)));
    EXPECT_EQ(j["message"], r.message);
    EXPECT_TRUE(j["hidden"].is_object());
    EXPECT_EQ(j["hidden"]["registers"], r.hidden.at("registers"));
    if (r.latency) {
      EXPECT_EQ(j["latency"]["mean_ms"], r.latency->mean_ms);
      EXPECT_EQ(j["latency"]["repeats"], r.latency->repeats);
    } else {
      EXPECT_TRUE(j["latency"].is_null());
    }
    if (r.trial) {
      EXPECT_EQ(j["trial"], *r.trial);
    } else {
      EXPECT_TRUE(j["trial"].is_null());
    }
    EXPECT_EQ(j["artifact_digest"], r.artifact_digest);
    for (const char* key : {"task", "target", "build_time_s", "run_time_s", "virtual_build_s",
                            "virtual_run_s", "tuner", "seed", "round", "timestamp"}) {
      EXPECT_TRUE(j.contains(key)) << key;
    }
  }
}

TEST(RecordStoreJsonl, ExportImportExportIsIdentical) {
  TempDir dir;
  RecordStore store = filled_store(dir.file("s.db"));
  std::stringstream first;
  store.export_jsonl(first);

  RecordStore copy(dir.file("copy.db"));
  std::istringstream in(first.str());
  EXPECT_EQ(copy.import_jsonl(in), 20u);
  ASSERT_TRUE(copy.session().has_value());
  EXPECT_EQ(copy.session()->tuner, "random");
  std::stringstream second;
  copy.export_jsonl(second);
  EXPECT_EQ(first.str(), second.str());

  auto a = store.records();
  auto b = copy.records();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    Record expected = a[i];
    expected.config_json = nlohmann::json::parse(expected.config_json).dump();
    EXPECT_TRUE(same_record(expected, b[i]));
  }
}

TEST(RecordStoreJsonl, ImportIntoTheSameSessionUpdatesRecords) {
  TempDir dir;
  RecordStore store = filled_store(dir.file("s.db"));
  std::stringstream out;
  store.export_jsonl(out);
  std::istringstream in(out.str());
  EXPECT_EQ(store.import_jsonl(in), 20u);
  EXPECT_EQ(store.count(), 20u);
}

TEST(RecordStoreJsonl, ExportOfAStoreWithoutSessionImportsWithoutBinding) {
  TempDir dir;
  RecordStore store(dir.file("s.db"));
  store.put(make_record(1, Stage::kRun));
  std::stringstream out;
  store.export_jsonl(out);
  EXPECT_EQ(lines_of(out.str()).at(0), R"({"session":null})");
  RecordStore copy(dir.file("copy.db"));
  std::istringstream in(out.str());
  EXPECT_EQ(copy.import_jsonl(in), 1u);
  EXPECT_FALSE(copy.session().has_value());
}

TEST(RecordStoreJsonl, ImportRejectsAnUnknownStatusNamingTheLineAndImportsNothing) {
  TempDir dir;
  RecordStore source = filled_store(dir.file("s.db"));
  std::stringstream out;
  source.export_jsonl(out);
  auto lines = lines_of(out.str());
  auto j = nlohmann::json::parse(lines[4]);
  j["status"] = "exploded";
  lines[4] = j.dump();
  std::string text;
  for (const auto& l : lines) text += l + "\n";

  std::string path = dir.file("copy.db");
  RecordStore copy(path);
  std::istringstream in(text);
  expect_error([&] { copy.import_jsonl(in); }, {path, "line 5", "'exploded'"});
  EXPECT_EQ(copy.count(), 0u);
  EXPECT_FALSE(copy.session().has_value());
}

TEST(RecordStoreJsonl, ImportRejectsMalformedLines) {
  TempDir dir;
  RecordStore source = filled_store(dir.file("s.db"));
  std::stringstream out;
  source.export_jsonl(out);
  auto lines = lines_of(out.str());
  const std::string record = lines[2];  // a run record with latency and trial

  auto edited = [&](const std::function<void(nlohmann::json&)>& edit) {
    auto j = nlohmann::json::parse(record);
    edit(j);
    return j.dump();
  };
  struct Case {
    std::string line;
    std::string expected;
  };
  std::vector<Case> cases{
      {"{not json", "not valid JSON"},
      {"[1, 2]", "not a JSON object"},
      {edited([](auto& j) { j.erase("timestamp"); }), "missing field 'timestamp'"},
      {edited([](auto& j) { j["colour"] = "red"; }), "unknown field 'colour'"},
      {edited([](auto& j) { j["stage"] = "link"; }), "unknown stage 'link'"},
      {edited([](auto& j) { j["config_index"] = -1; }), "config_index"},
      {edited([](auto& j) { j["config_index"] = "3"; }), "config_index"},
      {edited([](auto& j) { j["config"] = "tile=3"; }), "config"},
      {edited([](auto& j) { j["trial"] = 1.5; }), "trial"},
      {edited([](auto& j) { j["latency"] = 3.0; }), "latency"},
      {edited([](auto& j) { j["latency"].erase("repeats"); }), "repeats"},
      // What the tuner never stores: a latency that is no time, a trial or round below 1 or 0.
      {edited([](auto& j) { j["latency"]["mean_ms"] = -1; }), "must be a positive time, got -1"},
      {edited([](auto& j) { j["latency"]["mean_ms"] = 0; }), "must be a positive time, got 0"},
      {edited([](auto& j) { j["latency"] = nullptr; }), "a successful run needs a latency"},
      {edited([](auto& j) { j["trial"] = 0; }), "'trial' must be >= 1"},
      {R"({"config_index": 1e400})", "not valid JSON"},  // no double holds it
      {edited([](auto& j) { j["round"] = -2; }), "'round' must be >= 0"},
      {edited([](auto& j) { j["hidden"]["registers"] = "many"; }), "registers"},
      {edited([](auto& j) { j["build_time_s"] = nullptr; }), "build_time_s"},
      {edited([](auto& j) { j["message"] = 5; }), "message"},
      {lines[1], "already appears on line 2"},  // a duplicate of line 2
  };
  std::string path = dir.file("copy.db");
  RecordStore copy(path);
  for (const auto& c : cases) {
    std::string text = lines[0] + "\n" + lines[1] + "\n" + c.line + "\n" + lines[3] + "\n";
    std::istringstream in(text);
    SCOPED_TRACE(c.line);
    expect_error([&] { copy.import_jsonl(in); }, {path, "line 3", c.expected});
  }
  // The session line must come first.
  {
    std::istringstream in(lines[1] + "\n" + lines[0] + "\n");
    expect_error([&] { copy.import_jsonl(in); }, {"line 1", "session"});
  }
  {
    std::istringstream in(R"({"session": {"task": "t"}})"
                          "\n");
    expect_error([&] { copy.import_jsonl(in); }, {"line 1", "missing field"});
  }
  {
    std::istringstream in("");
    expect_error([&] { copy.import_jsonl(in); }, {path, "session"});
  }
  EXPECT_EQ(copy.count(), 0u);
  EXPECT_FALSE(copy.session().has_value());
}

TEST(RecordStoreJsonl, ImportRejectsAnotherSession) {
  TempDir dir;
  RecordStore source = filled_store(dir.file("s.db"));
  std::stringstream out;
  source.export_jsonl(out);

  std::string path = dir.file("other.db");
  RecordStore other(path);
  SessionInfo s = make_session();
  s.tuner = "grid";
  other.bind(s);
  other.put(make_record(100, Stage::kBuild));
  std::istringstream in(out.str());
  expect_error([&] { other.import_jsonl(in); }, {path, "'grid'", "'random'"});
  EXPECT_EQ(other.count(), 1u);
  EXPECT_EQ(other.session()->tuner, "grid");
}

TEST(RecordStoreJsonl, ImportSkipsBlankLines) {
  TempDir dir;
  auto lines = exported_lines(filled_store(dir.file("s.db")));
  std::string text = "\n" + lines[0] + "\n\n" + lines[1] + "\r\n   \n" + lines[2] + "\n\n";
  RecordStore copy(dir.file("copy.db"));
  std::istringstream in(text);
  EXPECT_EQ(copy.import_jsonl(in), 2u);
}

TEST(RecordStoreJsonl, ImportsAnExportWithoutArtifactDigests) {
  TempDir dir;
  auto lines = exported_lines(filled_store(dir.file("s.db")));
  std::string text = lines[0] + "\n";
  for (size_t i = 1; i < lines.size(); ++i) {
    auto j = nlohmann::ordered_json::parse(lines[i]);
    j.erase("artifact_digest");
    text += j.dump() + "\n";
  }
  RecordStore copy(dir.file("copy.db"));
  std::istringstream in(text);
  EXPECT_EQ(copy.import_jsonl(in), lines.size() - 1);
  for (const Record& r : copy.records()) EXPECT_EQ(r.artifact_digest, "");
}

// --- Durability -----------------------------------------------------------------------------

// A message long enough that a record spans several database pages.
std::string long_message(uint64_t index) {
  return std::string(3000, static_cast<char>('a' + index % 26));
}

// Writes build then run records, each committed, until killed. Reports on `ready_fd` once the
// first record is committed. Never returns.
[[noreturn]] void write_forever(const std::string& path, int ready_fd) {
  try {
    RecordStore store(path);
    store.bind(make_session());
    for (uint64_t i = 0;; ++i) {
      store.put(make_record(i, Stage::kBuild, long_message(i)));
      if (i == 0) {
        char byte = 1;
        if (::write(ready_fd, &byte, 1) != 1) ::_exit(3);
      }
      store.put(make_record(i, Stage::kRun, long_message(i)));
    }
  } catch (...) {
    ::_exit(2);
  }
}

TEST(RecordStoreDurability, SurvivesSigkillDuringWrites) {
  for (int delay_ms : {0, 15, 60, 100, 250}) {
    SCOPED_TRACE("delay " + std::to_string(delay_ms) + " ms");
    TempDir dir;
    std::string path = dir.file("killed.db");
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      write_forever(path, fds[1]);
    }
    ::close(fds[1]);
    char byte = 0;
    ssize_t n = ::read(fds[0], &byte, 1);
    ::close(fds[0]);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(child, SIGKILL);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
    ASSERT_EQ(n, 1) << "the writer failed before its first record (exit status "
                    << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1) << ")";
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the writer stopped on its own";
    EXPECT_EQ(WTERMSIG(wstatus), SIGKILL);

    EXPECT_EQ(sql_value(path, "PRAGMA integrity_check"), "ok");
    RecordStore store(path);
    store.bind(make_session());
    auto records = store.records();
    EXPECT_GE(records.size(), 1u);
    EXPECT_EQ(store.count(), records.size());
    // Indices 0..n-1 are all present, each as its build or its run record, never partial.
    std::set<uint64_t> indices;
    for (const auto& r : records) {
      indices.insert(r.config_index);
      Record expected = make_record(r.config_index, r.stage, long_message(r.config_index));
      EXPECT_TRUE(same_record(expected, r));
    }
    EXPECT_EQ(*indices.rbegin() + 1, indices.size());
    // Only the last record may still be at its build stage.
    for (const auto& r : records) {
      if (r.config_index + 1 < indices.size()) {
        EXPECT_EQ(r.stage, Stage::kRun);
      }
    }
    EXPECT_EQ(sql_value(path, "PRAGMA integrity_check"), "ok");
  }
}

}  // namespace
}  // namespace ml2
