// Strict arguments: list flags refuse empty items and trim spaces, a mistyped
// subcommand names the commands and the closest one, --data of a directory says so. Each bad
// input: one line on stderr, exit code 2, nothing on stdout.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include "cli_util.hpp"

namespace tg = tapegrad;

using tg_test::contains;
using tg_test::lines_of;
using tg_test::Result;
using tg_test::ScratchDir;

#ifndef TAPEGRAD_CLI

TEST_CASE("tapegrad strict arguments: the program is not built, nothing to test") {
  MESSAGE("the tapegrad program is not part of this build");
}

#else

using tg_test::check_usage_error;
using tg_test::run;

TEST_CASE("--units with an empty item is an error naming the flag and the value") {
  ScratchDir dir("tapegrad-cli-strict");
  const std::string out = " --epochs 1 --out-dir '" + dir / "out" + "'";
  for (const std::string units : {"64,,32", ",64", "64,", ""}) {
    CAPTURE(units);
    check_usage_error(run(dir, "train --units '" + units + "'" + out), "--units",
                      "empty item in '" + units + "'");
  }
  // The other subcommands' lists: cv's --units, gradflow's --cells and --units.
  check_usage_error(run(dir, "cv --units 8,,16"), "tapegrad cv", "--units", "'8,,16'");
  check_usage_error(run(dir, "gradflow --cells rnn,,gru -o '" + dir / "f.svg" + "'"),
                    "tapegrad gradflow", "--cells", "'rnn,,gru'");
  check_usage_error(run(dir, "gradflow --units ,4 -o '" + dir / "f.svg" + "'"), "--units", "',4'");
  // A bad item is named with the whole value.
  check_usage_error(run(dir, "train --units '64, x'" + out), "--units", "'x'", "'64, x'");
  check_usage_error(run(dir, "gradflow --cells rnn,cnn -o '" + dir / "f.svg" + "'"), "--cells",
                    "cnn not in", "'rnn,cnn'");
}

TEST_CASE("--units with spaces around the items is accepted, trimmed") {
  ScratchDir dir("tapegrad-cli-strict");
  const Result r = run(dir, "train --units '8, 4' --epochs 1 --out-dir '" + dir / "out" + "'");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "rnn x 2 (8,4)"));
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 8, {.return_sequences = true}),
                           tg::nn::SimpleRNN(8, 4), tg::nn::Dense(4, 1)};
  tg::nn::load(model, dir / "out/model.safetensors");
  CHECK(run(dir, "info --units ' 16 ,8 '").code == 0);
  const Result cv = run(dir, "cv --units ' 2, 3' --folds 2 --epochs 1 -o '" + dir / "cv.csv" + "'");
  CHECK_MESSAGE(cv.code == 0, cv.err);
}

TEST_CASE("a mistyped subcommand names the commands and the closest one") {
  ScratchDir dir("tapegrad-cli-strict");
  Result r = run(dir, "trian --epochs 3");
  check_usage_error(r, "'trian' is not a tapegrad command", "did you mean 'train'?", "train",
                    "info", "dot", "gradflow", "cv", "run");
  r = run(dir, "gradflw");
  check_usage_error(r, "did you mean 'gradflow'?");
  // Nothing close: the list alone.
  r = run(dir, "frobnicate");
  check_usage_error(r, "'frobnicate' is not a tapegrad command", "commands: train");
  CHECK_FALSE(contains(r.err, "did you mean"));
}

TEST_CASE("--data of a directory says it is a directory") {
  ScratchDir dir("tapegrad-cli-strict");
  const Result r =
      run(dir, "train --data '" + dir.path.string() + "' --out-dir '" + dir / "out" + "'");
  const std::string quoted = fmt::format("'{}'", dir.path.string());
  check_usage_error(r, "--data", quoted + " is a directory, not a CSV file");
}

TEST_CASE("--column -1 is the last column, -2 the one before; too far back names the count") {
  ScratchDir dir("tapegrad-cli-strict");
  std::string csv = "a,b\n";
  for (int i = 0; i < 20; ++i) csv += std::to_string(i) + "," + std::to_string(i % 5) + "\n";
  tg_test::write_file(dir / "two.csv", csv);
  const std::string base = "train --data '" + dir / "two.csv" +
                           "' --window 3 --epochs 1 --threads 1 --out-dir '" + dir / "out";
  const Result last = run(dir, base + "1' --column -1");
  REQUIRE_MESSAGE(last.code == 0, last.err);
  CHECK(contains(last.out, "column -1: 20 values scaled to [0, 1] from [0, 4]"));
  const Result first = run(dir, base + "2' --column -2");
  REQUIRE_MESSAGE(first.code == 0, first.err);
  CHECK(contains(first.out, "from [0, 19]"));
  // The default is the last column: the same run as --column -1.
  REQUIRE(run(dir, base + "3'").code == 0);
  CHECK(tg_test::read_file(dir / "out3/loss.csv") == tg_test::read_file(dir / "out1/loss.csv"));
  check_usage_error(run(dir, base + "4' --column -3"),
                    "column index -3 is out of range: the line has 2 fields");
}

#endif
