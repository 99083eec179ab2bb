// `tapegrad gradflow`, run as a user runs it: the chart carries one line per cell with a
// point per step, the CSVs beside it have a row per cell and step (and per parameter), the
// same seed gives the same numbers, and mistakes end with one line and exit code 2.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "cli_util.hpp"
#include "tools/viz/svg_util.hpp"

using tg_test::contains;
using tg_test::lines_of;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;

#ifdef TAPEGRAD_CLI

TEST_CASE("tapegrad gradflow: one chart line per cell, CSVs beside it, a summary per cell") {
  ScratchDir dir("cli-gradflow");
  const Result r =
      tg_test::run(dir, "gradflow --cells rnn,lstm,gru --units 8 --steps 12 --batch 2 -o '" +
                            (dir / "flow.svg") + "'");
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  const std::vector<std::string> out = lines_of(r.out);
  REQUIRE(out.size() == 5);  // header, three cells, "Wrote ..."
  CHECK(contains(out[0], "|dL/dh_11|"));
  CHECK(out[1].rfind("SimpleRNN", 0) == 0);
  CHECK(out[2].rfind("LSTM", 0) == 0);
  CHECK(out[3].rfind("GRU", 0) == 0);

  const std::string svg = read_file(dir / "flow.svg");
  const auto lines = tg_test::svg_coloured_lines(svg);
  REQUIRE(lines.size() == 6);  // three data lines, three legend samples
  for (int i = 0; i < 3; ++i) CHECK(lines[i].points == 12);
  const auto texts = tg_test::svg_texts(svg);
  for (const char* label : {"SimpleRNN", "LSTM", "GRU"}) {
    CHECK_MESSAGE(std::find(texts.begin(), texts.end(), label) != texts.end(), label);
  }

  const std::vector<std::string> csv = lines_of(read_file(dir / "flow.csv"));
  REQUIRE(csv.size() == 1 + 3 * 12);
  CHECK(csv[0] == "layer,step,norm");
  CHECK(csv[1].rfind("SimpleRNN,0,", 0) == 0);
  CHECK(csv[36].rfind("GRU,11,", 0) == 0);
  // Each model: 3 recurrent parameters and Dense's kernel and bias.
  const std::vector<std::string> params = lines_of(read_file(dir / "flow_parameters.csv"));
  REQUIRE(params.size() == 1 + 3 * 5);
  CHECK(params[1].rfind("SimpleRNN/0.cell.kernel,", 0) == 0);
}

TEST_CASE("tapegrad gradflow: the same seed gives the same numbers; --epochs changes them") {
  ScratchDir dir("cli-gradflow");
  const std::string args = "gradflow --cells gru,rnn --units 4 --steps 6 --seed 3 -o '";
  REQUIRE(tg_test::run(dir, args + (dir / "a.png") + "'").code == 0);
  REQUIRE(tg_test::run(dir, args + (dir / "b.png") + "'").code == 0);
  CHECK(read_file(dir / "a.csv") == read_file(dir / "b.csv"));
  CHECK(read_file(dir / "a.png").substr(1, 3) == "PNG");
  const Result trained = tg_test::run(dir, args + (dir / "c.pdf") + "' --epochs 1 --clip-norm 0.5");
  REQUIRE(trained.code == 0);
  CHECK(read_file(dir / "c.csv") != read_file(dir / "a.csv"));
  CHECK(read_file(dir / "c.pdf").substr(0, 5) == "%PDF-");
}

TEST_CASE("tapegrad gradflow: bad flags and extensions, one line on stderr and exit code 2") {
  ScratchDir dir("cli-gradflow");
  const auto check_error = [&](const std::string& args, const std::string& expected) {
    tg_test::check_usage_error(dir, "gradflow " + args, expected);
  };
  check_error("-o '" + (dir / "flow.jpg") + "'",
              "unknown chart extension '.jpg' (use .svg, .png or .pdf)");
  check_error("--cells rnn,tree -o '" + (dir / "f.svg") + "'", "--cells");
  check_error("--steps 0 -o '" + (dir / "f.svg") + "'", "--steps");
  check_error("--clip-norm -1 -o '" + (dir / "f.svg") + "'", "--clip-norm");
  check_error("--cells rnn", "-o");
  CHECK(!std::filesystem::exists(dir / "flow.csv"));
}

#endif
