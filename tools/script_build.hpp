// How `tapegrad run` turns one C++ file into a program: the compile line, the cache, and
// running the result. Internal to the tapegrad program (tools/cli_run.cpp is its flags).
//
// The compile line is the one the build used for its precompiled headers (tools/CMakeLists.txt
// holds the flags once and writes them into script_config.hpp), pointed at the tapegrad the
// program belongs to: the installed prefix it runs from, or the build tree it was built in.
// A script is compiled and linked in one compiler call against the shared library, and the
// program is cached under a hash of everything that makes it: the source, the compiler, the
// flags, the library and the precompiled header; the headers the script includes are
// checked by time against the compiler's dependency list. A rerun of an unchanged script
// only stats files before it starts.
#pragma once

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

struct ScriptBuild {
  std::string program;  // path of the built (or cached) program
  bool cached = false;  // true: no compiler was called
  double seconds = 0;   // time spent compiling
};

// The program of `source`, from the cache or compiled into it (`rebuild`: always compile).
// The compiler's messages go to stderr as it prints them; a failed compile throws ValueError
// naming the file and the compiler's exit status. A missing or unreadable source throws
// IOError.
ScriptBuild build_script(const std::string& source, const ScriptToolchain& toolchain,
                         bool rebuild = false);

// Runs `program` with argv[0] = `name` and `args`, stdin/stdout/stderr inherited, and returns
// its exit code. A program killed by a signal is reported on stderr ("NAME was killed by
// signal 11 (SIGSEGV: Segmentation fault)") and gives 128 + the signal, as a shell does.
int run_program(const std::string& program, const std::string& name,
                const std::vector<std::string>& args);

}  // namespace tapegrad::cli
