// Running the tapegrad program as a user runs it, for the tests/cli suites. TAPEGRAD_CLI (the
// path of the built program) comes from tests/CMakeLists.txt when tools are built; without
// it run() is not declared and the suites say there is nothing to test.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <test_util.hpp>

namespace tg_test {

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A path as one shell word, for the argument strings run() takes.
inline std::string quoted(const std::string& path) {
  return "'" + path + "'";
}

struct Result {
  int code = -1;
  std::string out, err;
};

#ifdef TAPEGRAD_CLI
// Runs `tapegrad <args>` (args are shell words) with stdout and stderr captured. With
// timeout_seconds > 0 the program is killed then (exit code 124), so a program that blocks
// fails its test instead of hanging the suite.
inline Result run(const ScratchDir& dir, const std::string& args, int timeout_seconds = 0) {
  const std::string out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string timeout =
      timeout_seconds > 0 ? "timeout " + std::to_string(timeout_seconds) + " " : "";
  const std::string cmd =
      timeout + "'" + TAPEGRAD_CLI + "' " + args + " >'" + out + "' 2>'" + err + "' </dev/null";
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}
#endif

// `r` is a refusal as every subcommand gives one: exit status 2, nothing on stdout and one
// line on stderr that holds each of `words`.
template <class... Words>
void check_usage_error(const Result& r, const Words&... words) {
  CAPTURE(r.err);
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(lines_of(r.err).size() == 1);
  CHECK_FALSE(contains(r.err, "internal error"));
  for (const std::string& word : {std::string(words)...}) {
    CHECK_MESSAGE(contains(r.err, word), word);
  }
}

#ifdef TAPEGRAD_CLI
// Runs `tapegrad <args>` and checks it is refused so, in words that hold `expected`.
inline void check_usage_error(const ScratchDir& dir, const std::string& args,
                              const std::string& expected) {
  CAPTURE(args);
  check_usage_error(run(dir, args), expected);
}
#endif

}  // namespace tg_test
