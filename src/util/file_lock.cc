#include "util/file_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ml2 {

LockState try_lock_byte(const std::string& path, off_t byte, bool create, int* fd) {
  *fd = -1;
  const int f = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
  if (f < 0) {
    throw std::runtime_error(path + ": cannot open it to lock it: " + std::strerror(errno));
  }
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = byte;
  lock.l_len = 1;
  if (fcntl(f, F_OFD_SETLK, &lock) != 0) {
    const int err = errno;
    close(f);
    return err == EAGAIN || err == EACCES ? LockState::kBusy : LockState::kUnsupported;
  }
  *fd = f;
  return LockState::kHeld;
}

}  // namespace ml2
