// read_regular_file / RegularFile: what a user's path may name. A FIFO is refused at once
// (never waited on), a device or a symbolic link to one is refused before any byte is read,
// and a regular file larger than the caller's bound is refused, also when its size says 0.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <tapegrad/core/core.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;
namespace fs = std::filesystem;

using tg_test::contains;
using tg_test::message_of;
using tg_test::ScratchDir;
using tg_test::write_file;

namespace {

std::string refusal(const std::string& path, std::uint64_t max_bytes = 1000) {
  return message_of<tg::IOError>([&] { tg::read_regular_file("test", path, max_bytes); });
}

}  // namespace

TEST_CASE("read_regular_file: a regular file, whole, up to the bound") {
  ScratchDir dir("tg-regular-file");
  const std::string path = dir / "a.txt";
  write_file(path, "hello\n");
  CHECK(tg::read_regular_file("test", path, 6) == "hello\n");
  CHECK(contains(refusal(path, 5), "test: '" + path + "': it is larger than the 5 bytes"));
  write_file(path, "");
  CHECK(tg::read_regular_file("test", path, 0).empty());
}

TEST_CASE("read_regular_file: FIFOs, devices, directories and links to them are refused") {
  ScratchDir dir("tg-regular-file");
  const std::string fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(contains(refusal(fifo), "test: '" + fifo + "': it is a FIFO, not a regular file"));
  CHECK(contains(refusal("/dev/zero"), "it is a character device, not a regular file"));
  CHECK(contains(refusal(dir.path.string()), "it is a directory, not a regular file"));
  const std::string link = dir / "zero";
  fs::create_symlink("/dev/zero", link);
  CHECK(contains(refusal(link), "'" + link + "': it is a character device, not a regular file"));
  const std::string missing = dir / "missing";
  CHECK(contains(refusal(missing), "'" + missing + "': cannot open: No such file or directory"));
}

TEST_CASE("read_regular_file: a file whose size says 0 is still bounded as it is read") {
  // /proc files are regular with st_size 0; this one holds far more than 10 bytes.
  CHECK(contains(refusal("/proc/self/maps", 10), "it is larger than the 10 bytes"));
  CHECK(!tg::read_regular_file("test", "/proc/self/maps", 1 << 24).empty());
}
