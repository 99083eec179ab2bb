// `tapegrad train --plot`: the chart carries the loss curve (and val_loss with a split), one
// point per epoch; a bad extension is refused before any training.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "cli_util.hpp"
#include "tools/viz/svg_util.hpp"

using tg_test::contains;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;

#ifdef TAPEGRAD_CLI

TEST_CASE("tapegrad train --plot draws loss and val_loss, a point per epoch") {
  ScratchDir dir("cli-plot");
  const std::string flags = " --units 4 --verbose 0 --out-dir '" + dir.path.string() + "'";
  Result r = tg_test::run(dir, "train --epochs 3 --plot '" + (dir / "loss.svg") + "'" + flags);
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.empty());  // --verbose 0 prints nothing, yet the chart is written
  std::string svg = read_file(dir / "loss.svg");
  auto lines = tg_test::svg_coloured_lines(svg);
  REQUIRE(lines.size() == 2);  // the curve and its legend sample
  CHECK(lines[0].points == 3);

  r = tg_test::run(
      dir, "train --epochs 4 --validation-split 0.2 --plot '" + (dir / "v.svg") + "'" + flags);
  REQUIRE(r.code == 0);
  svg = read_file(dir / "v.svg");
  lines = tg_test::svg_coloured_lines(svg);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].points == 4);
  CHECK(lines[1].points == 4);
  const auto texts = tg_test::svg_texts(svg);
  CHECK(std::find(texts.begin(), texts.end(), "val_loss") != texts.end());
}

TEST_CASE("tapegrad train --plot with an unknown extension fails before training") {
  ScratchDir dir("cli-plot-bad");
  const Result r = tg_test::run(dir, "train --epochs 2 --verbose 0 --out-dir '" +
                                         dir.path.string() + "' --plot '" + (dir / "l.jpg") + "'");
  CHECK(r.code == 2);
  CHECK(contains(r.err, "unknown chart extension '.jpg' (use .svg, .png or .pdf)"));
  CHECK_FALSE(std::filesystem::exists(dir / "model.safetensors"));
}

#endif
