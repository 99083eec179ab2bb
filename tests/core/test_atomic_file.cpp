// AtomicFileWriter: the target holds the old bytes or all the new ones, and no temporary
// file outlives the writer (one a killed writer left goes at the target's next write).
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <tapegrad/core/core.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;

using tg_test::contains;
using tg_test::message_of;
using tg_test::read_file;
using tg_test::ScratchDir;
using tg_test::write_file;

TEST_CASE("AtomicFileWriter: pieces written then committed replace the old file") {
  ScratchDir dir("tg-atomic");
  const std::string path = dir / "out.bin";
  write_file(path, "old contents");
  {
    tg::AtomicFileWriter file("test", path);
    file.write("new ");
    const char bytes[] = {'\0', 'x', '\n'};
    file.write(bytes, sizeof bytes);
    CHECK(read_file(path) == "old contents");  // nothing visible before commit
    file.commit();
  }
  CHECK(read_file(path) == std::string("new \0x\n", 7));
  CHECK(dir.listing() == std::vector<std::string>{"out.bin"});
}

TEST_CASE("AtomicFileWriter: without commit the target is untouched and the temporary gone") {
  ScratchDir dir("tg-atomic");
  const std::string path = dir / "out.csv";
  write_file(path, "epoch,loss\n1,0.5\n");
  {
    tg::AtomicFileWriter file("test", path);
    file.write("half a fi");
  }  // e.g. an exception between write and commit
  CHECK(read_file(path) == "epoch,loss\n1,0.5\n");
  CHECK(dir.listing() == std::vector<std::string>{"out.csv"});
}

TEST_CASE("write_file_atomically: errors name the caller, the path and the OS's reason") {
  ScratchDir dir("tg-atomic");
  const std::string missing = dir / "no-such-dir/out.csv";
  const std::string msg =
      message_of<tg::IOError>([&] { tg::write_file_atomically("CSVLogger", missing, "x"); });
  CHECK(contains(msg, "CSVLogger: cannot write '" + missing + "'"));
  CHECK(contains(msg, "No such file or directory"));

  // A directory is refused before anything is written (tests/io/test_atomic_file_targets.cpp
  // has the other kinds of file).
  const std::string taken = dir / "taken";
  std::filesystem::create_directory(taken);
  std::filesystem::create_directory(dir / "taken/inside");
  const std::string msg2 =
      message_of<tg::IOError>([&] { tg::write_file_atomically("write_dot", taken, "digraph {}"); });
  CHECK(contains(msg2, "write_dot: cannot write '" + taken + "'"));
  CHECK(contains(msg2, "it is a directory, not a regular file"));
  CHECK(dir.listing() == std::vector<std::string>{"taken"});
}

namespace {

// The pid of a process that has ended (a child, exited and reaped).
pid_t ended_pid() {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return child;
}

}  // namespace

TEST_CASE("temporary names: '<target>.tmp.<pid>.<n>' exactly, read back as target and writer") {
  const std::string name = tg::temporary_name("dir/loss.csv");
  const auto parsed = tg::parse_temporary_name(name.substr(4));
  REQUIRE(parsed);
  CHECK(parsed->target == "loss.csv");
  CHECK(parsed->writer == ::getpid());
  CHECK(tg::parse_temporary_name("a.tmp.12.3")->writer == 12);
  CHECK(tg::parse_temporary_name("a.tmp.b.tmp.12.3")->target == "a.tmp.b");
  for (const char* other :
       {"a.tmp.12", "a.tmp.12.3.bak", "a.tmp.0.3", "a.tmp.-12.3", "a.tmp.012.3", "a.tmp.12.03",
        "a.tmp.12.", "a.temp.12.3", ".tmp.12.3", "a.tmp.99999999999999999999.3", "a.tmp.+12.3"}) {
    CAPTURE(other);
    CHECK(!tg::parse_temporary_name(other));
  }
  CHECK(tg::writer_has_ended(ended_pid()));
  CHECK(!tg::writer_has_ended(::getpid()));
  CHECK(!tg::writer_has_ended(1));  // alive (another user's to a non-root kill(): EPERM)
}

// A writer killed while its parent has not reaped it yet (a zombie: `timeout -s KILL` leaves
// one to init, which may reap it late) has ended: its temporary is litter at once.
TEST_CASE("writer_has_ended: a zombie has ended") {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(0);
  bool ended = false;
  for (int i = 0; i < 200 && !ended; ++i) {  // the child exits within microseconds: 2 s bound
    ended = tg::writer_has_ended(child);
    if (!ended) ::usleep(10'000);
  }
  CHECK(ended);
  CHECK(::waitpid(child, nullptr, 0) == child);
}

TEST_CASE("AtomicFileWriter: a write removes its target's temporaries whose writer has ended") {
  ScratchDir dir("tg-atomic");
  const std::string path = dir / "loss.csv";
  write_file(path, "old");
  const std::string dead = std::to_string(ended_pid());
  // Left between linkat and rename by a writer killed then: it goes.
  write_file(dir / ("loss.csv.tmp." + dead + ".0"), "a killed writer's");
  // Kept: writers alive (pid 1, this process), and names that are not exactly a temporary of
  // this target.
  const std::vector<std::string> kept = {
      "loss.csv.tmp.1.0",
      "loss.csv.tmp." + std::to_string(::getpid()) + ".999",
      "loss.csv.tmp." + dead + ".0.bak",
      "loss.csv.tmp." + dead,
      "other.csv.tmp." + dead + ".0",
      "xloss.csv.tmp." + dead + ".0",
  };
  for (const std::string& name : kept) write_file(dir / name, "keep");
  tg::write_file_atomically("test", path, "new");
  CHECK(read_file(path) == "new");
  std::vector<std::string> expected = kept;
  expected.push_back("loss.csv");
  std::sort(expected.begin(), expected.end());
  CHECK(dir.listing() == expected);
}
