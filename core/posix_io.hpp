// The one loop that writes a whole buffer to a file descriptor, shared by the file writers
// of core/ (atomic replacement, appending logs).
#pragma once

#include <cstddef>

namespace tapegrad {

// Writes all `bytes`, resuming after partial writes and signals. Returns 0, or the errno
// of the write that failed.
int write_all(int fd, const void* data, std::size_t bytes);

}  // namespace tapegrad
