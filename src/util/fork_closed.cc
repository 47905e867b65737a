#include "util/fork_closed.h"

#include <unistd.h>

#include <algorithm>
#include <vector>

namespace ml2 {
namespace {

std::vector<int>& registered() {
  static auto* fds = new std::vector<int>;
  return *fds;
}

}  // namespace

void close_in_forked_workers(int fd) { registered().push_back(fd); }

void keep_in_forked_workers(int fd) {
  auto& fds = registered();
  fds.erase(std::remove(fds.begin(), fds.end(), fd), fds.end());
}

void close_registered_after_fork() {
  for (int fd : registered()) close(fd);
}

}  // namespace ml2
