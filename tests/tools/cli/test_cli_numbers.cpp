// Numbers given to the tapegrad program: a flag or CSV value that does not parse, or does
// not fit its type, is a one-line usage error naming the flag (or the file) and the value,
// exit code 2, never an "internal error" (exit 1) or a value silently wrapped. (The other
// numeric flags go through CLI11 ranges and validators, CSV values through
// read_csv_column, which already report so.)
#include <doctest/doctest.h>

#include <string>

#include "cli_util.hpp"

using tg_test::contains;
using tg_test::lines_of;
using tg_test::Result;
using tg_test::ScratchDir;

#ifndef TAPEGRAD_CLI

TEST_CASE("tapegrad numbers: the program is not built, nothing to test") {
  MESSAGE("the tapegrad program is not part of this build");
}

#else

using tg_test::check_usage_error;
using tg_test::run;

namespace {

// A one-column series long enough for --window 3.
std::string write_series(const ScratchDir& dir) {
  std::string csv = "x\n";
  for (int i = 0; i < 20; ++i) csv += std::to_string(i % 7) + "\n";
  tg_test::write_file(dir / "s.csv", csv);
  return dir / "s.csv";
}

// `tapegrad train` on the series with `flags`, writing into the scratch directory.
Result train(const ScratchDir& dir, const std::string& flags) {
  return run(dir, "train --data '" + write_series(dir) + "' --window 3 --epochs 1 --verbose 0 " +
                      "--out-dir '" + dir / "out" + "' " + flags);
}

}  // namespace

TEST_CASE("tapegrad numbers: a --column index past int64 is a usage error, not stoll's") {
  ScratchDir dir("tapegrad-cli-numbers");
  for (const std::string column : {"99999999999999999999", "9223372036854775808"}) {
    CAPTURE(column);
    check_usage_error(train(dir, "--column " + column), "--column", column);
  }
  // An index that fits but names no column says so.
  check_usage_error(train(dir, "--column 9223372036854775807"), "column", "9223372036854775807");
  CHECK(train(dir, "--column 0").code == 0);
}

TEST_CASE("tapegrad numbers: a --seed outside uint64 is a usage error, not a wrapped seed") {
  ScratchDir dir("tapegrad-cli-numbers");
  for (const std::string seed : {"-1", "18446744073709551616", "99999999999999999999", "1.5"}) {
    CAPTURE(seed);
    check_usage_error(train(dir, "--seed " + seed), "--seed", seed);
  }
  CHECK(train(dir, "--seed 18446744073709551615").code == 0);
}

#endif
