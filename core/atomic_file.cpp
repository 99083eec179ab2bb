#include <tapegrad/core/atomic_file.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <utility>

#include <tapegrad/core/error.hpp>
#include <tapegrad/core/posix_io.hpp>
#include <tapegrad/core/regular_file.hpp>

namespace tapegrad {
namespace {

// Like the kernel, give up on a chain of more links than this (a loop, most likely).
constexpr int kMaxLinkHops = 40;

// Numbers the writers of one process, so two threads writing one target use two temporaries.
std::atomic<unsigned> writer_count{0};

std::string parent_directory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// Errors by which open() says O_TMPFILE is unsupported: by the filesystem (EOPNOTSUPP), or
// by a kernel older than 3.11, which sees O_DIRECTORY and refuses to open it for writing.
bool tmpfile_unsupported(int err) {
  return err == EOPNOTSUPP || err == EISDIR || err == EINVAL;
}

// What comes between a temporary's target and its numbers.
constexpr std::string_view kTemporaryMark = ".tmp";

// The number that ends `text` after its last '.', written as std::to_chars writes it (no sign,
// no leading zero), with `text` cut before that '.'; nothing when it does not end so.
std::optional<long long> take_last_number(std::string_view& text) {
  const std::size_t dot = text.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view digits = text.substr(dot + 1);
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0') || digits[0] == '-') {
    return std::nullopt;
  }
  long long value = 0;
  const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (err != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  text = text.substr(0, dot);
  return value;
}

// A killed process stays in the process table until its parent reaps it; in a container
// whose init does not reap at once, that can outlast the next run. Its state in
// /proc/PID/stat (after the parenthesized name, which may hold spaces) is then 'Z'.
bool is_zombie(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat;
  std::getline(in, stat);
  const std::size_t name_end = stat.rfind(')');
  return name_end != std::string::npos && name_end + 2 < stat.size() &&
         (stat[name_end + 2] == 'Z' || stat[name_end + 2] == 'X');
}

}  // namespace

std::string temporary_name(const std::string& target) {
  return fmt::format("{}{}.{}.{}", target, kTemporaryMark, ::getpid(), writer_count++);
}

std::optional<TemporaryName> parse_temporary_name(std::string_view file_name) {
  std::string_view rest = file_name;
  if (!take_last_number(rest)) return std::nullopt;
  const std::optional<long long> pid = take_last_number(rest);
  // pid 0 and negative pids name process groups to kill(): never read one as a writer.
  if (!pid || *pid <= 0 || *pid > std::numeric_limits<pid_t>::max()) return std::nullopt;
  if (!rest.ends_with(kTemporaryMark) || rest.size() == kTemporaryMark.size()) return std::nullopt;
  return TemporaryName{std::string(rest.substr(0, rest.size() - kTemporaryMark.size())),
                       static_cast<pid_t>(*pid)};
}

bool writer_has_ended(pid_t writer) {
  if (::kill(writer, 0) != 0) return errno == ESRCH;
  return is_zombie(writer);
}

namespace {

// Removes the temporaries of `target` whose writers have ended (best effort: this is tidying,
// not part of the write).
void remove_dead_temporaries(const std::string& target) {
  const std::string target_name = std::filesystem::path(target).filename().string();
  std::error_code ec;
  std::filesystem::directory_iterator entries(parent_directory(target), ec);
  for (; !ec && entries != std::filesystem::directory_iterator(); entries.increment(ec)) {
    const std::string name = entries->path().filename().string();
    const std::optional<TemporaryName> tmp = parse_temporary_name(name);
    if (tmp && tmp->target == target_name && writer_has_ended(tmp->writer)) {
      ::unlink(entries->path().c_str());
    }
  }
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string op, std::string path)
    : op_(std::move(op)), path_(std::move(path)) {
  target_ = resolve_links();
  // The pid and the counter make the name unique among live writers, so a file already
  // there under it was left by a writer that died: it may be replaced.
  tmp_ = temporary_name(target_);
  check_target_and_open();
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (tmp_exists_) ::unlink(tmp_.c_str());
}

void AtomicFileWriter::fail(std::string_view what, int err) const {
  throw IOError(fmt::format("{}: cannot write '{}': {}: {}", op_, path_, what, std::strerror(err)));
}

// The file path_ finally names after its symbolic links. It need not exist: writing through
// a dangling link creates the link's target.
std::string AtomicFileWriter::resolve_links() const {
  std::filesystem::path p = path_;
  for (int hops = 0; hops < kMaxLinkHops; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p.string();
    std::error_code ec;
    const std::filesystem::path link = std::filesystem::read_symlink(p, ec);
    if (ec) fail("cannot read the symbolic link", ec.value());
    p = link.is_absolute() ? link : p.parent_path() / link;
  }
  fail("cannot follow its symbolic links", ELOOP);
}

void AtomicFileWriter::check_target_and_open() {
  struct stat st {};
  const bool exists = ::stat(target_.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) fail(fmt::format("cannot stat '{}'", target_), errno);
  if (exists && !S_ISREG(st.st_mode)) {
    const std::string which =
        target_ == path_ ? std::string("it") : fmt::format("its link target '{}'", target_);
    throw IOError(fmt::format(
        "{}: cannot write '{}': {} is {}, not a regular file; tapegrad replaces only regular "
        "files: give the path of a file",
        op_, path_, which, file_type_name(st.st_mode)));
  }
  open_temporary();
  // Permission bits only: a set-user-ID bit is not carried over to content we wrote.
  if (exists && ::fchmod(fd_, st.st_mode & 0777) != 0) {
    fail("cannot give the temporary file the target's permissions", errno);
  }
}

void AtomicFileWriter::open_temporary() {
  const std::string dir = parent_directory(target_);
  fd_ = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  if (fd_ >= 0) {
    anonymous_ = true;
    return;
  }
  if (!tmpfile_unsupported(errno)) {
    fail(fmt::format("cannot create a temporary file in '{}'", dir), errno);
  }
  ::unlink(tmp_.c_str());  // a dead writer's leftover, if any (see the constructor)
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) fail(fmt::format("cannot create '{}'", tmp_), errno);
  tmp_exists_ = true;
}

// Gives the anonymous temporary the name tmp_. Linking through /proc/self/fd needs no
// privilege; AT_EMPTY_PATH (which needs CAP_DAC_READ_SEARCH) serves where /proc is absent.
void AtomicFileWriter::link_temporary() {
  ::unlink(tmp_.c_str());  // a dead writer's leftover, if any (see the constructor)
  const std::string self = fmt::format("/proc/self/fd/{}", fd_);
  if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, tmp_.c_str(), AT_SYMLINK_FOLLOW) != 0 &&
      ::linkat(fd_, "", AT_FDCWD, tmp_.c_str(), AT_EMPTY_PATH) != 0) {
    fail(fmt::format("cannot link the temporary file as '{}'", tmp_), errno);
  }
  tmp_exists_ = true;
}

void AtomicFileWriter::write(const void* data, std::size_t bytes) {
  if (const int err = write_all(fd_, data, bytes); err != 0) fail("write failed", err);
}

void AtomicFileWriter::commit() {
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  if (anonymous_) link_temporary();
  // On some filesystems a failed write is only reported by close().
  const int closed = ::close(std::exchange(fd_, -1));
  if (closed != 0) fail("close failed", errno);
  if (::rename(tmp_.c_str(), target_.c_str()) != 0) {
    fail(fmt::format("cannot rename '{}' over it", tmp_), errno);
  }
  tmp_exists_ = false;
  sync_directory();
  remove_dead_temporaries(target_);  // what writers killed before their rename left
}

void AtomicFileWriter::sync_directory() const {
  const int dir_fd = ::open(parent_directory(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
