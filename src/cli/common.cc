#include "cli/common.h"

#include <signal.h>
#include <unistd.h>
#include <zlib.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace ml2::cli {

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string format_ms(std::optional<double> ms) {
  if (!ms) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g ms", *ms);
  return buf;
}

void write_json_file(const std::string& path, const nlohmann::json& j) {
  write_text(path, j.dump(2) + "\n");
}

void write_text(const std::string& path, const std::string& text) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (!f) throw UsageError("cannot write " + path);
    const bool ok = gzwrite(f, text.data(), static_cast<unsigned>(text.size())) ==
                    static_cast<int>(text.size());
    if (gzclose(f) != Z_OK || !ok) throw std::runtime_error("failed writing " + path);
    return;
  }
  std::ofstream out(path);
  if (!out) throw UsageError("cannot write " + path);
  out << text;
  if (!out) throw std::runtime_error("failed writing " + path);
}

void TargetArgs::add_to(CLI::App* app, bool with_target, bool with_space) {
  if (with_target) {
    app->add_option("--target", target, "target: " + join(target_names()))->capture_default_str();
  }
  if (with_space) {
    app->add_option("--space", options.space, "replay: a Kernel Tuner cache or KTT output file");
  }
  app->add_option("--task", options.task,
                  "vta: a workload (see `ml2tuner tasks`) or conv2d:h=..,w=..,ci=..,co=..,k=.. / "
                  "dense:ci=..,co=..")
      ->capture_default_str();
  app->add_option("--template", options.tmpl, "vta: schedule template, stock or extended")
      ->capture_default_str();
  app->add_option("--hw", options.hw, "vta: hardware preset (default, extended) or JSON file")
      ->capture_default_str();
  app->add_option("--noise", options.noise, "vta: relative measurement noise (0: none)")
      ->capture_default_str();
  app->add_option("--noise-seed", options.noise_seed, "vta: seed of the measurement noise")
      ->capture_default_str();
}

namespace {

volatile std::sig_atomic_t stop_signal = 0;

extern "C" void on_stop_signal(int sig) { stop_signal = sig; }

struct StopRequested {};  // thrown from the progress callback

}  // namespace

StopSignals::StopSignals() {
  stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

bool stop_requested() { return stop_signal != 0; }
const char* stop_signal_name() { return stop_signal == SIGINT ? "SIGINT" : "SIGTERM"; }

std::optional<TuneSummary> run_stoppable(Tuner& tuner, ProgressPrinter& printer, int64_t budget,
                                         const std::string& db) {
  int64_t stored_trials = 0;
  tuner.on_progress([&](const Progress& p) {
    printer(p);
    stored_trials = p.trials;
    if (stop_signal != 0) throw StopRequested{};
  });
  StopSignals signals;
  try {
    TuneSummary s = tuner.run();
    printer.finish();
    return s;
  } catch (const StopRequested&) {
    printer.finish();
    std::cerr << "ml2tuner: stopped by " << stop_signal_name() << " after " << stored_trials
              << " of " << budget << " trials; "
              << (db.empty() ? "without --db they are not kept"
                             : "they are in " + db + ", and the same command resumes")
              << "\n";
    return std::nullopt;
  }
}

int stop_exit_code() { return 128 + stop_signal; }

ProgressPrinter::ProgressPrinter(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0) {}

void ProgressPrinter::operator()(const Progress& p) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const double gap = tty_ ? 0.1 : 1.0;
  if (printed_ && std::chrono::duration<double>(now - last_).count() < gap && p.trials < p.budget) {
    return;
  }
  last_ = now;
  printed_ = true;
  std::fprintf(stderr,
               "%s[%lld/%lld] valid %lld invalid %lld best %s elapsed %.1f s virtual %.1f s%s",
               tty_ ? "\r" : "", static_cast<long long>(p.trials), static_cast<long long>(p.budget),
               static_cast<long long>(p.valid), static_cast<long long>(p.invalid),
               format_ms(p.best_ms).c_str(), p.elapsed_s, p.virtual_s, tty_ ? "   " : "\n");
  std::fflush(stderr);
}

void ProgressPrinter::finish() {
  if (printed_ && tty_ && !quiet_) std::fputc('\n', stderr);
}

TempStorePath::TempStorePath() {
  char tmpl[] = "/tmp/ml2tuner-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("cannot create a temporary record store in /tmp");
  close(fd);
  std::filesystem::remove(tmpl);
  path_ = tmpl;
  path_ += ".db";
}

TempStorePath::~TempStorePath() { remove_store_files(path_); }

void remove_store_files(const std::string& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ec);
}

}  // namespace ml2::cli
