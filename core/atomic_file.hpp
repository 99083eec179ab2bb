// Replacing a file atomically: readers (and a crash, or a full disk) see either the old file
// or the complete new one, never a half-written file.
//
// The bytes go to a temporary file beside the target (same directory, so the same
// filesystem), which is fsynced, closed and renamed over the target; then the directory is
// synced so that the rename itself survives a power loss. Every writer of files in tapegrad
// (safetensors, checkpoints, CSV logs, the command-line program) goes through here.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tapegrad {

class AtomicFileWriter {
 public:
  // Creates the temporary file. `op` names the caller in error messages, which read
  // "<op>: cannot write '<path>': <what failed>: <the OS's reason>" (IOError).
  AtomicFileWriter(std::string op, std::string path);
  // Without a successful commit() the temporary file is removed and the target is untouched.
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Appends bytes to the temporary file, resuming after partial writes and signals.
  void write(const void* data, std::size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }

  // Makes the written bytes the content of the target path.
  void commit();

 private:
  [[noreturn]] void fail(std::string_view what, int err) const;

  std::string op_, path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

// `text` as the new content of `path`, atomically (see AtomicFileWriter).
void write_file_atomically(std::string op, const std::string& path, std::string_view text);

}  // namespace tapegrad
