// Replacing a file atomically: readers (and a crash, or a full disk) see either the old file
// or the complete new one, never a half-written file.
//
// The bytes go to a temporary file in the target's directory (so the same filesystem),
// which is fsynced, closed and renamed over the target; then the directory is synced so
// that the rename itself survives a power loss. Every writer of files in tapegrad
// (safetensors, checkpoints, CSV logs, the command-line program) goes through here.
//
// The temporary is created with O_TMPFILE, so it has no name while it is written: a
// process killed mid-write leaves nothing behind. Only at commit is it linked to a
// temporary name, at once renamed over the target (linkat cannot replace a file); a kill
// between those two calls is the one window in which a "<target>.tmp.<pid>.<n>" file can
// remain. Filesystems without O_TMPFILE get a named temporary from the start, removed on
// every failure but not after a SIGKILL. Such a leftover does not last: every commit removes
// the temporaries of its target whose writer (the pid in the name) is no longer alive.
//
// The target must be a regular file or not exist: a directory, device, FIFO or socket is
// refused (IOError naming it), so `--checkpoint /dev/null` cannot replace a device node. A
// symbolic link is written through: its final target is replaced (the temporary goes in
// that target's directory) and the link stays. An existing file keeps its permission bits;
// a new one gets 0666 less the umask, as open() would give it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tapegrad {

class AtomicFileWriter {
 public:
  // Checks the target and creates the temporary. `op` names the caller in error messages,
  // which read "<op>: cannot write '<path>': <what failed>: <the OS's reason>" (IOError).
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
  std::string resolve_links() const;
  void check_target_and_open();
  void open_temporary();
  void link_temporary();
  void sync_directory() const;

  std::string op_, path_;
  std::string target_;  // path_ after following symbolic links
  std::string tmp_;     // the temporary's name (from the start, or once linked at commit)
  int fd_ = -1;
  bool anonymous_ = false;   // opened with O_TMPFILE: no name until commit
  bool tmp_exists_ = false;  // tmp_ names our temporary on disk: remove it unless renamed
};

// `text` as the new content of `path`, atomically (see AtomicFileWriter).
void write_file_atomically(std::string op, const std::string& path, std::string_view text);

// The temporaries of files published by rename, AtomicFileWriter's and those of other
// writers that must name theirs before renaming (`tapegrad run`'s compiler output), are
// "<target>.tmp.<pid>.<n>": the writer's pid, and a count that tells one process's writers
// apart. So a temporary left by a killed writer can be told from one still being written.

// A new temporary name for `target` (a path), unique among the live writers.
std::string temporary_name(const std::string& target);

struct TemporaryName {
  std::string target;  // the name of the file it was to replace
  pid_t writer = 0;    // the pid of the process that made it
};

// `file_name` (no directory) read as a temporary's name; nothing when it is not one exactly.
std::optional<TemporaryName> parse_temporary_name(std::string_view file_name);

// Whether the process that made a temporary has ended, so its temporary is litter: no such
// process, or a killed one its parent has not reaped yet (a zombie). A pid in use by another
// process (reused, or another user's) counts as alive: such a temporary stays.
bool writer_has_ended(pid_t writer);

}  // namespace tapegrad
