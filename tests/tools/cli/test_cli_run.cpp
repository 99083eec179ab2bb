// `tapegrad run`, as a user runs it: a script gets its args and gives its exit code, a rerun
// of an unchanged script calls no compiler while an edit to it or to a header it includes
// does, the precompiled header is really used, every way a script can go wrong (no file,
// not a file, no compile, an exception, a crash) ends with a message that says which, and
// runs of one script at once share its cache without tripping over each other.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli_util.hpp"

using tg_test::contains;
using tg_test::lines_of;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;
using tg_test::write_file;

#ifdef TAPEGRAD_CLI

namespace {

// A scratch directory whose cache is its own, so no test sees another's programs.
struct RunDir : ScratchDir {
  RunDir() : ScratchDir("cli-run") { ::setenv("TAPEGRAD_CACHE_DIR", (*this / "cache").c_str(), 1); }
  ~RunDir() { ::unsetenv("TAPEGRAD_CACHE_DIR"); }
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  std::string script(const std::string& name, const std::string& source) const {
    write_file(*this / name, source);
    return fmt::format("'{}'", *this / name);  // not "'" + ...: GCC 12 -Wrestrict misfires
  }
};

// The number of lines of a file (0 when it does not exist).
std::size_t line_count(const std::string& path) {
  return std::filesystem::exists(path) ? lines_of(read_file(path)).size() : 0;
}

// `tapegrad <args>` started `copies` times at once, each killed after `seconds` (exit code
// 124 then, from timeout(1)): a test that went wrong fails rather than hangs.
std::vector<Result> run_bounded(const RunDir& dir, const std::string& args, int copies,
                                int seconds = 120) {
  std::string script;
  for (int i = 0; i < copies; ++i) {
    const std::string out = dir / fmt::format("out{}", i), err = dir / fmt::format("err{}", i);
    script += fmt::format("(timeout -k 5 {} '{}' {} >'{}' 2>'{}' </dev/null; echo $? >'{}') & ",
                          seconds, TAPEGRAD_CLI, args, out, err, dir / fmt::format("code{}", i));
  }
  script += "wait";
  REQUIRE(std::system(script.c_str()) == 0);
  std::vector<Result> results(static_cast<std::size_t>(copies));
  for (int i = 0; i < copies; ++i) {
    Result& r = results[static_cast<std::size_t>(i)];
    r.code = std::atoi(read_file(dir / fmt::format("code{}", i)).c_str());
    r.out = read_file(dir / fmt::format("out{}", i));
    r.err = read_file(dir / fmt::format("err{}", i));
  }
  return results;
}

// The names in the script's one cache entry (the cache holds no other).
std::vector<std::string> cache_entry_files(const RunDir& dir) {
  std::vector<std::filesystem::path> slots;
  for (const auto& e : std::filesystem::directory_iterator(dir / "cache/run")) {
    slots.push_back(e.path());
  }
  REQUIRE(slots.size() == 1);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(slots[0])) {
    names.push_back(e.path().filename());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("tapegrad run: the script gets its args and its exit code is tapegrad's") {
  const RunDir dir;
  const std::string file = dir.script("args.cpp", R"(#include <tapegrad/tapegrad.hpp>
namespace tg = tapegrad;
int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) fmt::print("[{}]", argv[i]);
  fmt::print(" sum={}\n", tg::sum(tg::ones({2, 3})).item());
  return argc + 2;
})");
  const Result r = tg_test::run(dir, "run " + file + " -- --epochs 3 'two words'");
  CAPTURE(r.err);
  CHECK(r.code == 6);
  CHECK(r.out == "[--epochs][3][two words] sum=6\n");
  CHECK(r.err.empty());
}

TEST_CASE(
    "tapegrad run: a rerun calls no compiler; editing the script or a header it includes does") {
  const RunDir dir;
  // A compiler wrapper that counts its calls, in front of the real compiler.
  const Result flags = tg_test::run(dir, "run --print-flags");
  REQUIRE(flags.code == 0);
  const std::string compiler = flags.out.substr(0, flags.out.find(' '));
  write_file(dir / "cxx.sh", "#!/bin/sh\necho call >> '" + (dir / "calls.log") + "'\nexec '" +
                                 compiler + "' \"$@\"\n");
  std::filesystem::permissions(dir / "cxx.sh", std::filesystem::perms::owner_all);
  ::setenv("TAPEGRAD_CXX", (dir / "cxx.sh").c_str(), 1);

  write_file(dir / "answer.hpp", "inline int answer() { return 41; }\n");
  const std::string file = dir.script("exp.cpp",
                                      "#include \"answer.hpp\"\n#include <cstdio>\n"
                                      "int main() { std::printf(\"%d\\n\", answer()); }\n");
  const auto run_it = [&] { return tg_test::run(dir, "run " + file); };
  CHECK(run_it().out == "41\n");
  CHECK(line_count(dir / "calls.log") == 1);
  CHECK(run_it().out == "41\n");
  CHECK(line_count(dir / "calls.log") == 1);  // cached: no compiler call

  // A header's new content, with a modification time safely after the program's.
  write_file(dir / "answer.hpp", "inline int answer() { return 42; }\n");
  std::filesystem::last_write_time(
      dir / "answer.hpp", std::filesystem::file_time_type::clock::now() + std::chrono::seconds(5));
  CHECK(run_it().out == "42\n");
  CHECK(line_count(dir / "calls.log") == 2);

  dir.script("exp.cpp",
             "#include \"answer.hpp\"\n#include <cstdio>\n"
             "int main() { std::printf(\"%d!\\n\", answer()); }\n");
  CHECK(run_it().out == "42!\n");
  CHECK(line_count(dir / "calls.log") == 3);
  CHECK(tg_test::run(dir, "run --rebuild " + file).out == "42!\n");
  CHECK(line_count(dir / "calls.log") == 4);
  ::unsetenv("TAPEGRAD_CXX");
}

TEST_CASE(
    "tapegrad run --print-flags: the compile line, whose precompiled header the compiler uses") {
  const RunDir dir;
  const std::string file =
      dir.script("pch.cpp", "#include <tapegrad/tapegrad.hpp>\nint main() {}\n");
  for (const std::string mode : {"--release", "--debug"}) {
    CAPTURE(mode);
    const Result flags = tg_test::run(dir, "run " + mode + " --print-flags " + file);
    REQUIRE(flags.code == 0);
    CHECK(contains(flags.out, "-std=c++20"));
    CHECK(contains(flags.out, mode == "--debug" ? "-fsanitize=address" : "-O2"));
    CHECK(contains(flags.out, "libtapegrad"));
    // -H lists the headers read: "! NAME.gch" when a precompiled header is used.
    std::string line = flags.out.substr(0, flags.out.find('\n'));
    line = line.substr(0, line.find(" -o ")) + " -fsyntax-only -H -Winvalid-pch 2>'" +
           (dir / "h.txt") + "'";
    REQUIRE(std::system(line.c_str()) == 0);
    const std::string headers = read_file(dir / "h.txt");
    CHECK(headers.rfind("! ", 0) == 0);
    CHECK(contains(headers.substr(0, headers.find('\n')), "run_prelude.hpp.gch"));
  }
  CHECK(tg_test::run(dir, "run --release --debug " + file).code == 2);
}

TEST_CASE("tapegrad run: no file, a directory, no compile: one line of ours, exit code 2") {
  const RunDir dir;
  Result r = tg_test::run(dir, "run '" + (dir / "missing.cpp") + "'");
  CHECK(r.code == 2);
  CHECK(lines_of(r.err).size() == 1);
  CHECK(contains(r.err, "No such file"));
  CHECK(contains(r.err, "missing.cpp"));

  r = tg_test::run(dir, "run '" + dir.path.string() + "'");
  CHECK(r.code == 2);
  CHECK(contains(r.err, "is a directory"));

  r = tg_test::run(dir, "run");
  CHECK(r.code == 2);
  CHECK(contains(r.err, "which file?"));

  const std::string file = dir.script("bad.cpp", "int main() { return undefined_name; }\n");
  r = tg_test::run(dir, "run " + file);
  CHECK(r.code == 2);
  // The compiler's own message (file:line:column: error: ...), then ours.
  CHECK(contains(r.err, "bad.cpp:1:"));
  CHECK(contains(r.err, "undefined_name"));
  const std::vector<std::string> err = lines_of(r.err);
  REQUIRE(!err.empty());
  CHECK(contains(err.back(), "did not compile"));
}

TEST_CASE(
    "tapegrad run: an exception out of main prints its message (exit 1); a crash names its "
    "signal") {
  const RunDir dir;
  std::string file = dir.script("throws.cpp", R"(#include <tapegrad/tapegrad.hpp>
namespace tg = tapegrad;
int main() {
  std::puts("before");
  tg::matmul(tg::ones({2, 3}), tg::ones({2, 3}));
})");
  Result r = tg_test::run(dir, "run " + file);
  CHECK(r.code == 1);
  CHECK(r.out == "before\n");
  CHECK(lines_of(r.err).size() == 1);
  CHECK(contains(r.err, "tapegrad::ShapeError: matmul"));
  CHECK(contains(r.err, "[2,3]"));

  // abort(), not a SIGSEGV: in a sanitizer build the script's own ASan would catch that and
  // end it by abort() anyway.
  file = dir.script("crash.cpp", "#include <cstdlib>\nint main() { std::abort(); }\n");
  r = tg_test::run(dir, "run " + file);
  CHECK(r.code == 128 + 6);
  CHECK(contains(r.err, "crash.cpp was killed by signal 6 (SIGABRT: Aborted)"));
}

TEST_CASE("tapegrad run: 30 rounds of two runs of one script at once all succeed") {
  const RunDir dir;
  const std::string file = dir / "twice.cpp";
  for (int round = 0; round < 30; ++round) {
    CAPTURE(round);
    // A new version each round, so that both runs find no program for it and one compiles.
    write_file(
        file, fmt::format("#include <cstdio>\nint main() {{ std::puts(\"round {}\"); }}\n", round));
    const std::vector<Result> runs = run_bounded(dir, "run -v '" + file + "'", 2);
    int compiled = 0;
    for (const Result& r : runs) {
      CAPTURE(r.err);
      CHECK(r.code == 0);
      CHECK(r.out == fmt::format("round {}\n", round));
      compiled += contains(r.err, "tapegrad run: compiled") ? 1 : 0;
    }
    CHECK(compiled == 1);  // the other run waited for that program and ran it
    const std::vector<std::string> names = cache_entry_files(dir);
    CAPTURE(fmt::format("{}", fmt::join(names, " ")));
    REQUIRE(names.size() == 3);  // KEY.d, KEY.program, lock: nothing of other rounds, no temporary
    CHECK(names[0].ends_with(".d"));
    CHECK(names[1] == names[0].substr(0, names[0].size() - 2) + ".program");
    CHECK(names[2] == "lock");
  }
  const Result again = tg_test::run(dir, "run -v '" + file + "'");
  CHECK(again.out == "round 29\n");
  CHECK(contains(again.err, "is cached"));
}

TEST_CASE("tapegrad run: a script whose name starts with '-' is a file, never a compiler option") {
  const RunDir dir;
  dir.script("-x.cpp", "#include <cstdio>\nint main() { std::puts(\"dash\"); }\n");
  // Relative to the working directory, as a user in that directory names it.
  const std::filesystem::path was = std::filesystem::current_path();
  std::filesystem::current_path(dir.path);
  const Result r = tg_test::run(dir, "run -- -x.cpp");
  const Result flags = tg_test::run(dir, "run --print-flags -- -x.cpp");
  std::filesystem::current_path(was);
  CAPTURE(r.err);
  CHECK(r.code == 0);
  CHECK(r.out == "dash\n");
  CHECK(contains(flags.out, " ./-x.cpp "));
}

TEST_CASE("tapegrad run: a FIFO, a device or an oversized file is refused without reading it") {
  const RunDir dir;
  const std::string fifo = dir / "fifo.cpp", zero = dir / "zero.cpp", big = dir / "big.cpp";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::filesystem::create_symlink("/dev/zero", zero);
  // Sparse: its size is over the bound without the bytes on disk.
  write_file(big, "int main() {}\n");
  std::filesystem::resize_file(big, (std::size_t{16} << 20) + 1);
  for (const std::string& file : {fifo, zero}) {
    CAPTURE(file);
    const Result r = run_bounded(dir, "run '" + file + "'", 1, 20).front();
    CHECK(r.code == 2);
    CHECK(lines_of(r.err).size() == 1);
    CHECK(contains(r.err, "not a regular file"));
  }
  const Result r = run_bounded(dir, "run '" + big + "'", 1, 20).front();
  CHECK(r.code == 2);
  CHECK(lines_of(r.err).size() == 1);
  CHECK(contains(r.err, "larger than the 16 MiB"));
}

TEST_CASE("tapegrad run --debug: AddressSanitizer catches what --release lets through") {
  const RunDir dir;
  const std::string file = dir.script("overflow.cpp", R"(#include <vector>
int main(int argc, char**) {
  std::vector<int> v(4);
  return v.data()[argc + 3];  // one past the end
})");
  const Result r = tg_test::run(dir, "run --debug " + file);
  CHECK(r.code != 0);
  CHECK(contains(r.err, "AddressSanitizer: heap-buffer-overflow"));
}

#endif
