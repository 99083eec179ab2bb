// Line charts for teaching (gradient norms per time step, loss per epoch), drawn by gnuplot.
//
//   tg::tools::write_line_chart("flow.svg", {{"SimpleRNN", steps, norms}, {"LSTM", steps, n2}},
//                               {.title = "|dL/dh_t|", .x_label = "time step",
//                                .y_label = "norm", .log_y = true});
//
// gnuplot (a program; Debian's gnuplot-nox) lays out the axes, ticks (decades on a log axis)
// and the legend; this file writes it a script with the data inline and runs it. The output
// format comes from the extension: .svg (gnuplot's svg terminal: each drawn line a path, text
// as <text>), .png and .pdf (its cairo terminals). Each series is one line of its own colour
// and one legend entry; a series with y_err also gets a vertical error bar y +- y_err at each
// point (a validation curve's mean +- std), or one from y_low to y_high (a range over runs).
// write_line_charts puts several charts side by side in one file. On a log axis a point <= 0 has no
// place; it is drawn at the axis floor (a decade below the smallest positive value), so every
// series keeps all its points. Gridlines at the ticks and a marker at every point help a reader
// take values off the chart; log2_x puts x on a log2 axis ticked at powers of 2 (unit counts: 8,
// 16, 32, 64 equally spaced); non_negative stops error bars at 0 (a loss is never negative);
// marks are labelled points (the best epoch of a loss curve); the subtitle, title lines
// below the title, says what the reader sees. The file is written atomically (the chart is drawn
// into a temporary directory, then moved).
//
// The program is `gnuplot`, looked up on PATH when a chart is drawn, or the one
// TAPEGRAD_GNUPLOT names. It may take TAPEGRAD_GNUPLOT_TIMEOUT seconds (default 60), then it
// is stopped. A missing, failing or stopped program is an IOError naming the chart and its
// path, with gnuplot's last message; the path is then left as it was.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tapegrad::tools {

struct LineSeries {
  std::string label = {};  // the legend text
  std::vector<double> x = {}, y = {};
  std::vector<double> y_err = {};  // empty, or a half-length >= 0 per point (error bars)
  // Instead of y_err, a bar from y_low to y_high per point (a range: min and max over runs);
  // both empty, or one value each per point with y_low <= y_high.
  std::vector<double> y_low = {}, y_high = {};
  // "#rrggbb", or empty: the palette's colour for the series' place (chart_colour). Two
  // series of one colour, one dashed, read as two states of one thing (before and after).
  std::string colour = {};
  bool dashed = false;
};

// The colour write_line_chart gives the series at `index` (0-based) without one of its own:
// the Tableau 10 palette, readable on a projector and for most colour-blind readers.
std::string chart_colour(std::size_t index);

// A point drawn as a large marker with a label beside it.
struct ChartMark {
  double x = 0, y = 0;
  std::string label = {};
};

struct LineChartOptions {
  std::string title = {};
  std::string x_label = {};
  std::string y_label = {};
  bool log_y = false;
  int width = 800, height = 500;  // pixels (png) or points (svg, pdf)
  std::string subtitle = {};      // lines below the title, '\n' between them
  bool log2_x = false;            // x on a log2 axis, ticked at powers of 2; every x > 0
  bool non_negative = false;      // y cannot be negative: error bars stop at 0
  std::vector<ChartMark> marks = {};
  int dpi = 96;  // .png only: the image has width * dpi / 96 pixels, text and lines alike
};

// One chart of several drawn side by side in one file.
struct ChartPanel {
  std::vector<LineSeries> series = {};
  LineChartOptions options = {};  // its title, axes and subtitle (not its size or dpi)
};

// Throws ValueError unless `path` ends in an extension write_line_chart draws (.svg, .png,
// .pdf), naming them: a program can check its output path before long work.
void check_chart_path(const std::string& path);

// Throws ValueError for an unsupported extension (naming the supported ones), no series,
// a series whose x and y differ in length or hold no point, a y_err neither empty nor of
// y's length, a negative y_err, a non-finite value, an x <= 0 on a log2 axis, or a size or
// dpi out of range; IOError when gnuplot cannot draw it.
void write_line_chart(const std::string& path, const std::vector<LineSeries>& series,
                      const LineChartOptions& opts = {});

// Panels left to right in one file, each drawn as write_line_chart draws a chart alone, so two
// views of one experiment read side by side. `page` gives the file's size and dpi, and its
// title and subtitle go above all panels. Throws as write_line_chart does for any panel, and
// ValueError for no panel.
void write_line_charts(const std::string& path, const std::vector<ChartPanel>& panels,
                       const LineChartOptions& page);

}  // namespace tapegrad::tools
