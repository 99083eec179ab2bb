// How `tapegrad run` turns one C++ file into a program: the compile line, the cache, and
// running the result. Internal to the tapegrad program (tools/cli/run.cpp is its flags).
//
// The compile line is the one the build used for its precompiled headers (tools/CMakeLists.txt
// holds the flags once and writes them into script_config.hpp), pointed at the tapegrad the
// program belongs to: the installed prefix it runs from, or the build tree it was built in.
// A script is compiled and linked in one compiler call against the shared library, and the
// program is cached under a hash of everything that makes it: the source, the compiler, the
// flags, the library and the precompiled header; the headers the script includes are
// checked by time against the compiler's dependency list. A rerun of an unchanged script
// only stats files before it starts.
//
// Runs of one script at once (two terminals, make -j) share its cache entry through a lock
// file in it (flock): a run holds it shared while it checks and starts a cached program, and
// exclusive while it compiles, publishes the program by rename and removes the programs of
// the script's older versions. So one run compiles and the others wait for its program, and
// no program is removed between the check that finds it and its start.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tapegrad::cli {

enum class BuildMode { release, debug };

struct ScriptToolchain {
  std::string compiler;
  std::vector<std::string> compile_flags;  // before the source file
  std::vector<std::string> link_flags;     // after the output file
  // Files whose change makes every cached program stale (compiler, library, PCH).
  std::vector<std::string> identity_files;

  // The toolchain of this tapegrad program. TAPEGRAD_CXX in the environment replaces the
  // compiler (a wrapper such as ccache; it must be the same compiler underneath).
  static ScriptToolchain locate(BuildMode mode);
  // The whole compile line as argv.
  std::vector<std::string> command(const std::string& source, const std::string& program) const;
};

// One line a shell reads back as `argv`.
std::string shell_line(const std::vector<std::string>& argv);

// TAPEGRAD_CACHE_DIR, else $XDG_CACHE_HOME/tapegrad, else ~/.cache/tapegrad.
std::string cache_dir();

// The largest script `tapegrad run` reads: a C++ source file, not a data file.
inline constexpr std::size_t kMaxScriptBytes = std::size_t{16} << 20;

// An flock(2) held until destroyed (or until the process ends, so a killed run never leaves
// a cache entry locked). Empty when default-constructed.
class FileLock {
 public:
  enum class Mode { shared, exclusive };
  FileLock() = default;
  FileLock(int fd, Mode mode);  // takes ownership of fd, waits for the lock
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  ~FileLock();

 private:
  int fd_ = -1;
};

struct ScriptBuild {
  std::string program;  // path of the built (or cached) program
  bool cached = false;  // true: no compiler was called
  double seconds = 0;   // time spent compiling
  FileLock entry_lock;  // keeps the program in the cache until run_program has started it
};

// The program of `source`, from the cache or compiled into it (`rebuild`: always compile).
// The compiler's messages go to stderr as it prints them; a failed compile throws ValueError
// naming the file and the compiler's exit status. A source that is missing, not a regular
// file (a directory, FIFO or device, also through a link) or over kMaxScriptBytes throws
// IOError without being read.
ScriptBuild build_script(const std::string& source, const ScriptToolchain& toolchain,
                         bool rebuild = false);

// Runs the built program with argv[0] = `name` and `args`, stdin/stdout/stderr inherited,
// and returns its exit code; the cache entry's lock goes once the program has started. A
// program killed by a signal is reported on stderr ("NAME was killed by signal 11 (SIGSEGV:
// Segmentation fault)") and gives 128 + the signal, as a shell does.
int run_program(ScriptBuild build, const std::string& name, const std::vector<std::string>& args);

}  // namespace tapegrad::cli
