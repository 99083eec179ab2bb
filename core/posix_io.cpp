#include <tapegrad/core/posix_io.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace tapegrad {

int write_all(int fd, const void* data, std::size_t bytes) {
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const std::size_t chunk = std::min<std::size_t>(bytes, std::size_t{1} << 30);
    const ssize_t put = ::write(fd, p, chunk);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) return errno;
    p += put;
    bytes -= static_cast<std::size_t>(put);
  }
  return 0;
}

}  // namespace tapegrad
