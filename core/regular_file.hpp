// Reading a file whose path a user gave: only a regular file is read, and never more than a
// bound the caller sets.
//
// A path may name a FIFO (open() would wait forever for a writer), a device (/dev/zero never
// ends), a directory, or a symbolic link to any of these. RegularFile opens the path with
// O_NONBLOCK, so opening a FIFO returns at once, follows symbolic links as open() does, and
// refuses anything that is not a regular file, naming its type. Every reader of user files in
// tapegrad (safetensors, CSV series, `tapegrad run` scripts) goes through here.
//
// Errors are IOError reading "<op>: '<path>': <what is wrong>", e.g.
//   "read_csv_column: '/dev/zero': it is a character device, not a regular file".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tapegrad {

// "a directory", "a FIFO", ... for a st_mode that is not a regular file.
const char* file_type_name(unsigned mode);

class RegularFile {
 public:
  // Opens `path` for reading; `op` names the caller in error messages.
  RegularFile(std::string op, std::string path);
  ~RegularFile();
  RegularFile(RegularFile&& other) noexcept;
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  RegularFile& operator=(RegularFile&&) = delete;

  int fd() const { return fd_; }
  // The size when opened.
  std::uint64_t size() const { return size_; }
  // Exactly n bytes at `offset`; a file that ends before is an error, not a partial read.
  void read_at(void* dst, std::size_t n, std::uint64_t offset) const;
  // The whole file; IOError when it holds more than max_bytes (checked as it is read too, for
  // a file that grows, or one such as /proc's whose size says 0).
  std::string read_all(std::uint64_t max_bytes) const;

  // Throws IOError "<op>: '<path>': <what>".
  [[noreturn]] void fail(std::string_view what) const;

 private:
  std::string op_, path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// The content of the regular file `path`, at most max_bytes of it (see RegularFile).
std::string read_regular_file(std::string op, std::string path, std::uint64_t max_bytes);

}  // namespace tapegrad
