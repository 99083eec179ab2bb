// Running the tapegrad program as a user runs it, for the tests/cli suites. TAPEGRAD_CLI (the
// path of the built program) comes from tests/CMakeLists.txt when tools are built; without
// it run() is not declared and the suites say there is nothing to test.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

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

}  // namespace tg_test
