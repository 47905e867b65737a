// Descriptors that a forked measurement worker closes before anything else: the tuner's ends of
// the other workers' connections (so that the tuner sees EOF as soon as a worker dies, and no
// worker reads another's messages) and a record store's session lock (so that a worker outliving
// a killed tuner by a moment does not keep the store locked). The process is single-threaded
// when it forks workers; the registry is leaked on purpose, as pools and stores may be destroyed
// by static destructors.
#pragma once

namespace ml2 {

// Registers `fd` to be closed in every worker forked from now on.
void close_in_forked_workers(int fd);
// Unregisters `fd`; call it before closing `fd`.
void keep_in_forked_workers(int fd);
// In a freshly forked worker: closes every registered descriptor.
void close_registered_after_fork();

}  // namespace ml2
