// What a reader needs to take values off a chart: gridlines, a marker per point, a log2 x
// axis for unit counts, error bars that stop at 0 for a loss, a labelled mark (the best
// epoch), a subtitle, and the size and dpi of a png.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>
#include <tools/viz/svg_util.hpp>

namespace tg = tapegrad;

namespace {

bool has_text(const std::vector<std::string>& texts, const std::string& s) {
  return std::find(texts.begin(), texts.end(), s) != texts.end();
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

const tg::tools::LineSeries kUnits{.label = "mean +- std",
                                   .x = {8, 16, 32, 64},
                                   .y = {1, 0.5, 0.4, 0.6},
                                   .y_err = {3, 0.1, 0.1, 0.2}};

}  // namespace

TEST_CASE("write_line_chart: gridlines behind the data and a marker at every point") {
  tg_test::ScratchDir dir("chart-teaching");
  const tg::tools::LineSeries a{.label = "a", .x = {0, 1, 2, 3, 4}, .y = {5, 4, 3, 2, 1}};
  const tg::tools::LineSeries b{.label = "b", .x = {0, 2, 4}, .y = {1, 2, 3}};
  tg::tools::write_line_chart(dir / "c.svg", {a, b});
  const std::string svg = tg_test::read_file(dir / "c.svg");
  CHECK(count_of(svg, "class=\"gridline\"") >= 4);
  // Each series' markers: one per point, and one on its legend sample.
  CHECK(tg_test::svg_markers(svg, 1).size() == a.x.size());
  CHECK(tg_test::svg_markers(svg, 2).size() == b.x.size());
  CHECK(tg_test::svg_markers(svg).size() == a.x.size() + b.x.size() + 2);
}

TEST_CASE("write_line_chart: log2_x spaces 8, 16, 32, 64 equally and ticks them") {
  tg_test::ScratchDir dir("chart-teaching");
  tg::tools::write_line_chart(dir / "cv.svg", {kUnits}, {.log2_x = true});
  const std::string svg = tg_test::read_file(dir / "cv.svg");
  const auto texts = tg_test::svg_texts(svg);
  for (const char* tick : {"8", "16", "32", "64"}) CHECK_MESSAGE(has_text(texts, tick), tick);
  CHECK_FALSE(has_text(texts, "40"));  // a linear axis would tick 10, 20, ... 60
  const auto points = tg_test::svg_markers(svg, 1);
  REQUIRE(points.size() == 4);
  const double step = points[1].x - points[0].x;
  CHECK(step > 0);
  CHECK(points[2].x - points[1].x == doctest::Approx(step).epsilon(0.01));
  CHECK(points[3].x - points[2].x == doctest::Approx(step).epsilon(0.01));

  const tg::tools::LineSeries zero{.label = "z", .x = {0, 8}, .y = {1, 2}};
  CHECK_THROWS_WITH_AS(tg::tools::write_line_chart(dir / "bad.svg", {zero}, {.log2_x = true}),
                       doctest::Contains("series 'z' point 0 has x 0 (a log2 x axis needs"),
                       tg::ValueError);
}

TEST_CASE("write_line_chart: non_negative stops error bars at 0, the axis with them") {
  tg_test::ScratchDir dir("chart-teaching");
  // The first bar (1 +- 3) would reach -2: the axis would tick negative values.
  tg::tools::write_line_chart(dir / "free.svg", {kUnits});
  tg::tools::write_line_chart(dir / "loss.svg", {kUnits}, {.non_negative = true});
  const auto negative = [](const std::vector<std::string>& texts) {
    return std::count_if(texts.begin(), texts.end(),
                         [](const std::string& t) { return !t.empty() && t[0] == '-'; });
  };
  CHECK(negative(tg_test::svg_texts(tg_test::read_file(dir / "free.svg"))) > 0);
  const std::string svg = tg_test::read_file(dir / "loss.svg");
  CHECK(negative(tg_test::svg_texts(svg)) == 0);
  CHECK(has_text(tg_test::svg_texts(svg), "0"));
  // Still a bar and two caps per point.
  const auto lines = tg_test::svg_coloured_lines(svg);
  CHECK(std::count_if(lines.begin(), lines.end(), [](const auto& l) { return l.points == 2; }) ==
        4 * 3 + 1);
}

TEST_CASE("write_line_chart: a mark is a large marker with its label; the subtitle a line") {
  tg_test::ScratchDir dir("chart-teaching");
  const tg::tools::LineSeries loss{.label = "val_loss", .x = {0, 1, 2, 3}, .y = {4, 2, 1, 3}};
  tg::tools::write_line_chart(dir / "loss.svg", {loss},
                              {.title = "Loss",
                               .log_y = true,
                               .subtitle = "what you see\nand why",
                               .marks = {{.x = 2, .y = 1, .label = "best epoch 2: val_loss 1"}}});
  const std::string svg = tg_test::read_file(dir / "loss.svg");
  const auto texts = tg_test::svg_texts(svg);
  CHECK(has_text(texts, "Loss"));
  CHECK(has_text(texts, "what you see"));
  CHECK(has_text(texts, "and why"));
  CHECK(has_text(texts, "best epoch 2: val_loss 1"));
  // The mark's marker sits on the data's third point and is larger than the data's.
  const auto all = tg_test::svg_markers(svg), data = tg_test::svg_markers(svg, 1);
  REQUIRE(all.size() == data.size() + 2);  // and the legend sample's
  const auto mark = std::max_element(
      all.begin(), all.end(), [](const auto& p, const auto& q) { return p.scale < q.scale; });
  CHECK(mark->scale > 2 * data[2].scale);
  CHECK(mark->x == doctest::Approx(data[2].x).epsilon(0.01));
  CHECK(mark->y == doctest::Approx(data[2].y).epsilon(0.01));
}

TEST_CASE("write_line_chart: a png's dpi scales its pixels; bad size or dpi is refused") {
  tg_test::ScratchDir dir("chart-teaching");
  const tg::tools::LineSeries s{.label = "s", .x = {0, 1}, .y = {1, 2}};
  tg::tools::write_line_chart(dir / "96.png", {s}, {.width = 600, .height = 400});
  tg::tools::write_line_chart(dir / "192.png", {s}, {.width = 600, .height = 400, .dpi = 192});
  CHECK(tg_test::png_size(tg_test::read_file(dir / "96.png")) ==
        std::pair<std::uint32_t, std::uint32_t>{600, 400});
  CHECK(tg_test::png_size(tg_test::read_file(dir / "192.png")) ==
        std::pair<std::uint32_t, std::uint32_t>{1200, 800});
  CHECK_THROWS_WITH_AS(tg::tools::write_line_chart(dir / "x.png", {s}, {.width = 50}),
                       doctest::Contains("size 50x500 (expected each side from 100 to 20000)"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::tools::write_line_chart(dir / "x.png", {s}, {.dpi = 0}),
                       doctest::Contains("dpi 0 (expected 24 to 2400)"), tg::ValueError);
}
