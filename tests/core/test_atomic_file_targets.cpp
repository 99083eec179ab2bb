// AtomicFileWriter and what is at the path: a device node, a FIFO or a directory is refused
// (once, `--checkpoint /dev/null` run as root replaced the device with a regular file); a
// symbolic link is written through to its target and stays a link; an existing file keeps
// its permission bits; and a writer killed mid-write leaves no temporary behind.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <tapegrad/core/core.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;
namespace fs = std::filesystem;

using tg_test::contains;
using tg_test::message_of;
using tg_test::read_file;
using tg_test::ScratchDir;
using tg_test::write_file;

namespace {

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode;
}

// Sets the umask for the scope, restoring the old one at its end.
struct UmaskGuard {
  mode_t old;
  explicit UmaskGuard(mode_t mask) : old(::umask(mask)) {}
  ~UmaskGuard() { ::umask(old); }
};

std::string refusal(const std::string& path) {
  return message_of<tg::IOError>([&] { tg::write_file_atomically("test", path, "new"); });
}

}  // namespace

TEST_CASE("AtomicFileWriter targets: a FIFO, a directory, a device node are refused") {
  ScratchDir dir("tg-atomic-targets");
  const std::string fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::string msg = refusal(fifo);
  CHECK(contains(msg, "test: cannot write '" + fifo + "': it is a FIFO, not a regular file"));
  CHECK(S_ISFIFO(mode_of(fifo)));

  const std::string sub = dir / "sub";
  fs::create_directory(sub);
  CHECK(contains(refusal(sub), "it is a directory, not a regular file"));
  CHECK(fs::is_directory(sub));

  // A link to a FIFO names both.
  const std::string link = dir / "link";
  fs::create_symlink(fifo, link);
  CHECK(contains(refusal(link), "'" + link + "': its link target '" + fifo + "' is a FIFO"));
  CHECK(S_ISFIFO(mode_of(fifo)));

  // A copy of /dev/null's node (never the real one: before the fix it was replaced).
  const std::string null_node = dir / "null";
  if (::mknod(null_node.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
    CHECK(contains(refusal(null_node), "it is a character device, not a regular file"));
    CHECK(S_ISCHR(mode_of(null_node)));
  } else {
    MESSAGE("cannot create a device node here (not root): that part skipped");
  }
  std::vector<std::string> names = dir.listing();
  std::erase(names, "null");
  CHECK(names == std::vector<std::string>{"fifo", "link", "sub"});
}

TEST_CASE("AtomicFileWriter targets: a symbolic link is written through and stays a link") {
  ScratchDir dir("tg-atomic-targets");
  fs::create_directory(dir.path / "real");
  fs::create_directory(dir.path / "links");
  const std::string target = dir / "real/model.bin";
  write_file(target, "old");

  SUBCASE("absolute link") {
    const std::string link = dir / "links/model.bin";
    fs::create_symlink(target, link);
    tg::write_file_atomically("test", link, "new");
    CHECK(fs::is_symlink(link));
    CHECK(read_file(target) == "new");
    CHECK(read_file(link) == "new");
  }
  SUBCASE("a chain of relative links") {
    const std::string first = dir / "links/first";
    fs::create_symlink("second", first);
    fs::create_symlink("../real/model.bin", dir.path / "links/second");
    tg::write_file_atomically("test", first, "new");
    CHECK(fs::is_symlink(first));
    CHECK(fs::is_symlink(dir.path / "links/second"));
    CHECK(read_file(target) == "new");
  }
  SUBCASE("a dangling link creates its target") {
    const std::string link = dir / "links/fresh";
    fs::create_symlink(dir / "real/fresh.bin", link);
    tg::write_file_atomically("test", link, "new");
    CHECK(fs::is_symlink(link));
    CHECK(read_file(dir / "real/fresh.bin") == "new");
  }
  SUBCASE("a loop of links is refused") {
    const std::string a = dir / "links/a";
    fs::create_symlink("b", a);
    fs::create_symlink("a", dir.path / "links/b");
    CHECK(contains(refusal(a), "cannot follow its symbolic links"));
  }
  // No temporary in either directory.
  for (const char* sub : {"real", "links"}) {
    for (const auto& e : fs::directory_iterator(dir.path / sub)) {
      CHECK_MESSAGE(!contains(e.path().filename(), ".tmp."), e.path());
    }
  }
}

TEST_CASE("AtomicFileWriter targets: an existing file keeps its mode, a new one follows umask") {
  ScratchDir dir("tg-atomic-targets");
  const std::string secret = dir / "secret.ckpt";
  write_file(secret, "old");
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
  tg::write_file_atomically("test", secret, "new");
  CHECK((mode_of(secret) & 07777) == 0600);
  CHECK(read_file(secret) == "new");

  const std::string shared = dir / "shared.csv";
  write_file(shared, "old");
  ::chmod(shared.c_str(), 0664);
  tg::write_file_atomically("test", shared, "new");
  CHECK((mode_of(shared) & 07777) == 0664);

  {
    UmaskGuard mask(022);
    tg::write_file_atomically("test", dir / "new022", "x");
  }
  CHECK((mode_of(dir / "new022") & 07777) == 0644);
  {
    UmaskGuard mask(077);
    tg::write_file_atomically("test", dir / "new077", "x");
  }
  CHECK((mode_of(dir / "new077") & 07777) == 0600);
}

TEST_CASE("AtomicFileWriter targets: a writer killed mid-write leaves no temporary file") {
  ScratchDir dir("tg-atomic-targets");
  const std::string path = dir / "model.safetensors";
  tg::save_safetensors(path, {{"w", tg::ones({4})}});
  const std::string old_bytes = read_file(path);

  for (int kill = 0; kill < 3; ++kill) {
    CAPTURE(kill);
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Half a file written, then wait to be killed (commit never comes).
      tg::AtomicFileWriter file("test", path);
      file.write(std::string(100000, 'x'));
      const char byte = 'w';
      (void)!::write(ready[1], &byte, 1);
      ::pause();
      ::_exit(0);
    }
    ::close(ready[1]);
    char byte = 0;
    CHECK(::read(ready[0], &byte, 1) == 1);
    ::close(ready[0]);
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(dir.listing() == std::vector<std::string>{"model.safetensors"});
    CHECK(read_file(path) == old_bytes);
    CHECK(tg::load_safetensors(path).at("w").numel() == 4);
  }
  // And the next write goes through as usual.
  tg::save_safetensors(path, {{"v", tg::zeros({2})}});
  CHECK(tg::load_safetensors(path).count("v") == 1);
  CHECK(dir.listing() == std::vector<std::string>{"model.safetensors"});
}
