// Linux's open-file-description locks on one byte of a file. Such a lock belongs to the open file,
// not to the process: a forked child that keeps the descriptor keeps the lock, and the kernel drops
// it when the last descriptor is closed, so a killed process leaves nothing to clean up.
#pragma once

#include <sys/types.h>

#include <string>

namespace ml2 {

enum class LockState {
  kHeld,         // the descriptor holds the lock; close it to release
  kBusy,         // another open file holds it
  kUnsupported,  // the file system has no such locks (nothing is held)
};

// Opens `path` for writing (creating it, mode 0644, when `create`) and tries once to take a write
// lock on byte `byte`. On kHeld, *fd is the descriptor that holds it (close-on-exec); otherwise
// *fd is -1. Throws std::runtime_error naming `path` when it cannot be opened.
LockState try_lock_byte(const std::string& path, off_t byte, bool create, int* fd);

}  // namespace ml2
