#include "script_build.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/core/atomic_file.hpp>
#include <tapegrad/core/error.hpp>
#include <tapegrad/core/regular_file.hpp>

#include "script_config.hpp"

extern char** environ;

namespace tapegrad::cli {
namespace {

namespace fs = std::filesystem;
namespace config = script_config;

// Where the program is, and where that puts the tapegrad it compiles against.
struct Layout {
  fs::path include_dir, pch_dir;
  std::vector<fs::path> libraries;  // in link order
  fs::path support;
};

fs::path this_program() {
  return fs::read_symlink("/proc/self/exe");
}

// The build tree when this is the program the build made; else the prefix it is installed
// in: the program's directory minus the install's bin directory.
Layout locate_layout(const std::string& mode) {
  std::error_code ec;
  const fs::path self = this_program();
  if (fs::equivalent(self, config::kBuildProgram, ec)) {
    return {config::kBuildIncludeDir,
            fs::path(config::kBuildPchDir) / mode,
            {config::kBuildLibraries.begin(), config::kBuildLibraries.end()},
            config::kBuildSupport};
  }
  fs::path prefix = self.parent_path();
  for (const auto& part : fs::path(config::kInstallBinDir)) {
    if (!part.empty()) prefix = prefix.parent_path();
  }
  const fs::path lib = prefix / config::kInstallLibDir;
  std::vector<fs::path> libraries;
  for (const std::string& name : config::kLibraryNames) libraries.push_back(lib / name);
  return {prefix / config::kInstallIncludeDir, prefix / config::kInstallPchDir / mode,
          std::move(libraries), lib / config::kSupportName};
}

// FNV-1a, 64 bits: a cache key, not a defence against someone choosing collisions.
class Hash {
 public:
  Hash& add(std::string_view bytes) {
    for (const unsigned char c : bytes) value_ = (value_ ^ c) * 0x100000001b3ULL;
    value_ = (value_ ^ 0xff) * 0x100000001b3ULL;  // a separator: ("ab","c") != ("a","bc")
    return *this;
  }
  std::string hex() const { return fmt::format("{:016x}", value_); }

 private:
  std::uint64_t value_ = 0xcbf29ce484222325ULL;
};

// Size and modification time: a file replaced or rebuilt changes at least one of them.
std::string file_stamp(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing";
  return fmt::format("{}:{}.{}", st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

std::int64_t mtime_ns(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// The prerequisites of a make rule written by the compiler's -MD ("target: a b \\\n c", a
// space inside a name escaped as "\ ").
std::vector<std::string> depfile_inputs(const std::string& text) {
  std::vector<std::string> inputs;
  std::string current;
  const std::size_t colon = text.find(": ");
  if (colon == std::string::npos) return inputs;
  for (std::size_t i = colon + 2; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && i + 1 < text.size() && (text[i + 1] == ' ' || text[i + 1] == '\n')) {
      if (text[++i] == ' ') current += ' ';
      continue;
    }
    if (c == ' ' || c == '\n' || c == '\t') {
      if (!current.empty()) inputs.push_back(std::move(current));
      current.clear();
      continue;
    }
    current += c;
  }
  if (!current.empty()) inputs.push_back(std::move(current));
  return inputs;
}

// A cached program is fresh when every file it was compiled from is older than it (the
// source itself is part of the key, so only what it includes is checked here).
bool is_fresh(const fs::path& program, const fs::path& depfile, const fs::path& source) {
  const std::int64_t built = mtime_ns(program);
  if (built < 0 || !fs::exists(depfile)) return false;
  for (const std::string& input :
       depfile_inputs(read_regular_file("run", depfile, kMaxScriptBytes))) {
    if (fs::path(input) == source) continue;
    const std::int64_t changed = mtime_ns(input);
    if (changed < 0 || changed > built) return false;
  }
  return true;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

// Waits for `pid`, retrying when a signal interrupts the wait.
int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_error<IOError>("run: waitpid failed: {}", std::strerror(errno));
  }
  return status;
}

// Starts `path` (searched in PATH) with `argv` and stdio inherited; returns its pid once it
// runs (posix_spawn returns after the exec). SIGINT and SIGQUIT start at their defaults in
// the child even while this process ignores them (run_program does).
pid_t spawn(const std::string& path, const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawnattr_t attr;
  ::posix_spawnattr_init(&attr);
  sigset_t defaults;
  ::sigemptyset(&defaults);
  ::sigaddset(&defaults, SIGINT);
  ::sigaddset(&defaults, SIGQUIT);
  ::posix_spawnattr_setsigdefault(&attr, &defaults);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int err = ::posix_spawnp(&pid, path.c_str(), nullptr, &attr, args.data(), environ);
  ::posix_spawnattr_destroy(&attr);
  if (err != 0) throw_error<IOError>("run: cannot start '{}': {}", path, std::strerror(err));
  return pid;
}

// While alive, ^C and ^\ reach only the child (same process group): this process stays to
// report how the child ended, as system() does.
class IgnoreInterrupts {
 public:
  IgnoreInterrupts() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGINT, &ignore, &old_int_);
    ::sigaction(SIGQUIT, &ignore, &old_quit_);
  }
  ~IgnoreInterrupts() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGQUIT, &old_quit_, nullptr);
  }
  IgnoreInterrupts(const IgnoreInterrupts&) = delete;
  IgnoreInterrupts& operator=(const IgnoreInterrupts&) = delete;

 private:
  struct sigaction old_int_ {
  }, old_quit_{};
};

// The cache entry of `source`: one directory per source path, holding the program of its
// latest key (an edited script replaces its old program rather than adding one) and the
// lock file of the runs of that source.
struct CacheEntry {
  fs::path dir, program, depfile, lock;
};

CacheEntry cache_entry(const fs::path& source, const std::string& key) {
  const std::string slot = source.stem().string() + "-" + Hash().add(source.string()).hex();
  const fs::path dir = fs::path(cache_dir()) / "run" / slot;
  return {dir, dir / (key + ".program"), dir / (key + ".d"), dir / "lock"};
}

FileLock lock_entry(const CacheEntry& entry, FileLock::Mode mode) {
  // Read-only is enough for flock, and opens an existing lock file in a read-only cache.
  const int fd = ::open(entry.lock.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) {
    throw_error<IOError>("run: cannot open the cache's lock file '{}': {}", entry.lock.string(),
                         std::strerror(errno));
  }
  return FileLock(fd, mode);
}

// Under the entry's exclusive lock: the programs of the script's older versions go, and so do
// the temporaries of compiles that were killed. A temporary whose compiler still runs stays
// (no run compiles without the lock, but a tapegrad older than it did).
void remove_other_keys(const CacheEntry& entry) {
  std::error_code ec;
  for (const auto& file : fs::directory_iterator(entry.dir, ec)) {
    const fs::path& path = file.path();
    if (path == entry.program || path == entry.depfile || path == entry.lock) continue;
    const std::optional<TemporaryName> temporary = parse_temporary_name(path.filename().string());
    if (temporary && !writer_has_ended(temporary->writer)) continue;
    fs::remove(path, ec);
  }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Compiles into temporary names beside the entry, then renames: a run interrupted mid-way
// never leaves a half-written program under the key. Called with the entry locked.
void compile(const std::string& source, const ScriptToolchain& toolchain, const CacheEntry& entry) {
  const fs::path program = temporary_name(entry.program.string());
  const fs::path depfile = temporary_name(entry.depfile.string());
  std::vector<std::string> argv = toolchain.command(source, program);
  argv.insert(argv.begin() + 1, {"-MD", "-MF", depfile.string()});
  const int status = wait_for(spawn(toolchain.compiler, argv));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::error_code ec;
    fs::remove(program, ec);
    fs::remove(depfile, ec);
    const std::string how = WIFEXITED(status) ? fmt::format("exit code {}", WEXITSTATUS(status))
                                              : fmt::format("signal {}", WTERMSIG(status));
    throw_error<ValueError>("run: '{}' did not compile ({} {}; its messages are above)", source,
                            toolchain.compiler, how);
  }
  fs::rename(depfile, entry.depfile);
  fs::rename(program, entry.program);
}

// `command` as the file a shell would run for it (the PATH search of execvp).
fs::path resolve_in_path(const std::string& command) {
  if (command.find('/') != std::string::npos) return command;
  std::istringstream dirs(env_or("PATH", "/usr/bin:/bin"));
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / command;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return command;
}

}  // namespace

ScriptToolchain ScriptToolchain::locate(BuildMode mode) {
  const std::string name = mode == BuildMode::release ? "release" : "debug";
  const Layout at = locate_layout(name);
  ScriptToolchain t;
  t.compiler = env_or("TAPEGRAD_CXX", config::kCompiler);
  t.compile_flags = mode == BuildMode::release ? config::kReleaseFlags : config::kDebugFlags;
  // The PCH directory comes first: the compiler takes run_prelude.hpp.gch from there and the
  // headers themselves from the include directory.
  t.compile_flags.insert(t.compile_flags.end(),
                         {"-I" + at.pch_dir.string(), "-I" + at.include_dir.string(), "-include",
                          "tapegrad/tools/run/run_prelude.hpp"});
  for (const fs::path& library : at.libraries) {
    t.link_flags.insert(t.link_flags.end(),
                        {library.string(), "-Wl,-rpath," + library.parent_path().string()});
  }
  t.link_flags.insert(t.link_flags.end(),
                      {"-Wl,--whole-archive", at.support.string(), "-Wl,--no-whole-archive"});
  t.link_flags.insert(t.link_flags.end(), config::kLinkDependencies.begin(),
                      config::kLinkDependencies.end());
  for (const fs::path& library : at.libraries) t.identity_files.push_back(library.string());
  t.identity_files.insert(
      t.identity_files.end(),
      {at.support.string(), (at.pch_dir / "tapegrad/tools/run/run_prelude.hpp.gch").string()});
  return t;
}

std::vector<std::string> ScriptToolchain::command(const std::string& source,
                                                  const std::string& program) const {
  std::vector<std::string> argv{compiler};
  argv.insert(argv.end(), compile_flags.begin(), compile_flags.end());
  // A name starting with '-' would be read as an option ("-x.cpp" as -x, a file named
  // "-fplugin=..." as a plugin to load); "./" keeps it a path. -o takes any next word.
  argv.insert(argv.end(), {source.starts_with('-') ? "./" + source : source, "-o", program});
  argv.insert(argv.end(), link_flags.begin(), link_flags.end());
  return argv;
}

std::string shell_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& word : argv) {
    if (!line.empty()) line += ' ';
    const bool plain = !word.empty() && word.find_first_not_of(
                                            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789-_=+/.,:@%") == std::string::npos;
    if (plain) {
      line += word;
      continue;
    }
    line += '\'';
    for (const char c : word) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += '\'';
  }
  return line;
}

std::string cache_dir() {
  if (const char* dir = std::getenv("TAPEGRAD_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return (fs::path(xdg) / "tapegrad").string();
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return (fs::path(home) / ".cache" / "tapegrad").string();
  }
  return (fs::temp_directory_path() / fmt::format("tapegrad-cache-{}", ::getuid())).string();
}

FileLock::FileLock(int fd, Mode mode) : fd_(fd) {
  while (::flock(fd_, mode == Mode::shared ? LOCK_SH : LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(std::exchange(fd_, -1));
    throw_error<IOError>("run: cannot lock the cache: {}", std::strerror(err));
  }
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the lock
}

ScriptBuild build_script(const std::string& source_path, const ScriptToolchain& toolchain,
                         bool rebuild) {
  // Read first: it refuses what is not a C++ file before anything else looks at it.
  const std::string text = read_regular_file("run", source_path, kMaxScriptBytes);
  // The entry is found by the file's real path; the compiler gets the path as given, so its
  // messages name the file as the user does.
  const fs::path source = fs::canonical(source_path);
  Hash key;
  key.add(text).add(shell_line(toolchain.command("", "")));
  key.add(file_stamp(resolve_in_path(toolchain.compiler)));
  for (const std::string& file : toolchain.identity_files) key.add(file).add(file_stamp(file));
  const CacheEntry entry = cache_entry(source, key.hex());

  std::error_code ec;
  if (!rebuild && fs::exists(entry.program, ec)) {
    FileLock shared = lock_entry(entry, FileLock::Mode::shared);
    if (is_fresh(entry.program, entry.depfile, source)) {
      return {entry.program.string(), true, 0, std::move(shared)};
    }
  }
  fs::create_directories(entry.dir);
  FileLock exclusive = lock_entry(entry, FileLock::Mode::exclusive);
  // Another run of this script may have compiled it while this one waited for the lock.
  if (!rebuild && is_fresh(entry.program, entry.depfile, source)) {
    return {entry.program.string(), true, 0, std::move(exclusive)};
  }
  const auto start = std::chrono::steady_clock::now();
  compile(source_path, toolchain, entry);
  remove_other_keys(entry);
  return {entry.program.string(), false, seconds_since(start), std::move(exclusive)};
}

int run_program(ScriptBuild build, const std::string& name, const std::vector<std::string>& args) {
  std::vector<std::string> argv{name};
  argv.insert(argv.end(), args.begin(), args.end());
  int status = 0;
  {
    const IgnoreInterrupts interrupts_go_to_the_script;
    const pid_t pid = spawn(build.program, argv);
    // Started: the program may now go from the cache (its file lives while it runs).
    build.entry_lock = FileLock();
    status = wait_for(pid);
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  const int sig = WTERMSIG(status);
  const char* abbrev = ::sigabbrev_np(sig);
  std::cerr << fmt::format("tapegrad run: {} was killed by signal {} (SIG{}: {})\n", name, sig,
                           abbrev ? abbrev : "?", ::strsignal(sig));
  return 128 + sig;
}

}  // namespace tapegrad::cli
