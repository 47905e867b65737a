#include "ml2tuner/worker_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "measure/wire.h"
#include "util/fork_closed.h"

namespace ml2 {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string errno_text(int err) { return std::strerror(err); }

void reap(pid_t pid, int* status) {
  while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
}

// ---- the worker side (runs in the forked child; leaves only through _exit) ----

[[noreturn]] void worker_exit(int code) {
  std::fflush(nullptr);  // the target's output; the tuner flushed its own buffers before fork
  _exit(code);
}

// Reads until n bytes or EOF/error; returns the bytes read.
size_t read_full(int fd, void* out, size_t n) {
  auto* p = static_cast<char*>(out);
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);
    if (r > 0) {
      got += static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  return got;
}

bool send_full(int fd, const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
    if (r > 0) {
      p += r;
      n -= static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

std::string out_of_memory_message(int64_t memory_limit_mb) {
  if (memory_limit_mb <= 0) return "out of memory";
  return "out of memory: the worker exceeded its " + std::to_string(memory_limit_mb) +
         " MiB allowance";
}

template <class Result>
void fail(Result& r, Status status, std::string message) {
  r = Result{};
  r.status = status;
  r.message = std::move(message);
}

// Serves one request; the reply is an encoded BuildResult or RunResult.
std::string serve_one(const Target& target, Stage stage, std::string_view request,
                      int64_t memory_limit_mb) {
  const auto t0 = Clock::now();
  const Status error = stage == Stage::kBuild ? Status::kCompileError : Status::kRuntimeError;
  const char* call = stage == Stage::kBuild ? "build()" : "run()";
  auto finish = [&](auto& result) {
    if (result.wall_s == 0) result.wall_s = seconds_since(t0);
    try {
      return wire::encode(result);
    } catch (const std::bad_alloc&) {
      fail(result, Status::kRuntimeError, out_of_memory_message(memory_limit_mb));
      return wire::encode(result);
    }
  };
  auto guarded = [&](auto& result, auto&& body) {
    try {
      body();
    } catch (const std::bad_alloc&) {
      fail(result, Status::kRuntimeError, out_of_memory_message(memory_limit_mb));
    } catch (const std::exception& e) {
      fail(result, error, e.what());
    } catch (...) {
      fail(result, error, std::string("the target's ") + call + " threw a non-standard exception");
    }
  };
  if (stage == Stage::kBuild) {
    BuildResult result;
    guarded(result, [&] { result = target.build(wire::decode_config(request)); });
    return finish(result);
  }
  RunResult result;
  guarded(result, [&] { result = target.run(std::string(request)); });
  return finish(result);
}

void limit_address_space(int64_t memory_limit_mb) {
  if (memory_limit_mb <= 0) return;
  // The first field of statm is the current virtual size, in pages.
  unsigned long pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%lu", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  const auto page = static_cast<rlim_t>(sysconf(_SC_PAGESIZE));
  rlim_t want = static_cast<rlim_t>(pages) * page + static_cast<rlim_t>(memory_limit_mb) * 1048576;
  rlimit current{};
  if (getrlimit(RLIMIT_AS, &current) == 0) {
    if (current.rlim_cur != RLIM_INFINITY) want = std::min(want, current.rlim_cur);
    if (current.rlim_max != RLIM_INFINITY) want = std::min(want, current.rlim_max);
  }
  rlimit lim{want, want};
  setrlimit(RLIMIT_AS, &lim);
}

[[noreturn]] void worker_main(const Target& target, Stage stage, int fd, int64_t memory_limit_mb,
                              pid_t tuner) {
  // Die with the tuner; if it already died between fork() and prctl(), leave now.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != tuner) _exit(1);
  // A terminal's Ctrl-C reaches the whole process group: the tuner decides (`tune` stops after
  // the measurements in flight), and a measurement must not turn into a false crash meanwhile.
  signal(SIGINT, SIG_IGN);
  // A crash must not spend seconds writing a core file of the whole tuner.
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  limit_address_space(memory_limit_mb);

  for (;;) {
    uint32_t len = 0;
    size_t got = read_full(fd, &len, sizeof len);
    if (got == 0) worker_exit(0);  // the pool closed the connection
    if (got != sizeof len) worker_exit(1);
    std::string reply;
    std::string request;
    bool have_request = true;
    try {
      request.resize(len);
    } catch (const std::bad_alloc&) {
      have_request = false;
    }
    if (have_request) {
      if (read_full(fd, request.data(), len) != len) worker_exit(1);
      reply = serve_one(target, stage, request, memory_limit_mb);
    } else {
      // Too large for the allowance: drain it and answer with the out-of-memory failure.
      char sink[65536];
      for (uint32_t left = len; left > 0;) {
        size_t n = read_full(fd, sink, std::min<size_t>(left, sizeof sink));
        if (n == 0) worker_exit(1);
        left -= static_cast<uint32_t>(n);
      }
      const std::string message = out_of_memory_message(memory_limit_mb);
      if (stage == Stage::kBuild) {
        BuildResult r;
        fail(r, Status::kRuntimeError, message);
        reply = wire::encode(r);
      } else {
        RunResult r;
        fail(r, Status::kRuntimeError, message);
        reply = wire::encode(r);
      }
    }
    const auto reply_len = static_cast<uint32_t>(reply.size());
    if (!send_full(fd, &reply_len, sizeof reply_len) || !send_full(fd, reply.data(), reply.size()))
      worker_exit(1);
    std::fflush(nullptr);
  }
}

// ---- the tuner side ----

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "worker exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (sig == SIGABRT) return "worker aborted (SIGABRT)";
    std::string s =
        "worker killed by signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
    if (sig == SIGKILL) s += "; the system may have run out of memory";
    return s;
  }
  return "worker stopped with wait status " + std::to_string(status);
}

struct Outcome {
  bool ok = false;
  std::string reply;  // the encoded result, when ok
  Status status = Status::kCrash;
  std::string message;
  double wall_s = 0;
};

enum class Io { kPending, kDone, kDead };

struct Worker {
  pid_t pid = -1;
  int fd = -1;
  bool busy = false;
  size_t job = 0;
  Clock::time_point start;
  Clock::time_point deadline;
  // The request being sent: a length header, then the body.
  char header[4] = {};
  std::string_view body;
  size_t sent = 0;
  // The reply being received.
  char len_buf[4] = {};
  size_t len_got = 0;
  std::string reply;
  size_t reply_got = 0;

  bool sending() const { return sent < sizeof header + body.size(); }
};

}  // namespace

struct WorkerPool::Impl {
  const Target& target;
  Stage stage;
  WorkerPoolOptions options;
  std::vector<Worker> workers;
  int64_t respawns = 0;

  Impl(const Target& t, Stage s, WorkerPoolOptions o) : target(t), stage(s), options(o) {}

  ~Impl() {
    for (auto& w : workers) close_connection(w);
    for (auto& w : workers) {
      if (w.pid > 0) kill(w.pid, SIGKILL);
    }
    for (auto& w : workers) {
      if (w.pid > 0) {
        int status = 0;
        reap(w.pid, &status);
        w.pid = -1;
      }
    }
  }

  void close_connection(Worker& w) {
    if (w.fd < 0) return;
    keep_in_forked_workers(w.fd);
    close(w.fd);
    w.fd = -1;
  }

  void spawn(Worker& w) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      throw std::runtime_error("cannot start a measurement worker: socketpair: " +
                               errno_text(errno));
    }
    close_in_forked_workers(sv[0]);  // the tuner's end, in every later worker
    std::fflush(nullptr);            // otherwise buffered output would be written twice
    const pid_t tuner = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
      const int err = errno;
      keep_in_forked_workers(sv[0]);
      close(sv[0]);
      close(sv[1]);
      throw std::runtime_error("cannot start a measurement worker: fork: " + errno_text(err));
    }
    if (pid == 0) {
      close_registered_after_fork();
      worker_main(target, stage, sv[1], options.memory_limit_mb, tuner);
    }
    close(sv[1]);
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    w = Worker{};
    w.pid = pid;
    w.fd = sv[0];
  }

  Io pump_send(Worker& w) {
    while (w.sending()) {
      const char* p;
      size_t n;
      if (w.sent < sizeof w.header) {
        p = w.header + w.sent;
        n = sizeof w.header - w.sent;
      } else {
        p = w.body.data() + (w.sent - sizeof w.header);
        n = w.body.size() - (w.sent - sizeof w.header);
      }
      ssize_t r = send(w.fd, p, n, MSG_NOSIGNAL);
      if (r > 0) {
        w.sent += static_cast<size_t>(r);
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return Io::kPending;
      } else {
        return Io::kDead;
      }
    }
    return Io::kDone;
  }

  Io pump_recv(Worker& w) {
    for (;;) {
      char* p;
      size_t n;
      if (w.len_got < sizeof w.len_buf) {
        p = w.len_buf + w.len_got;
        n = sizeof w.len_buf - w.len_got;
      } else {
        if (w.reply_got == w.reply.size()) return Io::kDone;
        p = w.reply.data() + w.reply_got;
        n = w.reply.size() - w.reply_got;
      }
      ssize_t r = read(w.fd, p, n);
      if (r > 0) {
        if (w.len_got < sizeof w.len_buf) {
          w.len_got += static_cast<size_t>(r);
          if (w.len_got == sizeof w.len_buf) {
            uint32_t len;
            std::memcpy(&len, w.len_buf, sizeof len);
            w.reply.resize(len);
            w.reply_got = 0;
          }
        } else {
          w.reply_got += static_cast<size_t>(r);
        }
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return Io::kPending;
      } else {
        return Io::kDead;  // EOF or a reset connection
      }
    }
  }

  // The worker closed its connection: find out how it ended.
  std::string reap_dead(Worker& w) {
    close_connection(w);
    const pid_t pid = w.pid;
    w.pid = -1;
    // Its descriptors close moments before it becomes waitable.
    const auto give_up = Clock::now() + std::chrono::seconds(1);
    for (;;) {
      int status = 0;
      pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid) return describe_wait_status(status);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return "worker died (its exit status is unavailable: " + errno_text(errno) + ")";
      if (Clock::now() > give_up) {
        kill(pid, SIGKILL);
        reap(pid, &status);
        return "worker closed its connection without a result; worker killed";
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  void kill_worker(Worker& w) {
    close_connection(w);
    if (w.pid > 0) {
      kill(w.pid, SIGKILL);
      int status = 0;
      reap(w.pid, &status);
    }
    w.pid = -1;
  }

  struct Batch {
    std::vector<Outcome> out;
    size_t remaining = 0;
  };

  void finish(Batch& b, Worker& w, Outcome o) {
    b.out[w.job] = std::move(o);
    w.busy = false;
    --b.remaining;
  }

  void on_dead(Batch& b, Worker& w) {
    Outcome o;
    o.wall_s = seconds_since(w.start);
    o.status = Status::kCrash;
    o.message = reap_dead(w);
    finish(b, w, std::move(o));
    ++respawns;
    spawn(w);
  }

  void on_timeout(Batch& b, Worker& w) {
    Outcome o;
    o.wall_s = seconds_since(w.start);
    o.status = stage == Stage::kBuild ? Status::kBuildTimeout : Status::kRunTimeout;
    char text[96];
    std::snprintf(text, sizeof text, "no result after %g s; worker killed", options.timeout_s);
    o.message = text;
    kill_worker(w);
    finish(b, w, std::move(o));
    ++respawns;
    spawn(w);
  }

  void on_readable(Batch& b, Worker& w) {
    switch (pump_recv(w)) {
      case Io::kPending:
        return;
      case Io::kDead:
        on_dead(b, w);
        return;
      case Io::kDone: {
        Outcome o;
        o.ok = true;
        o.wall_s = seconds_since(w.start);
        o.reply = std::move(w.reply);
        w.reply.clear();
        finish(b, w, std::move(o));
        return;
      }
    }
  }

  void start(Batch& b, Worker& w, size_t job, std::string_view body) {
    const auto len = static_cast<uint32_t>(body.size());
    std::memcpy(w.header, &len, sizeof len);
    w.body = body;
    w.sent = 0;
    w.len_got = 0;
    w.reply.clear();
    w.reply_got = 0;
    w.job = job;
    w.busy = true;
    w.start = Clock::now();
    // Clamped so that an absurd timeout cannot overflow the clock.
    const double limit_s = std::min(options.timeout_s, 1e7);
    w.deadline = w.start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(limit_s));
    if (pump_send(w) == Io::kDead) on_dead(b, w);
  }

  std::vector<Outcome> execute(const std::vector<std::string_view>& requests) {
    for (auto body : requests) {
      if (body.size() > std::numeric_limits<uint32_t>::max()) {
        throw std::length_error("a measurement request exceeds 4 GiB");
      }
    }
    Batch b;
    b.out.resize(requests.size());
    b.remaining = requests.size();
    try {
      for (auto& w : workers) {
        if (w.pid < 0) {  // lost to an earlier failure
          ++respawns;
          spawn(w);
        }
      }
      size_t next = 0;
      std::vector<pollfd> fds;
      std::vector<size_t> owner;
      while (b.remaining > 0) {
        for (auto& w : workers) {
          if (next == requests.size()) break;
          if (!w.busy) {
            start(b, w, next, requests[next]);
            ++next;
          }
        }
        fds.clear();
        owner.clear();
        Clock::time_point nearest = Clock::time_point::max();
        for (size_t i = 0; i < workers.size(); ++i) {
          const Worker& w = workers[i];
          if (!w.busy) continue;
          fds.push_back({w.fd, static_cast<short>(POLLIN | (w.sending() ? POLLOUT : 0)), 0});
          owner.push_back(i);
          nearest = std::min(nearest, w.deadline);
        }
        if (fds.empty()) continue;  // every started job failed at once; hand out the rest
        const double wait_ms =
            std::chrono::duration<double, std::milli>(nearest - Clock::now()).count();
        const int timeout_ms =
            static_cast<int>(std::clamp(std::ceil(wait_ms), 0.0, double{INT32_MAX}));
        if (poll(fds.data(), fds.size(), timeout_ms) < 0) {
          if (errno == EINTR) continue;
          throw std::runtime_error("poll on measurement workers failed: " + errno_text(errno));
        }
        for (size_t k = 0; k < fds.size(); ++k) {
          Worker& w = workers[owner[k]];
          const short ev = fds[k].revents;
          if (!w.busy || w.fd != fds[k].fd || ev == 0) continue;
          if ((ev & POLLOUT) && w.sending() && pump_send(w) == Io::kDead) {
            on_dead(b, w);
            continue;
          }
          if (ev & (POLLIN | POLLHUP | POLLERR)) on_readable(b, w);
        }
        const auto now = Clock::now();
        for (auto& w : workers) {
          if (w.busy && now >= w.deadline) on_timeout(b, w);
        }
      }
    } catch (...) {
      // Workers still serving this batch would answer into the next one: discard them.
      for (auto& w : workers) {
        if (w.busy) {
          kill_worker(w);
          w.busy = false;
        }
      }
      throw;
    }
    return std::move(b.out);
  }
};

WorkerPool::WorkerPool(const Target& target, Stage stage, WorkerPoolOptions options)
    : impl_(std::make_unique<Impl>(target, stage, options)) {
  if (options.workers < 1) throw std::invalid_argument("a worker pool needs at least one worker");
  if (!(options.timeout_s > 0)) throw std::invalid_argument("the worker timeout must be positive");
  if (options.memory_limit_mb < 0) {
    throw std::invalid_argument("the worker memory limit must be >= 0 (0: no limit)");
  }
  impl_->workers.resize(static_cast<size_t>(options.workers));
  for (auto& w : impl_->workers) impl_->spawn(w);
}

WorkerPool::~WorkerPool() = default;

namespace {

// Decodes the replies of a batch; a worker that died, hung or sent garbage gets a typed failure.
template <class Result>
std::vector<Result> collect(std::vector<Outcome>& outcomes,
                            Result (*decode)(std::string_view reply)) {
  std::vector<Result> results(outcomes.size());
  for (size_t i = 0; i < outcomes.size(); ++i) {
    Outcome& o = outcomes[i];
    Result& r = results[i];
    if (o.ok) {
      try {
        r = decode(o.reply);
        continue;
      } catch (const std::exception& e) {
        o.message = std::string("worker sent a malformed result: ") + e.what();
      }
    }
    r.status = o.status;
    r.message = std::move(o.message);
    r.wall_s = o.wall_s;
  }
  return results;
}

}  // namespace

std::vector<BuildResult> WorkerPool::build(const std::vector<Config>& configs) {
  if (impl_->stage != Stage::kBuild) throw std::logic_error("build() on a run worker pool");
  std::vector<std::string> encoded;
  encoded.reserve(configs.size());
  for (const auto& c : configs) encoded.push_back(wire::encode(c));
  std::vector<std::string_view> requests(encoded.begin(), encoded.end());
  std::vector<Outcome> outcomes = impl_->execute(requests);
  return collect<BuildResult>(outcomes, &wire::decode_build_result);
}

std::vector<RunResult> WorkerPool::run(const std::vector<std::string>& artifacts) {
  if (impl_->stage != Stage::kRun) throw std::logic_error("run() on a build worker pool");
  std::vector<std::string_view> requests(artifacts.begin(), artifacts.end());
  std::vector<Outcome> outcomes = impl_->execute(requests);
  return collect<RunResult>(outcomes, &wire::decode_run_result);
}

int WorkerPool::workers() const { return static_cast<int>(impl_->workers.size()); }

int64_t WorkerPool::respawns() const { return impl_->respawns; }

}  // namespace ml2
