// The charts of train --plot, cv --plot and gradflow as a reader needs them: --size and
// --dpi on every command that plots, the best epoch marked on the loss chart, unit counts on
// a log2 axis with error bars stopping at 0, and the gradient-flow subtitle in words.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cli_util.hpp"
#include "tools/viz/svg_util.hpp"

using tg_test::contains;
using tg_test::quoted;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;

#ifdef TAPEGRAD_CLI

namespace {

bool has_text_starting(const std::vector<std::string>& texts, const std::string& start) {
  return std::any_of(texts.begin(), texts.end(),
                     [&](const std::string& t) { return t.rfind(start, 0) == 0; });
}

}  // namespace

TEST_CASE("tapegrad train --plot: the best epoch marked; --size and --dpi set the png") {
  ScratchDir dir("cli-charts");
  const std::string flags = " --units 4 --verbose 0 --out-dir " + quoted(dir.path.string());
  Result r = tg_test::run(
      dir, "train --epochs 4 --validation-split 0.2 --plot " + quoted(dir / "loss.svg") + flags);
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  const auto texts = tg_test::svg_texts(read_file(dir / "loss.svg"));
  CHECK(has_text_starting(texts, "best epoch "));
  CHECK(std::any_of(texts.begin(), texts.end(), [](const std::string& t) {
    return t.rfind("best epoch ", 0) == 0 && contains(t, ": val_loss ");
  }));

  r = tg_test::run(dir, "train --epochs 2 --plot " + quoted(dir / "loss.png") +
                            " --size 640x400 --dpi 192" + flags);
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CHECK(tg_test::png_size(read_file(dir / "loss.png")) ==
        std::pair<std::uint32_t, std::uint32_t>{1280, 800});

  for (const char* bad : {"--size 640", "--size 640x40", "--size axb", "--dpi 0"}) {
    r = tg_test::run(dir, "train --epochs 1 --plot " + quoted(dir / "x.png") + " " + bad + flags);
    CAPTURE(bad);
    CHECK(r.code == 2);
  }
  r = tg_test::run(dir,
                   "train --epochs 1 --plot " + quoted(dir / "x.png") + " --size 64x500" + flags);
  CHECK(contains(r.err,
                 "must be WIDTHxHEIGHT in pixels, each 100 to 20000 (e.g. 800x500), got '64x500'"));
}

TEST_CASE("tapegrad cv --plot: units on a log2 axis, error bars from 0 at least, --size") {
  ScratchDir dir("cli-charts");
  const Result r =
      tg_test::run(dir, "cv --units 2,4,8,16 --folds 2 --epochs 1 -o " + quoted(dir / "cv.csv") +
                            " --plot " + quoted(dir / "cv.svg") + " --size 900x450");
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  const std::string svg = read_file(dir / "cv.svg");
  CHECK(contains(svg, "width=\"900\" height=\"450\""));
  const auto texts = tg_test::svg_texts(svg);
  for (const char* tick : {"2", "4", "8", "16"}) {
    CHECK_MESSAGE(std::find(texts.begin(), texts.end(), tick) != texts.end(), tick);
  }
  const auto points = tg_test::svg_markers(svg, 1);
  REQUIRE(points.size() >= 4);
  CHECK(points[2].x - points[1].x == doctest::Approx(points[1].x - points[0].x).epsilon(0.01));
  CHECK_FALSE(std::any_of(texts.begin(), texts.end(),
                          [](const std::string& t) { return !t.empty() && t[0] == '-'; }));
}

TEST_CASE("tapegrad gradflow: the subtitle says what the untrained chart shows; --dpi") {
  ScratchDir dir("cli-charts");
  Result r = tg_test::run(dir, "gradflow --units 8 --steps 30 -o " + quoted(dir / "flow.svg"));
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  const auto texts = tg_test::svg_texts(read_file(dir / "flow.svg"));
  CHECK(has_text_starting(texts, "untrained weights: |dL/dh_t| shrinks toward early steps for "));
  CHECK(has_text_starting(texts, "|dL/dh_0| / |dL/dh_29|: SimpleRNN "));

  r = tg_test::run(
      dir, "gradflow --units 4 --steps 5 --epochs 1 --dpi 48 -o " + quoted(dir / "small.png"));
  REQUIRE(r.code == 0);
  CHECK(tg_test::png_size(read_file(dir / "small.png")) ==
        std::pair<std::uint32_t, std::uint32_t>{400, 250});
}

#endif
