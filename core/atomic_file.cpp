#include <tapegrad/core/atomic_file.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include <tapegrad/core/error.hpp>

namespace tapegrad {

AtomicFileWriter::AtomicFileWriter(std::string op, std::string path)
    : op_(std::move(op)),
      path_(std::move(path)),
      // The pid keeps two processes writing the same target from sharing a temporary.
      tmp_(fmt::format("{}.tmp.{}", path_, ::getpid())) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0) fail(fmt::format("cannot create '{}'", tmp_), errno);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFileWriter::fail(std::string_view what, int err) const {
  throw IOError(fmt::format("{}: cannot write '{}': {}: {}", op_, path_, what, std::strerror(err)));
}

void AtomicFileWriter::write(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const std::size_t chunk = std::min<std::size_t>(bytes, 1u << 30);
    const ssize_t put = ::write(fd_, p, chunk);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) fail("write failed", errno);
    p += put;
    bytes -= static_cast<std::size_t>(put);
  }
}

void AtomicFileWriter::commit() {
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  // On some filesystems a failed write is only reported by close().
  const int closed = ::close(std::exchange(fd_, -1));
  if (closed != 0) fail("close failed", errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    fail(fmt::format("cannot rename '{}' over it", tmp_), errno);
  }
  committed_ = true;

  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) fail("written, but cannot open its directory to sync it", errno);
  // Filesystems that cannot sync a directory say EINVAL; the rename is done all the same.
  const bool synced = ::fsync(dir_fd) == 0 || errno == EINVAL;
  const int err = errno;
  ::close(dir_fd);
  if (!synced) fail("written, but syncing its directory failed", err);
}

void write_file_atomically(std::string op, const std::string& path, std::string_view text) {
  AtomicFileWriter file(std::move(op), path);
  file.write(text);
  file.commit();
}

}  // namespace tapegrad
