#include <doctest/doctest.h>

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>
#include <tools/viz/svg_util.hpp>

namespace tg = tapegrad;

namespace {

// Three decaying curves of different lengths, as a gradient-flow chart has them.
std::vector<tg::tools::LineSeries> decays() {
  std::vector<tg::tools::LineSeries> out;
  const std::vector<std::pair<std::string, int>> specs{{"SimpleRNN", 50}, {"LSTM", 50}, {"GRU", 7}};
  for (std::size_t k = 0; k < specs.size(); ++k) {
    tg::tools::LineSeries s{specs[k].first, {}, {}};
    for (int t = 0; t < specs[k].second; ++t) {
      s.x.push_back(t);
      s.y.push_back(std::pow(0.5 + 0.2 * static_cast<double>(k), specs[k].second - 1 - t));
    }
    out.push_back(s);
  }
  return out;
}

const tg::tools::LineChartOptions kLogChart{
    .title = "Gradient flow", .x_label = "time step", .y_label = "norm", .log_y = true};

bool has_text(const std::vector<std::string>& texts, const std::string& s) {
  return std::find(texts.begin(), texts.end(), s) != texts.end();
}

}  // namespace

TEST_CASE("write_line_chart: the svg has one coloured polyline per series with all its points") {
  tg_test::ScratchDir dir("chart");
  const auto series = decays();
  tg::tools::write_line_chart(dir / "flow.svg", series, kLogChart);
  const std::string svg = tg_test::read_file(dir / "flow.svg");
  REQUIRE(svg.find("<svg") != std::string::npos);

  // Each series: its data line (all points) and its legend sample (2 points), same colour.
  const std::vector<tg_test::SvgLine> lines = tg_test::svg_coloured_lines(svg);
  REQUIRE(lines.size() == 2 * series.size());
  for (std::size_t i = 0; i < series.size(); ++i) {
    CAPTURE(series[i].label);
    CHECK(lines[i].points == series[i].x.size());
    CHECK(lines[series.size() + i].points == 2);
    CHECK(lines[series.size() + i].stroke == lines[i].stroke);
  }
  CHECK(lines[0].stroke != lines[1].stroke);
  CHECK(lines[1].stroke != lines[2].stroke);

  const std::vector<std::string> texts = tg_test::svg_texts(svg);
  for (const char* s : {"SimpleRNN", "LSTM", "GRU", "Gradient flow", "time step", "norm"}) {
    CHECK_MESSAGE(has_text(texts, s), s);
  }
  // A log axis labels decades: 10 with an exponent (written as "10" then "-k").
  CHECK(has_text(texts, "10"));
  CHECK(dir.listing() == std::vector<std::string>{"flow.svg"});  // no temporary left
}

TEST_CASE("write_line_chart: a non-positive value on a log axis keeps its point (at the floor)") {
  tg_test::ScratchDir dir("chart");
  const std::vector<tg::tools::LineSeries> series{{"a", {0, 1, 2, 3}, {1.0, 0.0, 1e-3, -1.0}}};
  tg::tools::write_line_chart(dir / "c.svg", series, kLogChart);
  const auto lines = tg_test::svg_coloured_lines(tg_test::read_file(dir / "c.svg"));
  REQUIRE(!lines.empty());
  CHECK(lines[0].points == 4);
}

TEST_CASE("write_line_chart: '#' in a label is drawn as written, not as a PLplot escape") {
  tg_test::ScratchDir dir("chart");
  tg::tools::write_line_chart(dir / "c.svg", {{"layer #1", {0, 1}, {1, 2}}}, {.title = "run #u2"});
  const auto texts = tg_test::svg_texts(tg_test::read_file(dir / "c.svg"));
  CHECK(has_text(texts, "layer #1"));
  CHECK(has_text(texts, "run #u2"));
}

TEST_CASE("write_line_chart: png and pdf come from the extension") {
  tg_test::ScratchDir dir("chart");
  tg::tools::write_line_chart(dir / "c.png", decays(), kLogChart);
  tg::tools::write_line_chart(dir / "c.pdf", decays(), {.title = "linear"});
  CHECK(tg_test::read_file(dir / "c.png").substr(1, 3) == "PNG");
  CHECK(tg_test::read_file(dir / "c.pdf").substr(0, 5) == "%PDF-");
}

TEST_CASE("write_line_chart: bad extension, no series, mismatched or non-finite data throw") {
  tg_test::ScratchDir dir("chart");
  const std::string bad = tg_test::message_of<tg::ValueError>(
      [&] { tg::tools::write_line_chart(dir / "c.jpg", decays()); });
  CHECK(tg_test::contains(bad, "write_line_chart"));
  CHECK(tg_test::contains(bad, "'.jpg'"));
  CHECK(tg_test::contains(bad, ".svg, .png or .pdf"));
  CHECK_THROWS_AS(tg::tools::write_line_chart(dir / "c", decays()), tg::ValueError);

  CHECK_THROWS_WITH_AS(tg::tools::write_line_chart(dir / "c.svg", {}),
                       "write_line_chart: no series to draw", tg::ValueError);
  const std::string uneven = tg_test::message_of<tg::ValueError>([&] {
    tg::tools::write_line_chart(dir / "c.svg", {{"u", {0, 1}, {1}}});
  });
  CHECK(tg_test::contains(uneven, "'u' has 2 x and 1 y"));
  const std::string nan = tg_test::message_of<tg::ValueError>([&] {
    tg::tools::write_line_chart(dir / "c.svg", {{"n", {0, 1}, {1, NAN}}});
  });
  CHECK(tg_test::contains(nan, "'n' point 1"));
  CHECK(dir.listing().empty());
}

namespace {

// Sets an environment variable for one scope, then restores what it was.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A stand-in for gnuplot: a shell script with `body`.
std::string fake_gnuplot(const tg_test::ScratchDir& dir, const std::string& body) {
  const std::string program = dir / "fake-gnuplot";
  tg_test::write_file(program, "#!/bin/sh\n" + body + "\n");
  std::filesystem::permissions(program, std::filesystem::perms::owner_all);
  return program;
}

// Draws into dir/out.svg, which holds "before", with gnuplot's temporaries under dir/tmp;
// returns the IOError's message.
std::string failed_drawing(const tg_test::ScratchDir& dir) {
  std::filesystem::create_directory(dir / "tmp");
  const ScopedEnv tmpdir("TMPDIR", dir / "tmp");
  tg_test::write_file(dir / "out.svg", "before");
  return tg_test::message_of<tg::IOError>(
      [&] { tg::tools::write_line_chart(dir / "out.svg", decays(), kLogChart); });
}

// A failed drawing leaves the target as it was and no temporary behind.
void check_nothing_written(const tg_test::ScratchDir& dir) {
  CHECK(tg_test::read_file(dir / "out.svg") == "before");
  CHECK(std::filesystem::is_empty(dir / "tmp"));
}

}  // namespace

TEST_CASE("write_line_chart: a missing gnuplot is an IOError naming the chart and the fix") {
  tg_test::ScratchDir dir("chart-gnuplot");
  const ScopedEnv program("TAPEGRAD_GNUPLOT", "tapegrad-no-such-gnuplot");
  const std::string message = failed_drawing(dir);
  CHECK(tg_test::contains(message, "write_line_chart: chart 'Gradient flow' ('" + dir / "out.svg"));
  CHECK(tg_test::contains(message, "cannot start the plotting program 'tapegrad-no-such-gnuplot'"));
  CHECK(tg_test::contains(message, "apt-get install gnuplot-nox"));
  check_nothing_written(dir);
}

TEST_CASE("write_line_chart: a failing gnuplot is an IOError with its exit code and message") {
  tg_test::ScratchDir dir("chart-gnuplot");
  const ScopedEnv program("TAPEGRAD_GNUPLOT",
                          fake_gnuplot(dir, "echo 'line 3: unknown terminal' >&2; exit 3"));
  const std::string message = failed_drawing(dir);
  CHECK(tg_test::contains(message, "('" + dir / "out.svg" + "')"));
  CHECK(tg_test::contains(message, "failed (exit code 3): 'line 3: unknown terminal\\n'"));
  check_nothing_written(dir);
}

TEST_CASE("write_line_chart: a gnuplot that does not finish is stopped after the timeout") {
  tg_test::ScratchDir dir("chart-gnuplot");
  const ScopedEnv program("TAPEGRAD_GNUPLOT", fake_gnuplot(dir, "exec sleep 60"));
  const ScopedEnv timeout("TAPEGRAD_GNUPLOT_TIMEOUT", "0.2");
  const auto start = std::chrono::steady_clock::now();
  const std::string message = failed_drawing(dir);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  CHECK(tg_test::contains(message, "did not finish within 0.2 s and was stopped"));
  check_nothing_written(dir);

  const ScopedEnv bad("TAPEGRAD_GNUPLOT_TIMEOUT", "soon");
  CHECK_THROWS_WITH_AS(
      tg::tools::write_line_chart(dir / "out.svg", decays()),
      "write_line_chart: TAPEGRAD_GNUPLOT_TIMEOUT is 'soon' (expected a number of seconds > 0)",
      tg::ValueError);
}
