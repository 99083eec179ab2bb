// LineSeries::y_err: a vertical error bar (a bar and two caps) per point, in the series'
// colour, inside the axis range; bad error values are refused, naming the series and point.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>
#include <tools/viz/svg_util.hpp>

namespace tg = tapegrad;

namespace {

std::size_t lines_with(const std::vector<tg_test::SvgLine>& lines, const std::string& stroke,
                       std::size_t points) {
  return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const auto& l) {
    return l.stroke == stroke && l.points == points;
  }));
}

bool has_text(const std::vector<std::string>& texts, const std::string& s) {
  return std::find(texts.begin(), texts.end(), s) != texts.end();
}

}  // namespace

TEST_CASE("write_line_chart: y_err draws a bar and two caps per point, within the y range") {
  tg_test::ScratchDir dir("chart-error-bars");
  const tg::tools::LineSeries curve{
      .label = "mean +- std", .x = {1, 2, 3, 4}, .y = {1, 1, 1, 1}, .y_err = {0.5, 0, 10, 1}};
  const tg::tools::LineSeries plain{.label = "plain", .x = {1, 4}, .y = {1.5, 1.5}};
  tg::tools::write_line_chart(dir / "bars.svg", {curve, plain});
  const std::string svg = tg_test::read_file(dir / "bars.svg");
  const auto lines = tg_test::svg_coloured_lines(svg);
  CHECK(lines_with(lines, "#1F77B4", 4) == 1);          // the curve
  CHECK(lines_with(lines, "#1F77B4", 2) == 4 * 3 + 1);  // bars, caps, legend sample
  CHECK(lines_with(lines, "#FF7F0E", 2) == 2);          // no bars without y_err
  // The axis reaches the top of the longest bar (1 + 10), not only the points.
  CHECK(has_text(tg_test::svg_texts(svg), "10"));

  tg::tools::write_line_chart(dir / "no-bars.svg", {plain});
  CHECK(tg_test::svg_coloured_lines(tg_test::read_file(dir / "no-bars.svg")).size() == 2);
}

TEST_CASE("write_line_chart: on a log axis a bar reaching below 0 ends at the axis floor") {
  tg_test::ScratchDir dir("chart-error-bars");
  const tg::tools::LineSeries s{
      .label = "loss", .x = {1, 2, 3}, .y = {0.1, 0.01, 0.05}, .y_err = {0.2, 0, 0.01}};
  tg::tools::write_line_chart(dir / "log.svg", {s}, {.log_y = true});
  const auto lines = tg_test::svg_coloured_lines(tg_test::read_file(dir / "log.svg"));
  CHECK(lines_with(lines, "#1F77B4", 3) == 1);
  CHECK(lines_with(lines, "#1F77B4", 2) == 3 * 3 + 1);
}

TEST_CASE("write_line_chart: y_err of the wrong length, negative or not finite is refused") {
  tg_test::ScratchDir dir("chart-error-bars");
  const auto refused = [&](std::vector<double> y_err, const char* expected) {
    const tg::tools::LineSeries s{.label = "cv", .x = {1, 2}, .y = {1, 2}, .y_err = y_err};
    CHECK_THROWS_WITH_AS(tg::tools::write_line_chart(dir / "bad.svg", {s}),
                         doctest::Contains(expected), tg::ValueError);
  };
  refused({1}, "write_line_chart: series 'cv' has 1 y_err values for 2 points");
  refused({1, -0.5}, "series 'cv' point 1 has y_err -0.5 (expected a finite number >= 0)");
  refused({NAN, 1}, "series 'cv' point 0 has y_err nan");
  refused({1, INFINITY}, "point 1 has y_err inf");
  CHECK(!std::filesystem::exists(dir / "bad.svg"));
}
