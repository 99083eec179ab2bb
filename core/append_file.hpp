// Appending to a log, as Keras's CSVLogger does: each append is one write at the end of the
// file (O_APPEND), so a process killed between appends leaves every earlier line whole and
// the cost of an append does not grow with the file. Appends are flushed to the operating
// system, not synced: a crash of the program loses nothing written, a power loss may lose
// the last lines (what must survive one, checkpoints and weights, is written atomically and
// synced: core/atomic_file.hpp).
#pragma once

#include <string>
#include <string_view>

namespace tapegrad {

class AppendFile {
 public:
  // Opens an existing regular file for appending (symbolic links followed). `op` names the
  // caller in error messages: "<op>: cannot append to '<path>': <what failed>" (IOError).
  AppendFile(std::string op, std::string path);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  void append(std::string_view text);

 private:
  // err: the errno that explains `what`, 0 for none.
  [[noreturn]] void fail(std::string_view what, int err = 0) const;

  std::string op_, path_;
  int fd_ = -1;
};

}  // namespace tapegrad
