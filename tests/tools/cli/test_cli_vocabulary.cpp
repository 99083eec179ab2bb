// One vocabulary across the tapegrad program's commands: --cell (a list for gradflow, --cells
// its old spelling), -o,--output for every output file (--out kept hidden where it was the
// spelling), `predict FILE` as `info FILE`, "did you mean" for a mistyped flag, bounds of
// integer flags in words, output folders created, a NaN named by file and line, and `run`
// refusing what it cannot compile or where program arguments go without "--".
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include "cli_util.hpp"

namespace tg = tapegrad;

using tg_test::check_usage_error;
using tg_test::contains;
using tg_test::lines_of;
using tg_test::quoted;
using tg_test::Result;
using tg_test::ScratchDir;
using tg_test::write_file;

#ifdef TAPEGRAD_CLI

namespace {

const std::string kGradflowSmall = "gradflow --units 2 --steps 3 --batch 1 ";

}  // namespace

TEST_CASE("gradflow takes --cell as every command does; --cells is its old spelling") {
  ScratchDir dir("cli-vocabulary");
  const Result cell =
      tg_test::run(dir, kGradflowSmall + "--cell rnn,gru -o " + quoted(dir / "a.svg"));
  REQUIRE_MESSAGE(cell.code == 0, cell.err);
  CHECK(lines_of(cell.out).size() == 4);  // header, two cells, "Wrote ..."
  CHECK(contains(cell.out, "SimpleRNN"));
  CHECK(contains(cell.out, "GRU"));
  CHECK_FALSE(contains(cell.out, "LSTM"));
  const Result cells =
      tg_test::run(dir, kGradflowSmall + "--cells rnn,gru -o " + quoted(dir / "b.svg"));
  REQUIRE_MESSAGE(cells.code == 0, cells.err);
  CHECK(lines_of(cells.out).size() == 4);
  check_usage_error(dir, kGradflowSmall + "--cell rnn,tcn -o " + quoted(dir / "c.svg"),
                    "--cell: tcn not in {rnn,lstm,gru}");
  const Result help = tg_test::run(dir, "gradflow --help");
  CHECK(contains(help.out, "--cell"));
  CHECK(contains(help.out, "old spelling"));
}

TEST_CASE("-o,--output names every output file; --out stays a hidden alias where it was one") {
  ScratchDir dir("cli-vocabulary");
  const Result output =
      tg_test::run(dir, kGradflowSmall + "--cell rnn --output " + quoted(dir / "a.svg"));
  REQUIRE_MESSAGE(output.code == 0, output.err);
  CHECK(std::filesystem::exists(dir / "a.svg"));
  const Result out =
      tg_test::run(dir, kGradflowSmall + "--cell rnn --out " + quoted(dir / "b.svg"));
  REQUIRE_MESSAGE(out.code == 0, out.err);
  CHECK(std::filesystem::exists(dir / "b.svg"));
  check_usage_error(dir, kGradflowSmall + "--cell rnn", "--output is required");
  check_usage_error(
      dir,
      kGradflowSmall + "--cell rnn -o " + quoted(dir / "c.svg") + " --out " + quoted(dir / "d.svg"),
      "excludes");
  for (const std::string command : {"gradflow", "cv", "predict", "dot"}) {
    const Result help = tg_test::run(dir, command + " --help");
    CAPTURE(command);
    CHECK(contains(help.out, "-o,--output"));
    CHECK_FALSE(contains(help.out, "--out "));
  }
  const Result cv = tg_test::run(
      dir, "cv --units 2 --folds 2 --epochs 1 --samples 8 --seq 3 --out " + quoted(dir / "cv.csv"));
  REQUIRE_MESSAGE(cv.code == 0, cv.err);
  CHECK(std::filesystem::exists(dir / "cv.csv"));
}

TEST_CASE("predict takes the weights file as its argument, as info does, or as --weights") {
  ScratchDir dir("cli-vocabulary");
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 3), tg::nn::Dense(3, 1)};
  const std::string weights = dir / "m.safetensors";
  tg::nn::save(model, weights);
  const Result positional =
      tg_test::run(dir, "predict " + quoted(weights) + " -o " + quoted(dir / "a.csv"));
  REQUIRE_MESSAGE(positional.code == 0, positional.err);
  const Result flag =
      tg_test::run(dir, "predict --weights " + quoted(weights) + " -o " + quoted(dir / "b.csv"));
  REQUIRE_MESSAGE(flag.code == 0, flag.err);
  CHECK(tg_test::read_file(dir / "a.csv") == tg_test::read_file(dir / "b.csv"));
  check_usage_error(dir, "predict " + quoted(dir / "none.safetensors"), "does not exist");
  check_usage_error(dir, "predict " + quoted(weights) + " --weights " + quoted(weights),
                    "excludes");
  check_usage_error(dir, "predict -o " + quoted(dir / "c.csv"), "tapegrad predict FILE");
}

TEST_CASE("a mistyped or repeated flag is answered in plain words") {
  ScratchDir dir("cli-vocabulary");
  check_usage_error(dir, "train --epoch 3", "unknown flag --epoch; did you mean --epochs?");
  check_usage_error(dir, "train --epochs 3 --epochs 4", "--epochs given 2 times; give it once");
  check_usage_error(dir, "train --batchsize 3", "did you mean --batch-size?");
  check_usage_error(dir, "cv --fodls 3", "did you mean --folds?");
  check_usage_error(dir, "predict --wieghts x", "did you mean --weights?");
  // Nothing close: no guess, but the flag is named.
  check_usage_error(dir, "train --frobnicate 3", "unknown flag --frobnicate (see");
  check_usage_error(dir, "gradflow --outptu x.svg", "did you mean --output?");
  // A hidden old spelling is accepted, never suggested.
  check_usage_error(dir, "gradflow --ot x.svg", "unknown flag --ot (see");
}

TEST_CASE("an integer flag out of its bounds is answered in words") {
  ScratchDir dir("cli-vocabulary");
  check_usage_error(dir, "train --batch-size 0", "--batch-size: must be at least 1, got 0");
  check_usage_error(dir, "train --epochs 2000000",
                    "--epochs: must be at most 1000000, got 2000000");
  check_usage_error(dir, "train --epochs two", "--epochs: must be a whole number, got 'two'");
  check_usage_error(dir, "train --batch-size 99999999999999999999999",
                    "--batch-size: must be at most 1099511627776");
  check_usage_error(dir, "train --window 0 --data x.csv", "--window: must be at least 1, got 0");
  check_usage_error(dir, "cv --folds 1", "--folds: must be at least 2, got 1");
  check_usage_error(dir, "dot --steps 0 -o g.dot", "--steps: must be at least 1, got 0");
  check_usage_error(dir, "gradflow --units 0 -o f.svg", "--units: must be at least 1, got 0");
  const Result r = tg_test::run(dir, "train --batch-size 0");
  CHECK_FALSE(contains(r.err, "not in range"));
}

TEST_CASE("output folders are created for every output file") {
  ScratchDir dir("cli-vocabulary");
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 3), tg::nn::Dense(3, 1)};
  const std::string weights = dir / "m.safetensors";
  tg::nn::save(model, weights);
  const std::vector<std::pair<std::string, std::string>> runs = {
      {"predict " + quoted(weights) + " -o ", "p/q/pred.csv"},
      {"dot --units 2 --steps 2 --batch 1 -o ", "d/e/graph.dot"},
      {kGradflowSmall + "--cell rnn -o ", "g/h/flow.svg"},
      {"cv --units 2 --folds 2 --epochs 1 --samples 8 --seq 3 -o ", "c/v/cv.csv"},
  };
  for (const auto& [args, file] : runs) {
    const Result r = tg_test::run(dir, args + quoted(dir / file));
    CAPTURE(args);
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(std::filesystem::exists(dir / file));
  }
  const Result plot =
      tg_test::run(dir, "cv --units 2 --folds 2 --epochs 1 --samples 8 --seq 3 -o " +
                            quoted(dir / "cv.csv") + " --plot " + quoted(dir / "x/y/cv.svg"));
  CHECK_MESSAGE(plot.code == 0, plot.err);
  CHECK(std::filesystem::exists(dir / "x/y/cv.svg"));
  // A folder that cannot be made is the flag's usage error.
  write_file(dir / "file", "");
  check_usage_error(dir, "predict " + quoted(weights) + " -o " + quoted(dir / "file/pred.csv"),
                    "--output: cannot create the folder of");
}

TEST_CASE("a NaN or an infinity in a CSV is named by file and line") {
  ScratchDir dir("cli-vocabulary");
  const std::string csv = dir / "gaps.csv";
  write_file(csv, "month,passengers\n1,100\n2,110\n\n3,nan\n4,130\n5,140\n6,150\n");
  check_usage_error(
      dir,
      "train --epochs 1 --window 2 --data " + quoted(csv) + " --out-dir " + quoted(dir / "run"),
      "gaps.csv:5: column -1: value 2 of the series is nan");
  write_file(csv, "month,passengers\n1,100\n2,inf\n3,120\n4,130\n5,140\n6,150\n");
  check_usage_error(dir,
                    "train --epochs 1 --window 2 --data " + quoted(csv) +
                        " --column passengers --out-dir " + quoted(dir / "run"),
                    "gaps.csv:3: column 'passengers': value 1 of the series is inf");
}

TEST_CASE("tapegrad run refuses a file that is not C++, and says where program arguments go") {
  ScratchDir dir("cli-vocabulary");
  const std::string script = dir / "x.py";
  write_file(script, "print('hello')\n");
  check_usage_error(dir, "run " + quoted(script),
                    "is not a C++ source file: run compiles one .cpp, .cc or .cxx file");
  const std::string source = dir / "exp.cpp";
  write_file(source, "int main() {}\n");
  check_usage_error(
      dir, "run " + quoted(source) + " --foo 3",
      "arguments for the program go after --: tapegrad run " + source + " -- --foo 3");
  check_usage_error(dir, "run " + quoted(source) + " --rebuld", "did you mean --rebuild?");
}

#endif
