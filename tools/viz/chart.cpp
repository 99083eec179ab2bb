#include <tapegrad/tools/viz/chart.hpp>

#include <plplot.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>
#include <sstream>

#include <tapegrad/core/atomic_file.hpp>
#include <tapegrad/core/error.hpp>

namespace tapegrad::tools {
namespace {

namespace fs = std::filesystem;

struct Device {
  const char* extension;
  const char* plplot_name;
};
constexpr std::array<Device, 3> kDevices{
    {{".svg", "svg"}, {".png", "pngcairo"}, {".pdf", "pdfcairo"}}};

const char* device_for(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  for (const Device& d : kDevices) {
    if (ext == d.extension) return d.plplot_name;
  }
  throw_error<ValueError>(
      "write_line_chart: '{}': unknown chart extension '{}' (use .svg, .png or .pdf)", path, ext);
}

void check_error_bars(const LineSeries& s) {
  if (s.y_err.empty()) return;
  if (s.y_err.size() != s.y.size()) {
    throw_error<ValueError>(
        "write_line_chart: series '{}' has {} y_err values for {} points (expected none or one "
        "per point)",
        s.label, s.y_err.size(), s.y.size());
  }
  for (std::size_t i = 0; i < s.y_err.size(); ++i) {
    if (!(s.y_err[i] >= 0) || !std::isfinite(s.y_err[i])) {
      throw_error<ValueError>(
          "write_line_chart: series '{}' point {} has y_err {} (expected a finite number >= 0)",
          s.label, i, s.y_err[i]);
    }
  }
}

// Every point a series reaches: its points and the ends of its error bars.
struct Point {
  double x, y;
};
std::vector<Point> reached(const LineSeries& s) {
  std::vector<Point> out;
  for (std::size_t i = 0; i < s.x.size(); ++i) out.push_back({s.x[i], s.y[i]});
  for (std::size_t i = 0; i < s.y_err.size(); ++i) {
    out.push_back({s.x[i], s.y[i] - s.y_err[i]});
    out.push_back({s.x[i], s.y[i] + s.y_err[i]});
  }
  return out;
}

void check_series(const std::vector<LineSeries>& series) {
  if (series.empty()) throw_error<ValueError>("write_line_chart: no series to draw");
  for (const LineSeries& s : series) {
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
    }
    check_error_bars(s);
  }
}

bool has_error_bars(const std::vector<LineSeries>& series) {
  return std::any_of(series.begin(), series.end(),
                     [](const LineSeries& s) { return !s.y_err.empty(); });
}

// The axis ranges, in plotted units (log10 of y on a log axis), with a margin so no line
// runs along the frame.
struct Ranges {
  double x_min, x_max, y_min, y_max;
  double y_floor;  // a log axis draws values <= 0 here
};

Ranges ranges(const std::vector<LineSeries>& series, bool log_y) {
  Ranges r{std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(),
           std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(), 0};
  double smallest_positive = std::numeric_limits<double>::max();
  bool any_non_positive = false;
  for (const LineSeries& s : series) {
    for (const auto [x, v] : reached(s)) {
      r.x_min = std::min(r.x_min, x);
      r.x_max = std::max(r.x_max, x);
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

// Values in plotted units (log10 on a log axis, where values <= 0 sit at the floor).
std::vector<double> plotted(std::vector<double> y, const LineChartOptions& opts, const Ranges& r) {
  if (opts.log_y) {
    for (double& v : y) v = v > 0 ? std::log10(v) : r.y_floor;
  }
  return y;
}

std::vector<double> plotted_y(const LineSeries& s, const LineChartOptions& opts, const Ranges& r) {
  return plotted(s.y, opts, r);
}

// A vertical bar from y - y_err to y + y_err at each point, in the series' colour.
void draw_error_bars(const LineSeries& s, const LineChartOptions& opts, const Ranges& r) {
  if (s.y_err.empty()) return;
  std::vector<double> lo(s.y.size()), hi(s.y.size());
  for (std::size_t i = 0; i < s.y.size(); ++i) {
    lo[i] = s.y[i] - s.y_err[i];
    hi[i] = s.y[i] + s.y_err[i];
  }
  lo = plotted(std::move(lo), opts, r);
  hi = plotted(std::move(hi), opts, r);
  plerry(static_cast<PLINT>(s.x.size()), s.x.data(), lo.data(), hi.data());
}

// Colour map 0: white background, black frame and text, then one colour per series (the
// Tableau 10 palette, readable on a projector and for most colour-blind readers).
constexpr int kFirstSeriesColour = 2;
constexpr std::array<std::array<int, 3>, 10> kPalette{{{31, 119, 180},
                                                       {255, 127, 14},
                                                       {44, 160, 44},
                                                       {214, 39, 40},
                                                       {148, 103, 189},
                                                       {140, 86, 75},
                                                       {227, 119, 194},
                                                       {127, 127, 127},
                                                       {188, 189, 34},
                                                       {23, 190, 207}}};

void set_colours() {
  plscol0(0, 255, 255, 255);
  plscol0(1, 0, 0, 0);
  for (std::size_t i = 0; i < kPalette.size(); ++i) {
    plscol0(kFirstSeriesColour + static_cast<int>(i), kPalette[i][0], kPalette[i][1],
            kPalette[i][2]);
  }
}

// PLplot reads '#' as the start of an escape sequence (#u superscript, #gx Greek); "##" is
// a literal '#', so user text (layer names, titles) is drawn as written.
std::string plplot_text(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '#' ? std::string("##") : std::string(1, c);
  return out;
}

int series_colour(std::size_t i) {
  return kFirstSeriesColour + static_cast<int>(i % kPalette.size());
}

// The corner of the plot whose quarter-size box holds the fewest points (error bar ends
// count as points), so the legend hides
// as little data as it can (a vanishing gradient rises to the top right; a loss curve falls
// to the bottom right).
PLINT emptiest_corner(const std::vector<LineSeries>& series, const LineChartOptions& opts,
                      const Ranges& r) {
  const std::array<PLINT, 4> corners{
      PL_POSITION_TOP | PL_POSITION_RIGHT, PL_POSITION_BOTTOM | PL_POSITION_RIGHT,
      PL_POSITION_TOP | PL_POSITION_LEFT, PL_POSITION_BOTTOM | PL_POSITION_LEFT};
  std::array<int, 4> counts{};
  for (const LineSeries& s : series) {
    for (const Point& p : reached(s)) {
      const double fx = (p.x - r.x_min) / (r.x_max - r.x_min);
      const double fy = (plotted({p.y}, opts, r)[0] - r.y_min) / (r.y_max - r.y_min);
      const bool right = fx > 0.6, left = fx<0.4, top = fy> 0.7, bottom = fy < 0.3;
      counts[0] += top && right;
      counts[1] += bottom && right;
      counts[2] += top && left;
      counts[3] += bottom && left;
    }
  }
  return corners[std::min_element(counts.begin(), counts.end()) - counts.begin()];
}

void draw_legend(const std::vector<LineSeries>& series, PLINT corner) {
  const auto n = static_cast<PLINT>(series.size());
  std::vector<PLINT> opt(n, PL_LEGEND_LINE), colours(n), styles(n, 1), text_colours(n, 1);
  std::vector<PLFLT> widths(n, 2.0);
  std::vector<std::string> labels(n);
  std::vector<const char*> text(n);
  for (PLINT i = 0; i < n; ++i) {
    colours[i] = series_colour(i);
    labels[i] = plplot_text(series[i].label);
    text[i] = labels[i].c_str();
  }
  PLFLT width = 0, height = 0;
  pllegend(&width, &height, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
           corner | PL_POSITION_INSIDE, 0.02, 0.02, 0.08, 0, 1, 1, 0, 0, n, opt.data(), 1.0, 0.9,
           2.0, 0.0, text_colours.data(), text.data(), nullptr, nullptr, nullptr, nullptr,
           colours.data(), styles.data(), widths.data(), nullptr, nullptr, nullptr, nullptr);
}

void draw(const std::string& file, const char* device, const std::vector<LineSeries>& series,
          const LineChartOptions& opts) {
  const Ranges r = ranges(series, opts.log_y);
  PLINT stream = 0;
  plmkstrm(&stream);
  plsdev(device);
  plsfnam(file.c_str());
  plspage(0, 0, opts.width, opts.height, 0, 0);
  set_colours();
  plinit();
  plcol0(1);
  // axis 20: log y (ticks at decades, labels 10^k); 0: linear axes with a frame.
  plenv(r.x_min, r.x_max, r.y_min, r.y_max, 0, opts.log_y ? 20 : 0);
  pllab(plplot_text(opts.x_label).c_str(), plplot_text(opts.y_label).c_str(),
        plplot_text(opts.title).c_str());
  for (std::size_t i = 0; i < series.size(); ++i) {
    const std::vector<double> y = plotted_y(series[i], opts, r);
    plcol0(series_colour(i));
    plwidth(2.0);
    plline(static_cast<PLINT>(y.size()), series[i].x.data(), y.data());
    draw_error_bars(series[i], opts, r);
  }
  plwidth(1.0);
  plcol0(1);
  draw_legend(series, emptiest_corner(series, opts, r));
  plend1();
}

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// PLplot keeps global state (the current stream): one chart at a time per program.
std::mutex& plplot_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

void check_chart_path(const std::string& path) {
  device_for(path);
}

void write_line_chart(const std::string& path, const std::vector<LineSeries>& series,
                      const LineChartOptions& opts) {
  const char* device = device_for(path);
  check_series(series);
  // PLplot writes to a name of its own choosing; the bytes then replace `path` atomically.
  const fs::path tmp = fs::temp_directory_path() / ("tapegrad-chart-" + std::to_string(::getpid()) +
                                                    fs::path(path).extension().string());
  std::string bytes;
  {
    std::lock_guard<std::mutex> lock(plplot_mutex());
    draw(tmp.string(), device, series, opts);
    bytes = read_all(tmp);
    std::error_code ignored;
    fs::remove(tmp, ignored);
  }
  if (bytes.empty()) {
    throw_error<IOError>("write_line_chart: PLplot's '{}' device wrote nothing for '{}'", device,
                         path);
  }
  write_file_atomically("write_line_chart", path, bytes);
}

}  // namespace tapegrad::tools
