#include <tapegrad/core/append_file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <tapegrad/core/error.hpp>
#include <tapegrad/core/posix_io.hpp>

namespace tapegrad {

AppendFile::AppendFile(std::string op, std::string path)
    : op_(std::move(op)), path_(std::move(path)) {
  // O_NONBLOCK: a FIFO put in the log's place must not block the open; it is refused below.
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) fail("cannot open it", errno);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail("cannot stat it", errno);
  // A regular file ignores O_NONBLOCK, so its writes stay blocking.
  if (!S_ISREG(st.st_mode)) fail("not a regular file");
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::fail(std::string_view what, int err) const {
  const std::string reason = err == 0 ? "" : fmt::format(": {}", std::strerror(err));
  throw IOError(fmt::format("{}: cannot append to '{}': {}{}", op_, path_, what, reason));
}

void AppendFile::append(std::string_view text) {
  if (const int err = write_all(fd_, text.data(), text.size()); err != 0) fail("write failed", err);
}

}  // namespace tapegrad
