// `tapegrad adding`, run as a user runs it on a tiny configuration: the CSV has a row per
// cell, length and seed with the columns it names, the chart one series per cell with a point
// per length (and the baseline) beside |dL/dh_t| per cell before and after training, the
// clipping comparison is written beside it, and mistakes end with one line and exit code 2.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
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

namespace {

const std::string kTiny =
    "adding --cell rnn,gru --steps 4,8 --seeds 1 --epochs 2 --train 64 --test 16 --units 4";

std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out(1);
  for (const char c : line) {
    if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

bool has_text(const std::vector<std::string>& texts, const std::string& s) {
  return std::find(texts.begin(), texts.end(), s) != texts.end();
}

}  // namespace

TEST_CASE("tapegrad adding: a CSV row per cell, length and seed, with the named columns") {
  ScratchDir dir("cli-adding");
  const Result r = tg_test::run(dir, kTiny + " -o '" + (dir / "a.svg") + "'");
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  const std::vector<std::string> out = lines_of(r.out);
  REQUIRE(out.size() >= 4);
  CHECK(contains(out[0], "T = 4"));
  CHECK(contains(out[0], "T = 8"));
  CHECK(out[1].rfind("SimpleRNN", 0) == 0);
  CHECK(out[2].rfind("GRU", 0) == 0);

  const std::vector<std::string> csv = lines_of(read_file(dir / "a.csv"));
  REQUIRE(csv.size() == 1 + 2 * 2);
  CHECK(csv[0] == "cell,steps,seed,test_mse,epochs_to_0.01");
  const std::vector<std::pair<std::string, std::string>> expected{
      {"rnn", "4"}, {"rnn", "8"}, {"gru", "4"}, {"gru", "8"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const std::vector<std::string> f = fields(csv[i + 1]);
    CAPTURE(csv[i + 1]);
    REQUIRE(f.size() == 5);
    CHECK(f[0] == expected[i].first);
    CHECK(f[1] == expected[i].second);
    CHECK(f[2] == "0");
    const double mse = std::strtod(f[3].c_str(), nullptr);
    CHECK((mse > 0 && mse < 10));
    // Empty (never below 0.01) or an epoch of the two.
    CHECK((f[4].empty() || f[4] == "1" || f[4] == "2"));
  }
}

TEST_CASE("tapegrad adding: one series per cell with a point per length, the baseline, the flow") {
  ScratchDir dir("cli-adding");
  const Result r = tg_test::run(dir, kTiny + " -o '" + (dir / "a.svg") + "'");
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  const std::string svg = read_file(dir / "a.svg");
  // The left panel ("a"): plots 1 and 3 are the cells' means (2 and 4 their range bars, no
  // markers), 5 the baseline; nothing after it.
  CHECK(tg_test::svg_markers(svg, 1, "a").size() == 2);
  CHECK(tg_test::svg_markers(svg, 2, "a").empty());
  CHECK(tg_test::svg_markers(svg, 3, "a").size() == 2);
  CHECK(tg_test::svg_markers(svg, 5, "a").size() == 2);
  CHECK(svg.find("gnuplot_plot_6a") == std::string::npos);
  // The right panel ("b"): each cell before and after training, a point per step of T = 8.
  for (int plot = 1; plot <= 4; ++plot) {
    CAPTURE(plot);
    CHECK(tg_test::svg_markers(svg, plot, "b").size() == 8);
  }
  CHECK(svg.find("gnuplot_plot_5b") == std::string::npos);
  const auto texts = tg_test::svg_texts(svg);
  for (const char* t : {"SimpleRNN", "GRU", "predict the mean (1/6)", "SimpleRNN before training",
                        "GRU after training", "sequence length T (steps)"}) {
    CHECK_MESSAGE(has_text(texts, t), t);
  }
  CHECK_FALSE(has_text(texts, "LSTM"));

  // The clipping comparison beside it: the unclipped loss ends (inf or NaN), the clipped one
  // runs every update.
  const std::vector<std::string> clipping = lines_of(read_file(dir / "a_clipping.csv"));
  REQUIRE(clipping.size() > 10);
  CHECK(clipping[0] == "update,loss_without_clipping,loss_with_clipping");
  const std::vector<std::string> last = fields(clipping.back());
  CHECK(last[1].empty());
  CHECK_FALSE(last[2].empty());
  // A point per finite loss: the unclipped curve stops where its loss did (inf is not drawn);
  // the clipped one has a point per update (and the label's marker may join its group).
  const std::string chart = read_file(dir / "a_clipping.svg");
  const auto finite_without = static_cast<std::size_t>(
      std::count_if(clipping.begin() + 1, clipping.end(), [](const std::string& line) {
        const std::string loss = fields(line)[1];
        return !loss.empty() && loss != "inf" && loss != "nan";
      }));
  CHECK(tg_test::svg_markers(chart, 1).size() == finite_without);
  CHECK(tg_test::svg_markers(chart, 2).size() >= clipping.size() - 1);
}

TEST_CASE("tapegrad adding: the same numbers for one job and two") {
  ScratchDir dir("cli-adding");
  REQUIRE(tg_test::run(dir, kTiny + " --jobs 1 -o '" + (dir / "one.svg") + "'").code == 0);
  REQUIRE(tg_test::run(dir, kTiny + " --jobs 2 -o '" + (dir / "two.svg") + "'").code == 0);
  CHECK(read_file(dir / "one.csv") == read_file(dir / "two.csv"));
}

TEST_CASE("tapegrad adding: bad cells, lengths and outputs, one line on stderr and exit code 2") {
  ScratchDir dir("cli-adding");
  const std::string out = " -o '" + (dir / "f.svg") + "'";
  tg_test::check_usage_error(dir, "adding --cell rnn,tree" + out, "--cell");
  tg_test::check_usage_error(dir, "adding --steps 10,51" + out, "must be even");
  tg_test::check_usage_error(dir, "adding --steps 2" + out, "--steps");
  tg_test::check_usage_error(dir, "adding --steps 10,,20" + out, "--steps");
  tg_test::check_usage_error(dir, "adding --seeds 0" + out, "--seeds");
  tg_test::check_usage_error(dir, "adding --clip-norm -1" + out, "--clip-norm");
  tg_test::check_usage_error(dir, "adding", "--output");
  tg_test::check_usage_error(dir, "adding -o '" + (dir / "f.jpg") + "'",
                             "unknown chart extension '.jpg'");
  CHECK_FALSE(std::filesystem::exists(dir / "f.svg"));
}

#endif
