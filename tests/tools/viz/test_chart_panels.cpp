// write_line_charts: panels side by side in one file, each with its own series, axes and
// title; and LineSeries::y_low/y_high, a bar from min to max per point.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <regex>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>
#include <tools/viz/svg_util.hpp>

namespace tg = tapegrad;

namespace {

bool has_text(const std::vector<std::string>& texts, const std::string& s) {
  return std::find(texts.begin(), texts.end(), s) != texts.end();
}

std::size_t lines_with(const std::vector<tg_test::SvgLine>& lines, const std::string& stroke,
                       std::size_t points) {
  return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const auto& l) {
    return l.stroke == stroke && l.points == points;
  }));
}

}  // namespace

TEST_CASE("write_line_charts: two panels in one svg, each with its lines, title and axes") {
  tg_test::ScratchDir dir("chart-panels");
  const tg::tools::ChartPanel left{
      .series = {{.label = "a", .x = {1, 2, 3}, .y = {1, 2, 3}}},
      .options = {.title = "left panel", .x_label = "left x", .y_label = "left y"}};
  const tg::tools::ChartPanel right{
      .series = {{.label = "b", .x = {1, 2, 3, 4, 5}, .y = {1e-3, 1e-2, 1, 1, 1}},
                 {.label = "c", .x = {1, 5}, .y = {0.5, 0.5}}},
      .options = {.title = "right panel", .x_label = "right x", .log_y = true}};
  tg::tools::write_line_charts(dir / "two.svg", {left, right},
                               {.title = "the page", .width = 1200, .height = 500});
  const std::string svg = tg_test::read_file(dir / "two.svg");
  const auto texts = tg_test::svg_texts(svg);
  for (const char* t :
       {"the page", "left panel", "right panel", "left x", "right x", "a", "b", "c"}) {
    CHECK_MESSAGE(has_text(texts, t), t);
  }
  const auto lines = tg_test::svg_coloured_lines(svg);
  // Each panel colours its own series from the palette's start: a (3 points) in the left,
  // b (5 points) and c (2) in the right, each with a legend sample of 2 points.
  CHECK(lines_with(lines, "#1F77B4", 3) == 1);
  CHECK(lines_with(lines, "#1F77B4", 5) == 1);
  CHECK(lines_with(lines, "#FF7F0E", 2) == 2);
  // The log axis of the right panel only: its decade labels are enhanced text ("10", "-3").
  CHECK(has_text(texts, "-3"));
  CHECK(svg.find("width=\"1200\"") != std::string::npos);
}

TEST_CASE("write_line_charts: no panel, or a bad panel, is refused and writes nothing") {
  tg_test::ScratchDir dir("chart-panels");
  CHECK_THROWS_WITH_AS(tg::tools::write_line_charts(dir / "none.svg", {}, {}),
                       "write_line_charts: no panel to draw", tg::ValueError);
  const tg::tools::ChartPanel empty{};
  CHECK_THROWS_WITH_AS(tg::tools::write_line_charts(dir / "bad.svg", {empty}, {}),
                       "write_line_chart: no series to draw", tg::ValueError);
  CHECK_THROWS_AS(tg::tools::write_line_charts(dir / "bad.jpg", {empty}, {}), tg::ValueError);
  CHECK(!std::filesystem::exists(dir / "none.svg"));
  CHECK(!std::filesystem::exists(dir / "bad.svg"));
}

TEST_CASE("write_line_chart: y_low/y_high draw a bar from min to max per point") {
  tg_test::ScratchDir dir("chart-panels");
  const tg::tools::LineSeries range{.label = "mean, min-max",
                                    .x = {1, 2, 3},
                                    .y = {1, 2, 3},
                                    .y_low = {0.5, 2, 1},
                                    .y_high = {1.5, 2, 20}};
  tg::tools::write_line_chart(dir / "range.svg", {range});
  const std::string svg = tg_test::read_file(dir / "range.svg");
  const auto lines = tg_test::svg_coloured_lines(svg);
  CHECK(lines_with(lines, "#1F77B4", 3) == 1);          // the curve
  CHECK(lines_with(lines, "#1F77B4", 2) == 3 * 3 + 1);  // bars, caps, legend sample
  // The axis reaches the top of the highest bar (20), not only the points (3).
  CHECK(has_text(tg_test::svg_texts(svg), "20"));
}

TEST_CASE("write_line_chart: bad ranges are refused, naming the series and point") {
  tg_test::ScratchDir dir("chart-panels");
  const auto refused = [&](std::vector<double> low, std::vector<double> high,
                           std::vector<double> err, const char* expected) {
    const tg::tools::LineSeries s{
        .label = "cv", .x = {1, 2}, .y = {1, 2}, .y_err = err, .y_low = low, .y_high = high};
    CHECK_THROWS_WITH_AS(tg::tools::write_line_chart(dir / "bad.svg", {s}),
                         doctest::Contains(expected), tg::ValueError);
  };
  refused({0, 1}, {2}, {}, "series 'cv' has 2 y_low and 1 y_high values (expected as many)");
  refused({0}, {2}, {}, "series 'cv' has 1 y_low values for 2 points");
  refused({0, 3}, {2, 2}, {}, "series 'cv' point 1 has the range [3, 2]");
  refused({0, NAN}, {2, 2}, {}, "point 1 has the range [nan, 2]");
  refused({0, 1}, {2, 2}, {1, 1}, "series 'cv' has both y_err and y_low/y_high");
  CHECK(!std::filesystem::exists(dir / "bad.svg"));
}

TEST_CASE("write_line_chart: a series' own colour, dashed, and the palette for the others") {
  tg_test::ScratchDir dir("chart-panels");
  const tg::tools::LineSeries own{
      .label = "before", .x = {1, 2}, .y = {1, 2}, .colour = "#123456", .dashed = true};
  const tg::tools::LineSeries plain{.label = "after", .x = {1, 2, 3}, .y = {2, 1, 0}};
  tg::tools::write_line_chart(dir / "colours.svg", {own, plain});
  const std::string svg = tg_test::read_file(dir / "colours.svg");
  // The dashed line and its legend sample: its colour, with a dash pattern.
  static const std::regex dashed(R"(stroke='rgb\(\s*18,\s*52,\s*86\)' stroke-dasharray)");
  CHECK(std::distance(std::sregex_iterator(svg.begin(), svg.end(), dashed),
                      std::sregex_iterator()) == 2);
  // The other series keeps the colour of its place (the second), solid.
  CHECK(tg::tools::chart_colour(1) == "#ff7f0e");
  CHECK(tg::tools::chart_colour(11) == "#ff7f0e");
  CHECK(lines_with(tg_test::svg_coloured_lines(svg), "#FF7F0E", 3) == 1);

  const tg::tools::LineSeries bad{.label = "x", .x = {1}, .y = {1}, .colour = "blue"};
  CHECK_THROWS_WITH_AS(tg::tools::write_line_chart(dir / "bad.svg", {bad}),
                       doctest::Contains("series 'x' has colour 'blue' (expected \"#rrggbb\")"),
                       tg::ValueError);
}
