// Pieces the ml2tuner subcommands share.
#pragma once

#include <signal.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "ml2tuner/target.h"
#include "ml2tuner/tuner.h"

namespace ml2::cli {

// A user's mistake: reported as one line, exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string one_line(std::string s);
std::string join(const std::vector<std::string>& v);
std::string format_ms(std::optional<double> ms);
void write_json_file(const std::string& path, const nlohmann::json& j);
// Writes `text` to `path`, gzip-compressed when the name ends in .gz.
void write_text(const std::string& path, const std::string& text);

// The options that choose and configure a target, shared by tune, sweep, compile and space.
struct TargetArgs {
  std::string target = "vta";
  TargetOptions options;
  // Adds --target (unless fixed), --space, --task, --template, --hw, --noise, --noise-seed.
  void add_to(CLI::App* app, bool with_target = true, bool with_space = true);
};

// The progress line: rewritten in place on a terminal, a line per second otherwise.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet);
  void operator()(const Progress& p);
  void finish();

 private:
  bool quiet_;
  bool tty_;
  bool printed_ = false;
  std::chrono::steady_clock::time_point last_;
};

// While one lives, the first SIGINT or SIGTERM is only noted (stop_requested()); the handler is
// then reset, so that a second signal ends the process at once. The previous dispositions are
// restored when it ends.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ = {};
  struct sigaction old_term_ = {};
};
bool stop_requested();
const char* stop_signal_name();  // "SIGINT" or "SIGTERM"

// Runs `tuner`, printing its progress. The first SIGINT (a terminal's Ctrl-C) or SIGTERM stops it
// once the measurements in flight are stored; it then says how far it got and how to resume
// (`db`: the store, empty for a temporary one) and returns nullopt, and the command should exit
// with stop_exit_code() (128 + the signal). A second signal ends the process at once.
std::optional<TuneSummary> run_stoppable(Tuner& tuner, ProgressPrinter& printer, int64_t budget,
                                         const std::string& db);
int stop_exit_code();

// Removes a record store's file and SQLite's -wal and -shm files beside it, if they exist.
void remove_store_files(const std::string& path);

// A temporary store for a command without --db, removed when the command ends.
class TempStorePath {
 public:
  TempStorePath();
  ~TempStorePath();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Subcommands of the VTA target (vta_commands.cc).
void add_vta_commands(CLI::App& app, std::vector<std::function<int()>>& runners);

}  // namespace ml2::cli
