#include <tapegrad/tools/viz/chart.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include <tapegrad/core/atomic_file.hpp>
#include <tapegrad/core/error.hpp>

#include <tapegrad/tools/viz/scratch.hpp>

extern char** environ;

namespace tapegrad::tools {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Terminal {
  const char* extension;
  const char* gnuplot_name;
};
constexpr std::array<Terminal, 3> kTerminals{
    {{".svg", "svg"}, {".png", "pngcairo"}, {".pdf", "pdfcairo"}}};

const Terminal& terminal_for(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  for (const Terminal& t : kTerminals) {
    if (ext == t.extension) return t;
  }
  throw_error<ValueError>(
      "write_line_chart: '{}': unknown chart extension '{}' (use .svg, .png or .pdf)", path, ext);
}

void check_bar_count(const LineSeries& s, const char* name, std::size_t count) {
  if (count != 0 && count != s.y.size()) {
    throw_error<ValueError>(
        "write_line_chart: series '{}' has {} {} values for {} points (expected none or one "
        "per point)",
        s.label, count, name, s.y.size());
  }
}

void check_ranges(const LineSeries& s) {
  if (!s.y_err.empty() && !s.y_low.empty()) {
    throw_error<ValueError>(
        "write_line_chart: series '{}' has both y_err and y_low/y_high (give one kind of bar)",
        s.label);
  }
  if (s.y_low.size() != s.y_high.size()) {
    throw_error<ValueError>(
        "write_line_chart: series '{}' has {} y_low and {} y_high values (expected as many)",
        s.label, s.y_low.size(), s.y_high.size());
  }
  check_bar_count(s, "y_low", s.y_low.size());
  for (std::size_t i = 0; i < s.y_low.size(); ++i) {
    if (!std::isfinite(s.y_low[i]) || !std::isfinite(s.y_high[i]) || s.y_low[i] > s.y_high[i]) {
      throw_error<ValueError>(
          "write_line_chart: series '{}' point {} has the range [{}, {}] (expected finite "
          "y_low <= y_high)",
          s.label, i, s.y_low[i], s.y_high[i]);
    }
  }
}

void check_error_bars(const LineSeries& s) {
  check_ranges(s);
  check_bar_count(s, "y_err", s.y_err.size());
  for (std::size_t i = 0; i < s.y_err.size(); ++i) {
    if (!(s.y_err[i] >= 0) || !std::isfinite(s.y_err[i])) {
      throw_error<ValueError>(
          "write_line_chart: series '{}' point {} has y_err {} (expected a finite number >= 0)",
          s.label, i, s.y_err[i]);
    }
  }
}

// The number of error bars of a series: none, or one per point.
std::size_t bar_count(const LineSeries& s) {
  return std::max(s.y_err.size(), s.y_low.size());
}

// The ends of point i's error bar; with non_negative the lower end stops at 0.
std::pair<double, double> bar_ends(const LineSeries& s, std::size_t i, bool non_negative) {
  if (!s.y_low.empty()) return {s.y_low[i], s.y_high[i]};
  const double lo = s.y[i] - s.y_err[i];
  return {non_negative ? std::max(lo, 0.0) : lo, s.y[i] + s.y_err[i]};
}

// Every point a series reaches: its points and the ends of its error bars.
struct Point {
  double x, y;
};
std::vector<Point> reached(const LineSeries& s, bool non_negative) {
  std::vector<Point> out;
  for (std::size_t i = 0; i < s.x.size(); ++i) out.push_back({s.x[i], s.y[i]});
  for (std::size_t i = 0; i < bar_count(s); ++i) {
    const auto [lo, hi] = bar_ends(s, i, non_negative);
    out.push_back({s.x[i], lo});
    out.push_back({s.x[i], hi});
  }
  return out;
}

// Where x sits along the axis: its log2 on a log2 axis, else itself; and back.
double along_x(double x, bool log2_x) {
  return log2_x ? std::log2(x) : x;
}
double from_along_x(double a, bool log2_x) {
  return log2_x ? std::exp2(a) : a;
}

void check_log2_x(const std::string& series, std::size_t point, double x) {
  if (!(x > 0)) {
    throw_error<ValueError>(
        "write_line_chart: series '{}' point {} has x {} (a log2 x axis needs every x > 0)", series,
        point, x);
  }
}

void check_page(const LineChartOptions& opts) {
  constexpr int kMinSide = 100, kMaxSide = 20000, kMinDpi = 24, kMaxDpi = 2400;
  if (opts.width < kMinSide || opts.width > kMaxSide || opts.height < kMinSide ||
      opts.height > kMaxSide) {
    throw_error<ValueError>("write_line_chart: size {}x{} (expected each side from {} to {})",
                            opts.width, opts.height, kMinSide, kMaxSide);
  }
  if (opts.dpi < kMinDpi || opts.dpi > kMaxDpi) {
    throw_error<ValueError>("write_line_chart: dpi {} (expected {} to {})", opts.dpi, kMinDpi,
                            kMaxDpi);
  }
  for (const ChartMark& m : opts.marks) {
    if (!std::isfinite(m.x) || !std::isfinite(m.y)) {
      throw_error<ValueError>("write_line_chart: mark '{}' is at ({}, {}), not finite", m.label,
                              m.x, m.y);
    }
    if (opts.log2_x) check_log2_x("mark " + m.label, 0, m.x);
  }
}

void check_colour(const LineSeries& s) {
  const bool hex = s.colour.size() == 7 && s.colour[0] == '#' &&
                   std::all_of(s.colour.begin() + 1, s.colour.end(),
                               [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  if (!s.colour.empty() && !hex) {
    throw_error<ValueError>("write_line_chart: series '{}' has colour {} (expected \"#rrggbb\")",
                            s.label, tapegrad::quoted(s.colour));
  }
}

void check_series(const std::vector<LineSeries>& series, const LineChartOptions& opts) {
  if (series.empty()) throw_error<ValueError>("write_line_chart: no series to draw");
  check_page(opts);
  for (const LineSeries& s : series) {
    check_colour(s);
    if (s.x.size() != s.y.size() || s.x.empty()) {
      throw_error<ValueError>(
          "write_line_chart: series '{}' has {} x and {} y values (expected as many, at least 1)",
          s.label, s.x.size(), s.y.size());
    }
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        throw_error<ValueError>("write_line_chart: series '{}' point {} is ({}, {}), not finite",
                                s.label, i, s.x[i], s.y[i]);
      }
      if (opts.log2_x) check_log2_x(s.label, i, s.x[i]);
    }
    check_error_bars(s);
  }
}

bool has_error_bars(const std::vector<LineSeries>& series) {
  return std::any_of(series.begin(), series.end(),
                     [](const LineSeries& s) { return bar_count(s) > 0; });
}

// The axis ranges, with a margin so no line runs along the frame. On a log axis y_min,
// y_max and y_floor are decades (log10 of the value); on a log2 x axis x_min and x_max are
// log2 of the value (along_x).
struct Ranges {
  double x_min, x_max, y_min, y_max;
  double y_floor;  // a log axis draws values <= 0 here
};

Ranges ranges(const std::vector<LineSeries>& series, const LineChartOptions& opts) {
  const bool log_y = opts.log_y;
  Ranges r{std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(),
           std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(), 0};
  double smallest_positive = std::numeric_limits<double>::max();
  bool any_non_positive = false;
  for (const LineSeries& s : series) {
    for (const auto [x, v] : reached(s, opts.non_negative)) {
      r.x_min = std::min(r.x_min, along_x(x, opts.log2_x));
      r.x_max = std::max(r.x_max, along_x(x, opts.log2_x));
      any_non_positive |= v <= 0;
      if (v > 0) smallest_positive = std::min(smallest_positive, v);
      if (!log_y || v > 0) {
        const double y = log_y ? std::log10(v) : v;
        r.y_min = std::min(r.y_min, y);
        r.y_max = std::max(r.y_max, y);
      }
    }
  }
  if (log_y) {
    // Nothing positive at all: one decade around 1.
    if (smallest_positive == std::numeric_limits<double>::max()) r.y_min = r.y_max = 0;
    r.y_floor = std::floor(r.y_min) - 1;
    // Whole decades at both ends, so the ticks read 10^k.
    r.y_min = any_non_positive ? r.y_floor : std::floor(r.y_min);
    r.y_max = std::max(std::ceil(r.y_max), r.y_min + 1);
  } else {
    const double pad = r.y_max > r.y_min ? 0.05 * (r.y_max - r.y_min) : 1;
    r.y_min -= pad;
    r.y_max += pad;
  }
  if (r.x_max == r.x_min) {
    r.x_min -= 1;
    r.x_max += 1;
  } else if (has_error_bars(series)) {
    // Room for the caps of the first and last bar inside the frame.
    const double pad = 0.03 * (r.x_max - r.x_min);
    r.x_min -= pad;
    r.x_max += pad;
  }
  return r;
}

// The value drawn for `v`: on a log axis a value <= 0 has no place, and sits at the floor.
double drawn(double v, bool log_y, const Ranges& r) {
  return log_y && v <= 0 ? std::pow(10.0, r.y_floor) : v;
}

// Where `p` lies in the plot, as fractions of the width and height from the bottom left.
Point fraction_of_plot(Point p, const LineChartOptions& opts, const Ranges& r) {
  const double v = drawn(p.y, opts.log_y, r);
  const double y = opts.log_y ? std::log10(v) : v;
  return {(along_x(p.x, opts.log2_x) - r.x_min) / (r.x_max - r.x_min),
          (y - r.y_min) / (r.y_max - r.y_min)};
}

// The corner of the plot whose quarter-size box holds the fewest points (error bar ends
// count as points), so the legend hides as little data as it can (a vanishing gradient
// rises to the top right; a loss curve falls to the bottom right). Named as gnuplot's
// `set key` reads it.
const char* emptiest_corner(const std::vector<LineSeries>& series, const LineChartOptions& opts,
                            const Ranges& r) {
  constexpr std::array<const char*, 4> corners{"top right", "bottom right", "top left",
                                               "bottom left"};
  std::array<int, 4> counts{};
  for (const LineSeries& s : series) {
    for (const Point& p : reached(s, opts.non_negative)) {
      const auto [fx, fy] = fraction_of_plot(p, opts, r);
      const bool right = fx > 0.6, left = fx < 0.4;
      const bool top = fy > 0.7, bottom = fy < 0.3;
      counts[0] += top && right;
      counts[1] += bottom && right;
      counts[2] += top && left;
      counts[3] += bottom && left;
    }
  }
  return corners[std::min_element(counts.begin(), counts.end()) - counts.begin()];
}

// One colour per series: the Tableau 10 palette, readable on a projector and for most
// colour-blind readers.
constexpr std::array<const char*, 10> kPalette{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                               "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                               "#bcbd22", "#17becf"};

// A gnuplot string: in single quotes nothing is special but the quote itself, written
// twice. A line break would end the command, so control characters become spaces.
std::string gnuplot_text(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "''";
    } else {
      out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
    }
  }
  return out + "'";
}

std::string number(double v) {
  return fmt::format("{:.17g}", v);
}

// The page: size, font, white background. Text is "enhanced" (10^{-3} is a superscript) for
// the log axis' labels only; user text (titles, labels, legend) is set `noenhanced`, so it
// is drawn as written, whatever '^', '_' or '@' it holds.
std::string terminal_command(const Terminal& t, const LineChartOptions& opts) {
  const std::string_view name = t.gnuplot_name;
  if (name == "pdfcairo") {
    // pdfcairo measures in inches (the options give points) and halves fonts and lines
    // unless told otherwise: the same proportions as the png.
    return fmt::format(
        "set terminal pdfcairo enhanced size {}in,{}in font 'sans,12' fontscale 1 linewidth 2\n",
        number(opts.width / 72.0), number(opts.height / 72.0));
  }
  if (name == "pngcairo") {
    // A png at a higher dpi: more pixels, the same layout (text and lines scale alike).
    const double scale = opts.dpi / 96.0;
    return fmt::format(
        "set terminal pngcairo enhanced size {},{} font 'sans,12' fontscale {} linewidth {} "
        "background '#ffffff'\n",
        std::lround(opts.width * scale), std::lround(opts.height * scale), number(scale),
        number(scale));
  }
  return fmt::format("set terminal {} enhanced size {},{} font 'sans,14' background '#ffffff'\n",
                     name, opts.width, opts.height);
}

// Decades on a log axis: a label at every one while they are few, else at every k-th; the
// values in between as minor ticks.
std::string log_axis_commands(const Ranges& r) {
  const int decades = static_cast<int>(std::lround(r.y_max - r.y_min));
  const int step = std::max(1, (decades + 11) / 12);
  return fmt::format("set logscale y 10\nset format y '10^{{%T}}'\nset ytics {}\nset mytics {}\n",
                     number(std::pow(10.0, step)), step == 1 ? 10 : step);
}

// A log2 x axis: a tick at every power of 2 in range (every k-th when they are many), each
// labelled with its value (8, 16, 32).
std::string log2_axis_commands(const Ranges& r) {
  const int first = static_cast<int>(std::ceil(r.x_min - 1e-9));
  const int last = static_cast<int>(std::floor(r.x_max + 1e-9));
  const int step = std::max(1, (last - first + 12) / 12);
  std::vector<std::string> ticks;
  for (int k = first; k <= last; k += step) ticks.push_back(number(std::exp2(k)));
  return fmt::format("set logscale x 2\nset xtics ({})\nunset mxtics\n", fmt::join(ticks, ", "));
}

// A label beside a large marker; it leans away from the nearest edges, so it stays inside.
std::string mark_command(const ChartMark& m, const LineChartOptions& opts, const Ranges& r) {
  const auto [fx, fy] = fraction_of_plot({m.x, m.y}, opts, r);
  const bool left = fx > 0.6, below = fy > 0.8;
  return fmt::format(
      "set label {} at {},{} {} point pt 7 ps 1.6 lc rgb '#000000' offset {},{} front "
      "noenhanced\n",
      gnuplot_text(m.label), number(m.x), number(drawn(m.y, opts.log_y, r)),
      left ? "right" : "left", left ? -1 : 1, below ? -1 : 1);
}

// A data block of x y rows; blank lines between blocks make separate lines.
std::string data_block(const std::string& name, const std::string& rows) {
  return fmt::format("${} << EOD\n{}EOD\n", name, rows);
}

std::string line_rows(const LineSeries& s, bool log_y, const Ranges& r) {
  std::string rows;
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    rows += number(s.x[i]) + " " + number(drawn(s.y[i], log_y, r)) + "\n";
  }
  return rows;
}

// A vertical bar from y - y_err to y + y_err (from 0 at least, with non_negative), or from
// y_low to y_high, at each
// point and a cap at each end, each its own line (two rows and a blank one).
std::string error_bar_rows(const LineSeries& s, const LineChartOptions& opts, const Ranges& r) {
  const double cap = 0.008 * (r.x_max - r.x_min);  // half a cap's width, along the axis
  std::string rows;
  const auto segment = [&](double x0, double y0, double x1, double y1) {
    rows += fmt::format("{} {}\n{} {}\n\n", number(x0), number(drawn(y0, opts.log_y, r)),
                        number(x1), number(drawn(y1, opts.log_y, r)));
  };
  for (std::size_t i = 0; i < bar_count(s); ++i) {
    const double x = s.x[i], a = along_x(x, opts.log2_x);
    const double x0 = from_along_x(a - cap, opts.log2_x), x1 = from_along_x(a + cap, opts.log2_x);
    const auto [lo, hi] = bar_ends(s, i, opts.non_negative);
    segment(x, lo, x, hi);
    segment(x0, lo, x1, lo);
    segment(x0, hi, x1, hi);
  }
  return rows;
}

// The title, and the subtitle's lines (split at '\n') below it.
std::string title_command(const LineChartOptions& opts) {
  std::string title = "set title " + gnuplot_text(opts.title);
  for (std::size_t from = 0; from < opts.subtitle.size();) {
    const std::size_t end = std::min(opts.subtitle.find('\n', from), opts.subtitle.size());
    title += " . \"\\n\" . " + gnuplot_text(opts.subtitle.substr(from, end - from));
    from = end + 1;
  }
  return title + " noenhanced\n";
}

// One chart's commands: settings, the data inline (in blocks named after `prefix`, so the
// panels of one file keep theirs apart), one `plot` of every line.
std::string plot_commands(const std::string& prefix, const std::vector<LineSeries>& series,
                          const LineChartOptions& opts) {
  const Ranges r = ranges(series, opts);
  std::string script = title_command(opts);
  script += "set xlabel " + gnuplot_text(opts.x_label) + " noenhanced\n";
  script += "set ylabel " + gnuplot_text(opts.y_label) + " noenhanced\n";
  const auto [y_min, y_max] = opts.log_y
                                  ? std::pair{std::pow(10.0, r.y_min), std::pow(10.0, r.y_max)}
                                  : std::pair{r.y_min, r.y_max};
  // On a log2 axis exp2(log2(x)) may round just inside x, and gnuplot leaves out the marker
  // of a point outside the range: the ends move out by a hair.
  const double hair = opts.log2_x ? 1e-12 : 0;
  script += fmt::format("set xrange [{}:{}]\nset yrange [{}:{}]\n",
                        number(from_along_x(r.x_min, opts.log2_x) * (1 - hair)),
                        number(from_along_x(r.x_max, opts.log2_x) * (1 + hair)), number(y_min),
                        number(y_max));
  // Tick labels without gnuplot's default room for a minus sign (" 10").
  script += "set format x '%h'\n";
  if (opts.log2_x) script += log2_axis_commands(r);
  script += opts.log_y ? log_axis_commands(r) : "set format y '%h'\n";
  // Light gridlines at the major ticks, behind the data.
  script += "set grid xtics ytics back lt 1 lw 1 lc rgb '#d0d0d0' dt solid\n";
  for (const ChartMark& m : opts.marks) script += mark_command(m, opts, r);
  // The legend is drawn last, over the lines (opaque), in the emptiest corner.
  script += fmt::format("set key inside {} opaque box Left reverse samplen 3 spacing 1.3 width 2\n",
                        emptiest_corner(series, opts, r));
  std::vector<std::string> plots;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const LineSeries& s = series[i];
    const std::string colour = s.colour.empty() ? chart_colour(i) : s.colour;
    const char* dash = s.dashed ? " dt 2" : "";
    script += data_block(fmt::format("{}line{}", prefix, i), line_rows(s, opts.log_y, r));
    // A marker at every point: where the data are, between the straight segments.
    plots.push_back(
        fmt::format("${}line{} with linespoints lw 2{} pt 7 ps 0.5 lc rgb '{}' title {} noenhanced",
                    prefix, i, dash, colour, gnuplot_text(s.label)));
    if (bar_count(s) == 0) continue;
    script += data_block(fmt::format("{}bars{}", prefix, i), error_bar_rows(s, opts, r));
    plots.push_back(
        fmt::format("${}bars{} with lines lw 1.5 lc rgb '{}' notitle", prefix, i, colour));
  }
  script += "plot " + fmt::format("{}", fmt::join(plots, ", \\\n     ")) + "\n";
  return script;
}

// The page: its terminal, and where gnuplot writes it.
std::string page_commands(const Terminal& t, const fs::path& output, const LineChartOptions& page) {
  return terminal_command(t, page) + "set encoding utf8\nset output " +
         gnuplot_text(output.string()) + "\n";
}

// The whole gnuplot script of one chart.
std::string chart_script(const Terminal& t, const fs::path& output,
                         const std::vector<LineSeries>& series, const LineChartOptions& opts) {
  return page_commands(t, output, opts) + plot_commands("", series, opts);
}

// The whole gnuplot script of panels in a row: a multiplot whose title is the page's; each
// panel starts from gnuplot's defaults (reset), so no setting leaks into the next.
std::string panels_script(const Terminal& t, const fs::path& output,
                          const std::vector<ChartPanel>& panels, const LineChartOptions& page) {
  std::string script = page_commands(t, output, page);
  std::string title = title_command(page);  // "set title ... noenhanced"
  title.replace(0, std::string_view("set title").size(), "");
  title.pop_back();
  script += fmt::format("set multiplot layout 1,{} title{}\n", panels.size(), title);
  for (std::size_t i = 0; i < panels.size(); ++i) {
    script += "reset\nset encoding utf8\n";
    script += plot_commands(fmt::format("p{}", i), panels[i].series, panels[i].options);
  }
  return script + "unset multiplot\n";
}

// The gnuplot program: found on PATH when the chart is drawn, unless TAPEGRAD_GNUPLOT names
// another one.
std::string gnuplot_program() {
  const char* program = std::getenv("TAPEGRAD_GNUPLOT");
  return program && *program ? program : "gnuplot";
}

// How long gnuplot may take (it draws a chart in milliseconds): TAPEGRAD_GNUPLOT_TIMEOUT
// seconds, default 60.
std::chrono::duration<double> gnuplot_timeout() {
  const char* text = std::getenv("TAPEGRAD_GNUPLOT_TIMEOUT");
  if (text == nullptr || *text == '\0') return 60s;
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (*end != '\0' || !(seconds > 0) || !std::isfinite(seconds)) {
    throw_error<ValueError>(
        "write_line_chart: TAPEGRAD_GNUPLOT_TIMEOUT is {} (expected a number of seconds > 0)",
        tapegrad::quoted(text));
  }
  return std::chrono::duration<double>(seconds);
}

// Starts `program` on `script`, reading nothing and writing its messages to `log`.
// --default-settings: a user's ~/.gnuplot does not restyle the chart.
pid_t start_gnuplot(const std::string& chart, const std::string& program, const fs::path& script,
                    const fs::path& log) {
  posix_spawn_file_actions_t io;
  ::posix_spawn_file_actions_init(&io);
  ::posix_spawn_file_actions_addopen(&io, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_addopen(&io, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
  ::posix_spawn_file_actions_adddup2(&io, STDOUT_FILENO, STDERR_FILENO);
  std::string arg0 = program, defaults = "--default-settings", file = script.string();
  std::array<char*, 4> argv{arg0.data(), defaults.data(), file.data(), nullptr};
  pid_t pid = 0;
  const int err = ::posix_spawnp(&pid, program.c_str(), &io, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&io);
  if (err != 0) {
    throw_error<IOError>(
        "write_line_chart: {}: cannot start the plotting program '{}': {} (install gnuplot, on "
        "Debian `apt-get install gnuplot-nox`, or name it in TAPEGRAD_GNUPLOT)",
        chart, program, std::strerror(err));
  }
  return pid;
}

// The exit status of `pid`, or none if it is still running after `timeout`: then it is
// killed (and reaped), so a stuck plotting program never hangs its caller.
std::optional<int> wait_within(pid_t pid, std::chrono::duration<double> timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto pause = 1ms;; pause = std::min(2 * pause, 50ms)) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) {
      throw_error<IOError>("write_line_chart: waitpid failed: {}", std::strerror(errno));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return std::nullopt;
    }
    std::this_thread::sleep_for(pause);
  }
}

// What gnuplot said last (its error names the line of the script), for an error message.
std::string last_words(const fs::path& log) {
  const std::string text = read_all(log);
  constexpr std::size_t kTail = 300;
  return tapegrad::quoted(text.size() > kTail ? text.substr(text.size() - kTail) : text, kTail);
}

// Runs gnuplot on the chart's script; returns the bytes it drew.
// `script` gives the gnuplot script that draws to the path it is given.
std::string draw(const std::string& chart, const Terminal& t,
                 const std::function<std::string(const fs::path&)>& script_to) {
  const std::string program = gnuplot_program();
  const auto timeout = gnuplot_timeout();
  const ScratchDirectory scratch("write_line_chart: " + chart);
  const fs::path script = scratch / "chart.gp",
                 output = scratch / (std::string("chart") + t.extension),
                 log = scratch / "gnuplot.log";
  write_file_atomically("write_line_chart", script.string(), script_to(output));
  const std::optional<int> status =
      wait_within(start_gnuplot(chart, program, script, log), timeout);
  if (!status) {
    throw_error<IOError>(
        "write_line_chart: {}: '{}' did not finish within {} s and was stopped "
        "(TAPEGRAD_GNUPLOT_TIMEOUT sets the limit)",
        chart, program, timeout.count());
  }
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    const std::string how = WIFEXITED(*status) ? fmt::format("exit code {}", WEXITSTATUS(*status))
                                               : fmt::format("signal {}", WTERMSIG(*status));
    throw_error<IOError>("write_line_chart: {}: '{}' failed ({}): {}", chart, program, how,
                         last_words(log));
  }
  std::string bytes = read_all(output);
  if (bytes.empty()) {
    throw_error<IOError>("write_line_chart: {}: '{}' wrote nothing: {}", chart, program,
                         last_words(log));
  }
  return bytes;
}

// The chart as error messages name it: its title (when it has one) and its path.
std::string chart_name(const std::string& path, const LineChartOptions& opts) {
  return opts.title.empty() ? fmt::format("chart '{}'", path)
                            : fmt::format("chart {} ('{}')", tapegrad::quoted(opts.title), path);
}

}  // namespace

std::string chart_colour(std::size_t index) {
  return kPalette[index % kPalette.size()];
}

void check_chart_path(const std::string& path) {
  terminal_for(path);
}

// gnuplot draws into a private temporary directory; the bytes then replace `path`
// atomically, so a failed or killed drawing leaves no half-written chart.
void write_line_chart(const std::string& path, const std::vector<LineSeries>& series,
                      const LineChartOptions& opts) {
  const Terminal& t = terminal_for(path);
  check_series(series, opts);
  const auto script_to = [&](const fs::path& output) {
    return chart_script(t, output, series, opts);
  };
  write_file_atomically("write_line_chart", path, draw(chart_name(path, opts), t, script_to));
}

void write_line_charts(const std::string& path, const std::vector<ChartPanel>& panels,
                       const LineChartOptions& page) {
  const Terminal& t = terminal_for(path);
  if (panels.empty()) throw_error<ValueError>("write_line_charts: no panel to draw");
  check_page(page);
  for (const ChartPanel& p : panels) check_series(p.series, p.options);
  const auto script_to = [&](const fs::path& output) {
    return panels_script(t, output, panels, page);
  };
  write_file_atomically("write_line_chart", path, draw(chart_name(path, page), t, script_to));
}

}  // namespace tapegrad::tools
