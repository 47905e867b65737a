// The record store on SQLite (see record_store.h).
//
// Layout: `session` holds the one session row, `session_history` the digest of the tuning history
// it learnt from (no row, or no table in stores made before: none), `records` one row per
// configuration index. The database carries an application id and a schema version (PRAGMA
// application_id/user_version), and a file is only ever written once it is known to be a record
// store or to be empty.

#include "ml2tuner/record_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <map>
#include <ostream>
#include <set>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "util/file_lock.h"
#include "util/fork_closed.h"

namespace ml2 {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// 'ML2T': tells a record store from any other SQLite database.
constexpr int32_t kApplicationId = 0x4D4C3254;
// Bumped on every change of the layout below; a store of another version is refused, except
// version 1 (no artifact_digest), which is upgraded when opened for writing and read as it is.
constexpr int32_t kSchemaVersion = 2;
// A store whose session learnt from a tuning history: the same layout, with its session_history
// row. Builds that read only version 2 would resume such a session without its history and drop
// the history on export, so the version makes them refuse it.
constexpr int32_t kHistoryVersion = 3;
constexpr int kBusyTimeoutMs = 10000;
// The byte a handle that writes a session locks (see Impl::hold_session): far past SQLite's own
// lock bytes (at 1 GiB), so that it never meets them.
constexpr off_t kSessionLockByte = off_t{1} << 40;

constexpr std::array<const char*, 6> kSessionColumns{"id",           "task",  "target",
                                                     "space_digest", "tuner", "seed"};

// Column order of `records`; the insert and select statements are built from this list and
// bind/read columns by these positions.
constexpr std::array<const char*, 23> kRecordColumns{
    "config_index",   "task",           "target",         "config",
    "stage",          "status",         "message",        "latency_mean_ms",
    "latency_min_ms", "latency_max_ms", "latency_std_ms", "latency_repeats",
    "hidden",         "build_time_s",   "run_time_s",     "virtual_build_s",
    "virtual_run_s",  "tuner",          "seed",           "round",
    "trial",          "timestamp",      "artifact_digest"};
// Version 1 had every column but the last.
constexpr size_t kVersion1Columns = kRecordColumns.size() - 1;

// Also run when a history is first recorded in a store made before the table existed.
constexpr const char* kCreateSessionHistory =
    "CREATE TABLE IF NOT EXISTS session_history (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "digest TEXT NOT NULL);";

constexpr const char* kCreateSchema = R"sql(
CREATE TABLE session (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  task TEXT NOT NULL,
  target TEXT NOT NULL,
  space_digest TEXT NOT NULL,
  tuner TEXT NOT NULL,
  seed INTEGER NOT NULL
);
CREATE TABLE records (
  config_index INTEGER PRIMARY KEY,
  task TEXT NOT NULL,
  target TEXT NOT NULL,
  config TEXT NOT NULL,
  stage TEXT NOT NULL,
  status TEXT NOT NULL,
  message TEXT NOT NULL,
  latency_mean_ms REAL,
  latency_min_ms REAL,
  latency_max_ms REAL,
  latency_std_ms REAL,
  latency_repeats INTEGER,
  hidden TEXT NOT NULL,
  build_time_s REAL,
  run_time_s REAL,
  virtual_build_s REAL,
  virtual_run_s REAL,
  tuner TEXT NOT NULL,
  seed INTEGER NOT NULL,
  round INTEGER NOT NULL,
  trial INTEGER,
  timestamp TEXT NOT NULL,
  artifact_digest TEXT NOT NULL DEFAULT ''
);
)sql";
constexpr const char* kUpgradeFromVersion1 =
    "ALTER TABLE records ADD COLUMN artifact_digest TEXT NOT NULL DEFAULT ''";

// SQLite integers are signed 64-bit; unsigned values are stored with the same bits.
int64_t to_sql(uint64_t v) { return static_cast<int64_t>(v); }
uint64_t from_sql(int64_t v) { return static_cast<uint64_t>(v); }

std::string single_quoted(const std::string& s) { return "'" + s + "'"; }

// Dumps JSON on one line; invalid UTF-8 (compiler output can hold any bytes) is replaced.
template <typename J>
std::string dump_line(const J& j) {
  return j.dump(-1, ' ', false, J::error_handler_t::replace);
}

// JSON has no NaN or infinities; they are written as the strings "nan", "inf" and "-inf".
template <typename J>
J number_to_json(double v) {
  if (std::isfinite(v)) return J(v);
  if (std::isnan(v)) return J("nan");
  return J(v > 0 ? "inf" : "-inf");
}

template <typename J>
std::optional<double> number_from_json(const J& j) {
  if (j.is_number()) return j.template get<double>();
  if (j.is_string()) {
    const auto& s = j.template get_ref<const std::string&>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  return std::nullopt;
}

std::string hidden_to_text(const HiddenFeatures& hidden) {
  json j = json::object();
  for (const auto& [name, value] : hidden) j[name] = number_to_json<json>(value);
  return dump_line(j);
}

// Strips nlohmann's "[json.exception.xxx] " prefix from an error message.
std::string json_error(const std::exception& e) {
  std::string what = e.what();
  if (!what.empty() && what.front() == '[') {
    auto end = what.find("] ");
    if (end != std::string::npos) what.erase(0, end + 2);
  }
  return what;
}

bool same_session(const SessionInfo& a, const SessionInfo& b) {
  return a.task == b.task && a.target == b.target && a.space_digest == b.space_digest &&
         a.tuner == b.tuner && a.seed == b.seed && a.history == b.history;
}

std::string describe(const SessionInfo& s) {
  return "tuner " + single_quoted(s.tuner) + " seed " + std::to_string(s.seed) + " for task " +
         single_quoted(s.task) + " on target " + single_quoted(s.target) + " (space " +
         s.space_digest + ")" +
         (s.history.empty() ? std::string(" with no tuning history")
                            : " with tuning history " + s.history);
}

std::string differing_fields(const SessionInfo& a, const SessionInfo& b) {
  std::string out;
  auto add = [&](bool differs, const char* name) {
    if (!differs) return;
    if (!out.empty()) out += ", ";
    out += name;
  };
  add(a.task != b.task, "task");
  add(a.target != b.target, "target");
  add(a.space_digest != b.space_digest, "space");
  add(a.tuner != b.tuner, "tuner");
  add(a.seed != b.seed, "seed");
  add(a.history != b.history, "tuning history");
  return out;
}

// Thrown while classifying a file that turns out not to be a record store.
struct NotARecordStore : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ImportError : public std::runtime_error {
 public:
  ImportError(size_t line, const std::string& what)
      : std::runtime_error("line " + std::to_string(line) + ": " + what) {}
};

}  // namespace

struct RecordStore::Impl {
  std::string path;
  sqlite3* db = nullptr;
  bool version1 = false;  // a version 1 store opened read-only (no artifact_digest column)
  sqlite3_stmt* put_stmt = nullptr;  // cached by prepare_put(); reset after every use

  int session_lock = -1;  // the descriptor that holds the session lock, once bound

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (put_stmt != nullptr) sqlite3_finalize(put_stmt);
    if (db != nullptr) sqlite3_close_v2(db);
    if (session_lock >= 0) {
      keep_in_forked_workers(session_lock);
      close(session_lock);
    }
  }

  // A handle that writes a session (bind, import) holds the store until it is destroyed, so that
  // two tuners never write one session at once: their trial numbers would collide, and on a real
  // device their measurements would disturb each other. The lock is Linux's open-file-description
  // lock on one byte that SQLite never locks, so readers (best, export, a bench's results) are not
  // affected; the kernel drops it when the process dies, so a kill leaves nothing to clean up.
  void hold_session() {
    if (session_lock >= 0) return;
    int fd = -1;
    LockState state;
    try {
      state = try_lock_byte(path, kSessionLockByte, /*create=*/false, &fd);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error("record store " + std::string(e.what()));
    }
    if (state == LockState::kBusy) {
      throw std::runtime_error("store " + path +
                               " is being written by another session (another ml2tuner process, "
                               "or another open handle); wait for it to end, or pass another "
                               "--db");
    }
    if (state == LockState::kUnsupported) return;  // tuning goes on, unguarded as before
    close_in_forked_workers(fd);
    session_lock = fd;
  }

  [[noreturn]] void fail(const std::string& what) const {
    std::string msg = "record store " + path + ": " + what;
    if (db != nullptr) msg += ": " + std::string(sqlite3_errmsg(db));
    throw std::runtime_error(msg);
  }
  void check(int rc, const std::string& what) const {
    if (rc != SQLITE_OK) fail(what);
  }

  void exec(const char* sql, const std::string& what) const {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string detail = err != nullptr ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      throw std::runtime_error("record store " + path + ": " + what + ": " + detail);
    }
  }

  // A statement that finalises itself.
  class Stmt {
   public:
    Stmt(const Impl& impl, const std::string& sql) : impl_(impl) {
      impl.check(sqlite3_prepare_v2(impl.db, sql.c_str(), -1, &stmt_, nullptr),
                 "cannot prepare '" + sql + "'");
    }
    ~Stmt() { sqlite3_finalize(stmt_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    // True while a row is available.
    bool step(const std::string& what) {
      int rc = sqlite3_step(stmt_);
      if (rc == SQLITE_ROW) return true;
      if (rc == SQLITE_DONE) return false;
      impl_.fail(what);
    }
    sqlite3_stmt* get() const { return stmt_; }

   private:
    const Impl& impl_;
    sqlite3_stmt* stmt_ = nullptr;
  };

  // BEGIN IMMEDIATE ... COMMIT; rolled back if commit() is not reached.
  class Transaction {
   public:
    explicit Transaction(Impl& impl) : impl_(impl) {
      impl.exec("BEGIN IMMEDIATE", "cannot begin a transaction");
    }
    ~Transaction() {
      if (!done_) sqlite3_exec(impl_.db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit() {
      impl_.exec("COMMIT", "cannot commit");
      done_ = true;
    }

   private:
    Impl& impl_;
    bool done_ = false;
  };

  int64_t pragma_int(const char* name) const {
    Stmt s(*this, std::string("PRAGMA ") + name);
    if (!s.step(std::string("cannot read PRAGMA ") + name)) fail(std::string("no ") + name);
    return sqlite3_column_int64(s.get(), 0);
  }

  std::vector<std::string> column_names(const char* table) const {
    Stmt s(*this, std::string("PRAGMA table_info(") + table + ")");
    std::vector<std::string> names;
    while (s.step(std::string("cannot read the columns of ") + table)) {
      names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 1)));
    }
    return names;
  }

  // Whether the store has a table named `table`.
  bool has_table(const char* table) const { return !column_names(table).empty(); }

  // Whether `table` has the first `n` columns of `expected`, and no others.
  template <size_t N>
  bool has_columns(const char* table, const std::array<const char*, N>& expected,
                   size_t n = N) const {
    auto names = column_names(table);
    bool same = names.size() == n;
    for (size_t i = 0; same && i < n; ++i) same = names[i] == expected[i];
    return same;
  }

  enum class Kind { kEmpty, kCurrent, kVersion1 };

  // kEmpty for a database to be initialised, kCurrent for a record store of this version,
  // kVersion1 for one of version 1; throws NotARecordStore otherwise. Only reads.
  Kind classify() const {
    int64_t app_id = pragma_int("application_id");
    int64_t version = pragma_int("user_version");
    std::set<std::string> tables;
    size_t objects = 0;
    {
      Stmt s(*this, "SELECT type, name FROM sqlite_master");
      while (s.step("cannot read the schema")) {
        ++objects;
        std::string type = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0));
        if (type == "table") {
          tables.insert(reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 1)));
        }
      }
    }
    if (app_id == 0 && version == 0 && objects == 0) return Kind::kEmpty;
    if (app_id != kApplicationId) {
      std::string list;
      for (const auto& t : tables) list += (list.empty() ? "" : ", ") + t;
      throw NotARecordStore("an SQLite database of another application (tables: " +
                            (list.empty() ? std::string("none") : list) + ")");
    }
    if (version != kSchemaVersion && version != kHistoryVersion && version != 1) {
      throw NotARecordStore("store format version " + std::to_string(version) +
                            ", this build reads versions " + std::to_string(kSchemaVersion) +
                            " and " + std::to_string(kHistoryVersion) +
                            " (and upgrades version 1)");
    }
    if (version == kHistoryVersion && !tables.contains("session_history")) {
      throw NotARecordStore("table session_history is missing");
    }
    for (const char* t : {"session", "records"}) {
      if (!tables.contains(t)) throw NotARecordStore(std::string("table ") + t + " is missing");
    }
    if (!has_columns("session", kSessionColumns)) {
      throw NotARecordStore("table session has other columns");
    }
    if (!has_columns("records", kRecordColumns,
                     version == 1 ? kVersion1Columns : kRecordColumns.size())) {
      throw NotARecordStore("table records has other columns");
    }
    return version == 1 ? Kind::kVersion1 : Kind::kCurrent;
  }

  // Classifies inside a read transaction; an SQLite error that means "not a database" is
  // reported as such.
  Kind classify_file() {
    exec("BEGIN", "cannot begin a read transaction");
    try {
      Kind kind = classify();
      exec("COMMIT", "cannot end a read transaction");
      return kind;
    } catch (const NotARecordStore& e) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw std::runtime_error(path + " is not an ml2tuner record store: " + e.what());
    } catch (...) {
      int code = sqlite3_errcode(db);
      std::string msg = sqlite3_errmsg(db);
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
        throw std::runtime_error(path + " is not an ml2tuner record store: " + msg);
      }
      throw;
    }
  }

  // Creates the schema in an empty file, or upgrades a version 1 store.
  void create_or_upgrade_schema() {
    Transaction txn(*this);
    // Another process may have initialised or upgraded the file since it was classified.
    Kind kind;
    try {
      kind = classify();
    } catch (const NotARecordStore& e) {
      throw std::runtime_error(path + " is not an ml2tuner record store: " + e.what());
    }
    if (kind == Kind::kEmpty) {
      exec(kCreateSchema, "cannot create the schema");
      exec(kCreateSessionHistory, "cannot create the schema");
      exec(("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str(),
           "cannot set the application id");
    } else if (kind == Kind::kVersion1) {
      exec(kUpgradeFromVersion1, "cannot upgrade the store from version 1");
    }
    if (kind != Kind::kCurrent) {
      exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str(),
           "cannot set the schema version");
    }
    txn.commit();
  }

  void open(int flags) {
    int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
      std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
      throw std::runtime_error("cannot open record store " + path + ": " + detail);
    }
    check(sqlite3_extended_result_codes(db, 1), "cannot enable extended result codes");
    check(sqlite3_busy_timeout(db, kBusyTimeoutMs), "cannot set the busy timeout");
  }

  void prepare_put() {
    std::string cols, params, updates;
    for (size_t i = 0; i < kRecordColumns.size(); ++i) {
      std::string c = kRecordColumns[i];
      cols += (i ? ", " : "") + c;
      params += (i ? ", ?" : "?") + std::to_string(i + 1);
      if (i > 0) updates += (i > 1 ? ", " : "") + c + " = excluded." + c;
    }
    std::string sql = "INSERT INTO records (" + cols + ") VALUES (" + params +
                      ") ON CONFLICT(config_index) DO UPDATE SET " + updates;
    check(sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &put_stmt, nullptr),
          "cannot prepare the record insert");
  }

  std::optional<SessionInfo> read_session() const {
    Stmt s(*this, "SELECT task, target, space_digest, tuner, seed FROM session WHERE id = 1");
    if (!s.step("cannot read the session")) return std::nullopt;
    auto text = [&](int i) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), i));
      return std::string(p != nullptr ? p : "", sqlite3_column_bytes(s.get(), i));
    };
    SessionInfo info;
    info.task = text(0);
    info.target = text(1);
    info.space_digest = text(2);
    info.tuner = text(3);
    info.seed = from_sql(sqlite3_column_int64(s.get(), 4));
    // Stores made before tuning histories existed have no such table: no history.
    if (has_table("session_history")) {
      Stmt h(*this, "SELECT digest FROM session_history WHERE id = 1");
      if (h.step("cannot read the session's tuning history")) {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(h.get(), 0));
        info.history = std::string(p != nullptr ? p : "", sqlite3_column_bytes(h.get(), 0));
      }
    }
    return info;
  }

  // Records `info` if the store holds no session; returns an error message (nothing written) if
  // it holds another. Runs inside the caller's transaction.
  std::optional<std::string> bind_in_transaction(const SessionInfo& info, const char* advice) {
    auto held = read_session();
    if (held) {
      if (same_session(*held, info)) return std::nullopt;
      return "store " + path + " holds " + describe(*held) + ", not " + describe(info) +
             " (they differ in " + differing_fields(*held, info) + "); " + advice;
    }
    Stmt s(*this,
           "INSERT INTO session (id, task, target, space_digest, tuner, seed) "
           "VALUES (1, ?1, ?2, ?3, ?4, ?5)");
    int i = 1;
    for (const std::string* v : {&info.task, &info.target, &info.space_digest, &info.tuner}) {
      check(
          sqlite3_bind_text(s.get(), i++, v->data(), static_cast<int>(v->size()), SQLITE_TRANSIENT),
          "cannot bind the session");
    }
    check(sqlite3_bind_int64(s.get(), 5, to_sql(info.seed)), "cannot bind the session");
    s.step("cannot record the session");
    if (!info.history.empty()) {
      exec(kCreateSessionHistory, "cannot record the session's tuning history");
      Stmt h(*this, "INSERT INTO session_history (id, digest) VALUES (1, ?1)");
      check(sqlite3_bind_text(h.get(), 1, info.history.data(),
                              static_cast<int>(info.history.size()), SQLITE_TRANSIENT),
            "cannot bind the session's tuning history");
      h.step("cannot record the session's tuning history");
      exec(("PRAGMA user_version = " + std::to_string(kHistoryVersion)).c_str(),
           "cannot set the schema version");
    }
    return std::nullopt;
  }

  void put_one(const Record& r) {
    try {
      json config = json::parse(r.config_json);
      if (!config.is_object()) throw std::invalid_argument("not an object");
    } catch (const std::exception& e) {
      throw std::invalid_argument("record store " + path + ": record " +
                                  std::to_string(r.config_index) +
                                  ": config_json is not a JSON object: " + json_error(e));
    }
    if (put_stmt == nullptr) prepare_put();
    sqlite3_stmt* s = put_stmt;
    // Leaves the cached statement clean whatever happens below.
    struct Reset {
      sqlite3_stmt* s;
      ~Reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } reset{s};

    const std::string what = "cannot bind record " + std::to_string(r.config_index);
    auto text = [&](int i, std::string_view v) {
      check(sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT), what);
    };
    auto real = [&](int i, double v) { check(sqlite3_bind_double(s, i, v), what); };
    auto integer = [&](int i, int64_t v) { check(sqlite3_bind_int64(s, i, v), what); };
    auto null = [&](int i) { check(sqlite3_bind_null(s, i), what); };

    std::string hidden = hidden_to_text(r.hidden);
    integer(1, to_sql(r.config_index));
    text(2, r.task);
    text(3, r.target);
    text(4, r.config_json);
    text(5, to_string(r.stage));
    text(6, to_string(r.status));
    text(7, r.message);
    if (r.latency) {
      real(8, r.latency->mean_ms);
      real(9, r.latency->min_ms);
      real(10, r.latency->max_ms);
      real(11, r.latency->std_ms);
      integer(12, r.latency->repeats);
    } else {
      for (int i = 8; i <= 12; ++i) null(i);
    }
    text(13, hidden);
    real(14, r.build_time_s);
    real(15, r.run_time_s);
    real(16, r.virtual_build_s);
    real(17, r.virtual_run_s);
    text(18, r.tuner);
    integer(19, to_sql(r.seed));
    integer(20, r.round);
    if (r.trial) {
      integer(21, *r.trial);
    } else {
      null(21);
    }
    text(22, r.timestamp);
    text(23, r.artifact_digest);
    if (sqlite3_step(s) != SQLITE_DONE)
      fail("cannot write record " + std::to_string(r.config_index));
  }

  Record read_record(sqlite3_stmt* s) const {
    auto text = [&](int i) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
      return std::string(p != nullptr ? p : "", sqlite3_column_bytes(s, i));
    };
    // NaN is stored as NULL by SQLite.
    auto real = [&](int i) {
      return sqlite3_column_type(s, i) == SQLITE_NULL ? std::numeric_limits<double>::quiet_NaN()
                                                      : sqlite3_column_double(s, i);
    };
    Record r;
    r.config_index = from_sql(sqlite3_column_int64(s, 0));
    auto bad = [&](const std::string& what) {
      throw std::runtime_error("record store " + path + ": record " +
                               std::to_string(r.config_index) + ": " + what);
    };
    r.task = text(1);
    r.target = text(2);
    r.config_json = text(3);
    auto stage = stage_from_string(text(4));
    if (!stage) bad("unknown stage " + single_quoted(text(4)));
    r.stage = *stage;
    auto status = status_from_string(text(5));
    if (!status) bad("unknown status " + single_quoted(text(5)));
    r.status = *status;
    r.message = text(6);
    if (sqlite3_column_type(s, 11) != SQLITE_NULL) {
      Measurement m;
      m.mean_ms = real(7);
      m.min_ms = real(8);
      m.max_ms = real(9);
      m.std_ms = real(10);
      m.repeats = sqlite3_column_int(s, 11);
      r.latency = m;
    }
    try {
      json hidden = json::parse(text(12));
      if (!hidden.is_object()) bad("hidden features are not a JSON object");
      for (const auto& [name, value] : hidden.items()) {
        auto v = number_from_json(value);
        if (!v) bad("hidden feature " + single_quoted(name) + " is not a number");
        r.hidden[name] = *v;
      }
    } catch (const json::exception& e) {
      bad("hidden features are not valid JSON: " + json_error(e));
    }
    r.build_time_s = real(13);
    r.run_time_s = real(14);
    r.virtual_build_s = real(15);
    r.virtual_run_s = real(16);
    r.tuner = text(17);
    r.seed = from_sql(sqlite3_column_int64(s, 18));
    r.round = sqlite3_column_int64(s, 19);
    if (sqlite3_column_type(s, 20) != SQLITE_NULL) r.trial = sqlite3_column_int64(s, 20);
    r.timestamp = text(21);
    r.artifact_digest = text(22);
    return r;
  }
};

namespace {

// Throws if `path` exists with content that is not an SQLite database; reads only the header.
void check_sqlite_header(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size == 0) return;
  static constexpr char kMagic[] = "SQLite format 3";  // followed by a NUL: 16 bytes
  std::array<char, sizeof(kMagic)> head{};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  in.read(head.data(), head.size());
  if (in.gcount() != static_cast<std::streamsize>(head.size()) ||
      !std::equal(head.begin(), head.end(), kMagic)) {
    throw std::runtime_error(path + " is not an ml2tuner record store: not an SQLite database");
  }
}

}  // namespace

RecordStore::RecordStore(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  check_sqlite_header(path);
  impl_->open(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  // Nothing is written before the file is known to be empty or a record store.
  if (impl_->classify_file() != Impl::Kind::kCurrent) impl_->create_or_upgrade_schema();
  {
    Impl::Stmt s(*impl_, "PRAGMA journal_mode = WAL");
    if (!s.step("cannot switch to WAL mode")) impl_->fail("cannot switch to WAL mode");
    std::string mode = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0));
    if (mode != "wal" && mode != "memory") {
      throw std::runtime_error("record store " + path + ": cannot switch to WAL mode (mode is " +
                               mode + ")");
    }
  }
  impl_->exec("PRAGMA synchronous = NORMAL", "cannot set synchronous mode");
  impl_->prepare_put();
}

RecordStore::RecordStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RecordStore RecordStore::open_read_only(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw std::runtime_error("no record store at " + path);
  }
  check_sqlite_header(path);
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->open(SQLITE_OPEN_READONLY);
  const Impl::Kind kind = impl->classify_file();
  if (kind == Impl::Kind::kEmpty) {
    throw std::runtime_error(path + " is not an ml2tuner record store: it is empty");
  }
  impl->version1 = kind == Impl::Kind::kVersion1;
  return RecordStore(std::move(impl));
}

RecordStore::~RecordStore() = default;
RecordStore::RecordStore(RecordStore&&) noexcept = default;
RecordStore& RecordStore::operator=(RecordStore&&) noexcept = default;

std::optional<SessionInfo> RecordStore::session() const {
  if (!impl_) throw std::logic_error("use of a moved-from RecordStore");
  return impl_->read_session();
}

void RecordStore::bind(const SessionInfo& info) {
  if (!impl_) throw std::logic_error("use of a moved-from RecordStore");
  impl_->hold_session();
  Impl::Transaction txn(*impl_);
  if (auto error = impl_->bind_in_transaction(info, "pass another --db or the same settings")) {
    throw OtherSessionError(*error);
  }
  txn.commit();
}

void RecordStore::put(const Record& r) {
  if (!impl_) throw std::logic_error("use of a moved-from RecordStore");
  impl_->put_one(r);  // autocommit: one transaction
}

void RecordStore::put_all(const std::vector<Record>& rs) {
  if (!impl_) throw std::logic_error("use of a moved-from RecordStore");
  Impl::Transaction txn(*impl_);
  for (const auto& r : rs) impl_->put_one(r);
  txn.commit();
}

std::vector<Record> RecordStore::records() const {
  if (!impl_) throw std::logic_error("use of a moved-from RecordStore");
  std::string cols;
  for (size_t i = 0; i < kRecordColumns.size(); ++i) {
    // A version 1 store opened read-only has no digests.
    const std::string c = impl_->version1 && i >= kVersion1Columns
                              ? std::string("'' AS ") + kRecordColumns[i]
                              : std::string(kRecordColumns[i]);
    cols += (i ? ", " : "") + c;
  }
  Impl::Stmt s(*impl_,
               "SELECT " + cols + " FROM records ORDER BY (trial IS NULL), trial, config_index");
  std::vector<Record> out;
  while (s.step("cannot read the records")) out.push_back(impl_->read_record(s.get()));
  return out;
}

size_t RecordStore::count() const {
  if (!impl_) throw std::logic_error("use of a moved-from RecordStore");
  Impl::Stmt s(*impl_, "SELECT COUNT(*) FROM records");
  if (!s.step("cannot count the records")) impl_->fail("cannot count the records");
  return static_cast<size_t>(sqlite3_column_int64(s.get(), 0));
}

void RecordStore::export_jsonl(std::ostream& out) const {
  if (!impl_) throw std::logic_error("use of a moved-from RecordStore");
  // One read transaction, so the session and the records are a consistent snapshot.
  impl_->exec("BEGIN", "cannot begin a read transaction");
  struct End {
    sqlite3* db;
    ~End() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
  } end{impl_->db};

  ojson head = ojson::object();
  if (auto s = session()) {
    ojson j = ojson::object();
    j["task"] = s->task;
    j["target"] = s->target;
    j["space_digest"] = s->space_digest;
    j["tuner"] = s->tuner;
    j["seed"] = s->seed;
    if (!s->history.empty()) j["history"] = s->history;
    head["session"] = std::move(j);
  } else {
    head["session"] = nullptr;
  }
  out << dump_line(head) << '\n';

  for (const Record& r : records()) {
    ojson j = ojson::object();
    j["config_index"] = r.config_index;
    j["task"] = r.task;
    j["target"] = r.target;
    try {
      j["config"] = ojson::parse(r.config_json);
    } catch (const ojson::exception& e) {
      throw std::runtime_error("record store " + impl_->path + ": record " +
                               std::to_string(r.config_index) +
                               ": config is not valid JSON: " + json_error(e));
    }
    j["stage"] = std::string(to_string(r.stage));
    j["status"] = std::string(to_string(r.status));
    j["message"] = r.message;
    if (r.latency) {
      ojson l = ojson::object();
      l["mean_ms"] = number_to_json<ojson>(r.latency->mean_ms);
      l["min_ms"] = number_to_json<ojson>(r.latency->min_ms);
      l["max_ms"] = number_to_json<ojson>(r.latency->max_ms);
      l["std_ms"] = number_to_json<ojson>(r.latency->std_ms);
      l["repeats"] = r.latency->repeats;
      j["latency"] = std::move(l);
    } else {
      j["latency"] = nullptr;
    }
    ojson hidden = ojson::object();
    for (const auto& [name, value] : r.hidden) hidden[name] = number_to_json<ojson>(value);
    j["hidden"] = std::move(hidden);
    j["build_time_s"] = number_to_json<ojson>(r.build_time_s);
    j["run_time_s"] = number_to_json<ojson>(r.run_time_s);
    j["virtual_build_s"] = number_to_json<ojson>(r.virtual_build_s);
    j["virtual_run_s"] = number_to_json<ojson>(r.virtual_run_s);
    j["tuner"] = r.tuner;
    j["seed"] = r.seed;
    j["round"] = r.round;
    if (r.trial) {
      j["trial"] = *r.trial;
    } else {
      j["trial"] = nullptr;
    }
    j["timestamp"] = r.timestamp;
    j["artifact_digest"] = r.artifact_digest;
    out << dump_line(j) << '\n';
  }
  out.flush();
  if (!out) throw std::runtime_error("record store " + impl_->path + ": cannot write the export");
}

namespace {

// Field access for import, with errors that name the line and the field.
class Fields {
 public:
  Fields(const ojson& obj, size_t line, std::string where)
      : obj_(obj), line_(line), where_(where) {}

  // Every key in `keys` must be present; those in `optional` may be.
  void expect_keys(std::initializer_list<const char*> keys,
                   std::initializer_list<const char*> optional = {}) const {
    std::set<std::string> known(keys.begin(), keys.end());
    known.insert(optional.begin(), optional.end());
    for (const auto& [key, value] : obj_.items()) {
      if (!known.contains(key)) fail("unknown field " + single_quoted(key));
    }
    for (const char* k : keys) {
      if (!obj_.contains(k)) fail("missing field " + single_quoted(k));
    }
  }
  const ojson& at(const char* key) const { return obj_.at(key); }
  bool has(const char* key) const { return obj_.contains(key); }
  std::string str(const char* key) const {
    const auto& v = at(key);
    if (!v.is_string()) fail(std::string("field '") + key + "' is not a string");
    return v.get<std::string>();
  }
  uint64_t u64(const char* key) const {
    const auto& v = at(key);
    if (!v.is_number_unsigned())
      fail(std::string("field '") + key + "' is not an unsigned integer");
    return v.get<uint64_t>();
  }
  int64_t i64(const char* key) const {
    const auto& v = at(key);
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail(std::string("field '") + key + "' is out of range");
    }
    if (!v.is_number_integer()) fail(std::string("field '") + key + "' is not an integer");
    return v.get<int64_t>();
  }
  double num(const char* key) const {
    auto v = number_from_json(at(key));
    if (!v) fail(std::string("field '") + key + "' is not a number");
    return *v;
  }
  [[noreturn]] void fail(const std::string& what) const { throw ImportError(line_, where_ + what); }

 private:
  const ojson& obj_;
  size_t line_;
  std::string where_;
};

std::optional<SessionInfo> parse_session_line(const ojson& j, size_t line) {
  if (!j.is_object() || j.size() != 1 || !j.contains("session")) {
    throw ImportError(line, "expected the session line {\"session\": {...}} first");
  }
  const ojson& s = j.at("session");
  if (s.is_null()) return std::nullopt;
  if (!s.is_object()) throw ImportError(line, "session is not an object");
  Fields f(s, line, "session: ");
  f.expect_keys({"task", "target", "space_digest", "tuner", "seed"}, {"history"});
  SessionInfo info;
  info.task = f.str("task");
  info.target = f.str("target");
  info.space_digest = f.str("space_digest");
  info.tuner = f.str("tuner");
  info.seed = f.u64("seed");
  if (s.contains("history")) info.history = f.str("history");
  return info;
}

Record parse_record_line(const ojson& j, size_t line) {
  if (!j.is_object()) throw ImportError(line, "a record is not a JSON object");
  Fields f(j, line, "");
  f.expect_keys({"config_index", "task", "target", "config", "stage", "status", "message",
                 "latency", "hidden", "build_time_s", "run_time_s", "virtual_build_s",
                 "virtual_run_s", "tuner", "seed", "round", "trial", "timestamp"},
                {"artifact_digest"});  // absent in exports of version 1 stores
  Record r;
  r.config_index = f.u64("config_index");
  r.task = f.str("task");
  r.target = f.str("target");
  const ojson& config = f.at("config");
  if (!config.is_object()) f.fail("field 'config' is not an object");
  r.config_json = dump_line(config);
  std::string stage = f.str("stage");
  auto st = stage_from_string(stage);
  if (!st) f.fail("unknown stage " + single_quoted(stage));
  r.stage = *st;
  std::string status = f.str("status");
  auto ss = status_from_string(status);
  if (!ss) f.fail("unknown status " + single_quoted(status));
  r.status = *ss;
  r.message = f.str("message");
  const ojson& latency = f.at("latency");
  if (!latency.is_null()) {
    if (!latency.is_object()) f.fail("field 'latency' is neither an object nor null");
    Fields l(latency, line, "latency: ");
    l.expect_keys({"mean_ms", "min_ms", "max_ms", "std_ms", "repeats"});
    Measurement m;
    m.mean_ms = l.num("mean_ms");
    m.min_ms = l.num("min_ms");
    m.max_ms = l.num("max_ms");
    m.std_ms = l.num("std_ms");
    int64_t repeats = l.i64("repeats");
    if (repeats < 0 || repeats > std::numeric_limits<int>::max()) {
      l.fail("field 'repeats' is out of range");
    }
    m.repeats = static_cast<int>(repeats);
    // What the tuner would never have stored: the models and `best` would take it as a time.
    if (!(m.mean_ms > 0 && std::isfinite(m.mean_ms))) {
      l.fail("field 'mean_ms' must be a positive time, got " + latency.at("mean_ms").dump());
    }
    r.latency = m;
  }
  if (r.status == Status::kOk && r.stage == Stage::kRun && !r.latency) {
    f.fail("a successful run needs a latency");
  }
  const ojson& hidden = f.at("hidden");
  if (!hidden.is_object()) f.fail("field 'hidden' is not an object");
  for (const auto& [name, value] : hidden.items()) {
    auto v = number_from_json(value);
    if (!v) f.fail("hidden feature " + single_quoted(name) + " is not a number");
    r.hidden[name] = *v;
  }
  r.build_time_s = f.num("build_time_s");
  r.run_time_s = f.num("run_time_s");
  r.virtual_build_s = f.num("virtual_build_s");
  r.virtual_run_s = f.num("virtual_run_s");
  r.tuner = f.str("tuner");
  r.seed = f.u64("seed");
  r.round = f.i64("round");
  if (r.round < 0) f.fail("field 'round' must be >= 0");
  if (!f.at("trial").is_null()) {
    r.trial = f.i64("trial");
    if (*r.trial < 1) f.fail("field 'trial' must be >= 1 (or null)");
  }
  r.timestamp = f.str("timestamp");
  if (f.has("artifact_digest")) r.artifact_digest = f.str("artifact_digest");
  return r;
}

}  // namespace

size_t RecordStore::import_jsonl(std::istream& in) {
  if (!impl_) throw std::logic_error("use of a moved-from RecordStore");
  const std::string prefix = "cannot import into " + impl_->path + ": ";
  std::optional<SessionInfo> info;
  bool have_session_line = false;
  std::vector<Record> records;
  std::map<uint64_t, size_t> line_of;  // config index -> line it was read from
  try {
    std::string text;
    size_t line = 0;
    while (std::getline(in, text)) {
      ++line;
      if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
      ojson j;
      try {
        j = ojson::parse(text);
      } catch (const ojson::parse_error& e) {
        throw ImportError(line, "not valid JSON: " + json_error(e));
      } catch (const ojson::exception& e) {  // a number beyond a double (1e400), and the like
        throw ImportError(line, std::string("not valid JSON: ") + e.what());
      }
      if (!have_session_line) {
        info = parse_session_line(j, line);
        have_session_line = true;
        continue;
      }
      Record r = parse_record_line(j, line);
      auto [it, inserted] = line_of.emplace(r.config_index, line);
      if (!inserted) {
        throw ImportError(line, "config_index " + std::to_string(r.config_index) +
                                    " already appears on line " + std::to_string(it->second));
      }
      records.push_back(std::move(r));
    }
    if (in.bad()) throw std::runtime_error("read error");
    if (!have_session_line) throw std::runtime_error("no session line (the input is empty)");
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(prefix + e.what());
  }

  impl_->hold_session();
  Impl::Transaction txn(*impl_);
  if (info) {
    if (auto error = impl_->bind_in_transaction(*info, "import into another store")) {
      throw std::runtime_error(prefix + *error);
    }
  }
  for (const auto& r : records) impl_->put_one(r);
  txn.commit();
  return records.size();
}

std::string utc_timestamp() {
  using namespace std::chrono;
  int64_t ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  int64_t secs = ms / 1000;
  int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) throw std::runtime_error("cannot convert the time to UTC");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(frac));
  return buf;
}

}  // namespace ml2
