// Reading regular files only, with a bound; see regular_file.hpp.
//
// POSIX calls rather than iostreams, so that every failure is reported with the OS's reason.
#include <tapegrad/core/regular_file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <tapegrad/core/error.hpp>

namespace tapegrad {
namespace {

// "16 MiB" for a whole number of MiB, else "1000 bytes".
std::string byte_count(std::uint64_t bytes) {
  constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
  return bytes >= kMiB && bytes % kMiB == 0 ? fmt::format("{} MiB", bytes / kMiB)
                                            : fmt::format("{} bytes", bytes);
}

}  // namespace

const char* file_type_name(unsigned mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

RegularFile::RegularFile(std::string op, std::string path)
    : op_(std::move(op)), path_(std::move(path)) {
  // O_NONBLOCK only matters for a FIFO, whose open() would otherwise wait for a writer; on a
  // regular file reads block as usual.
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) fail(fmt::format("cannot open: {}", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    fail(fmt::format("cannot stat: {}", std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    fail(fmt::format("it is {}, not a regular file", file_type_name(st.st_mode)));
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

RegularFile::RegularFile(RegularFile&& other) noexcept
    : op_(std::move(other.op_)),
      path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      size_(other.size_) {}

void RegularFile::fail(std::string_view what) const {
  throw IOError(fmt::format("{}: '{}': {}", op_, path_, what));
}

void RegularFile::read_at(void* dst, std::size_t n, std::uint64_t offset) const {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    const std::size_t chunk = std::min<std::size_t>(n, 1u << 30);
    const ssize_t got = ::pread(fd_, p, chunk, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail(fmt::format("read failed: {}", std::strerror(errno)));
    if (got == 0) fail("file ended early (was it truncated while being read?)");
    p += got;
    n -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
}

std::string RegularFile::read_all(std::uint64_t max_bytes) const {
  const auto too_large = [&] {
    fail(fmt::format("it is larger than the {} this reads at most", byte_count(max_bytes)));
  };
  if (size_ > max_bytes) too_large();
  // One byte more than allowed shows a file that grew past the bound since fstat.
  std::string text(static_cast<std::size_t>(std::min<std::uint64_t>(size_, max_bytes) + 1), '\0');
  std::size_t have = 0;
  for (;;) {
    if (have == text.size()) {
      if (have > max_bytes) too_large();
      text.resize(static_cast<std::size_t>(std::min<std::uint64_t>(2 * have, max_bytes + 1)));
    }
    const ssize_t got = ::read(fd_, text.data() + have, text.size() - have);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail(fmt::format("read failed: {}", std::strerror(errno)));
    if (got == 0) break;
    have += static_cast<std::size_t>(got);
  }
  if (have > max_bytes) too_large();
  text.resize(have);
  return text;
}

std::string read_regular_file(std::string op, std::string path, std::uint64_t max_bytes) {
  return RegularFile(std::move(op), std::move(path)).read_all(max_bytes);
}

}  // namespace tapegrad
