// AtomicFileWriter: the target holds the old bytes or all the new ones, and no temporary
// file outlives the writer.
#include <doctest/doctest.h>

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
