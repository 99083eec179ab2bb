#include "data.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace tapegrad::cli {
namespace {

namespace fs = std::filesystem;

// A --column given as an integer, as an index; a ValueError naming the flag when it does not
// fit in int64 (the usage error of any other bad flag value, not an internal one).
int64_t column_index(const std::string& digits) {
  int64_t index = 0;
  const char* end = digits.data() + digits.size();
  const auto [stop, ec] = std::from_chars(digits.data(), end, index);
  if (ec != std::errc() || stop != end) {
    throw_error<ValueError>("--column: '{}' is not a column index (at most {})", digits,
                            std::numeric_limits<int64_t>::max());
  }
  return index;
}

bool is_index(const std::string& column) {
  const std::size_t digits = column.rfind('-', 0) == 0 ? 1 : 0;
  return column.size() > digits &&
         std::all_of(column.begin() + static_cast<std::ptrdiff_t>(digits), column.end(), ::isdigit);
}

}  // namespace

std::optional<SeriesValue> first_non_finite(const Tensor& series) {
  const std::vector<double> values = series.to(f64).to_vector<double>();
  const auto it =
      std::find_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); });
  if (it == values.end()) return std::nullopt;
  return SeriesValue{it - values.begin(), *it};
}

Tensor read_series(const DataConfig& c) {
  if (!fs::exists(c.path)) throw_error<IOError>("--data: no such file '{}'", c.path);
  if (fs::is_directory(c.path)) {
    throw_error<IOError>("--data: '{}' is a directory, not a CSV file", c.path);
  }
  const Tensor series = c.column.empty()     ? data::read_csv_column(c.path, -1)
                        : is_index(c.column) ? data::read_csv_column(c.path, column_index(c.column))
                                             : data::read_csv_column(c.path, c.column);
  // Train refuses what it cannot scale; predict must refuse the same series, also when the
  // weights file brings the scaler.
  if (const auto bad = first_non_finite(series)) {
    throw_error<ValueError>(
        "--data: '{}' column {}: value {} of the series is {}; a series must hold finite numbers",
        c.path, c.column.empty() ? std::string("-1") : tapegrad::quoted(c.column), bad->index,
        bad->value);
  }
  return series;
}

Dataset load_data(const DataConfig& c, double validation_split) {
  if (c.path.empty()) {
    Dataset d{rand({c.samples, c.seq, 1}), rand({c.samples, 1}), {}};
    d.description =
        fmt::format("{} random sequences of {} steps (X, y ~ U[0,1))", c.samples, c.seq);
    return d;
  }
  const Tensor series = read_series(c);
  const int64_t n = series.numel();
  if (n < c.window + 2) {
    throw_error<ValueError>("--data: '{}' has {} values, --window {} needs at least {}", c.path, n,
                            c.window, c.window + 2);
  }
  // Fit the scaler on what the training windows see (validation is the end of the series).
  const int64_t m = n - c.window;
  const auto m_train =
      static_cast<int64_t>(std::floor(static_cast<double>(m) * (1.0 - validation_split)));
  const int64_t seen = std::clamp<int64_t>(m_train + c.window, 1, n);
  data::Scaler scaler;
  scaler.fit(slice(series, 0, 0, seen));
  Tensor scaled;
  {
    NoGradGuard no_grad;
    scaled = scaler.transform(series).contiguous();
  }
  auto [X, y] = data::windows(scaled, c.window, 1);
  const std::string scaling =
      validation_split > 0
          ? fmt::format(
                "min-max scaled by the training part's [{}, {}] (the validation part "
                "may leave [0, 1])",
                scaler.data_min(), scaler.data_max())
          : fmt::format("scaled to [0, 1] from [{}, {}]", scaler.data_min(), scaler.data_max());
  Dataset d{X, y, {}, scaler};
  d.description = fmt::format("'{}' column {}: {} values {}, {} windows of {}", c.path,
                              c.column.empty() ? "-1 (the last)" : c.column, n, scaling,
                              X.shape()[0], c.window);
  return d;
}

void add_data_flags(CLI::App& cmd, DataConfig& c) {
  CLI::Option* data =
      cmd.add_option("--data", c.path, "CSV file with a series to forecast")->type_name("FILE");
  cmd.add_option(
         "--column", c.column,
         "CSV column: a name, or a 0-based index, negative from the end (default: -1, the last)")
      ->type_name("NAME|N")
      ->needs(data);
  cmd.add_option("--window", c.window, "Time steps per input window (with --data)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30).description(""))
      ->type_name("N")
      ->needs(data)
      ->capture_default_str();
  cmd.add_option("--samples", c.samples, "Random sequences without --data")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30).description(""))
      ->type_name("N")
      ->excludes(data)
      ->capture_default_str();
  cmd.add_option("--seq", c.seq, "Time steps of each random sequence without --data")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30).description(""))
      ->type_name("N")
      ->excludes(data)
      ->capture_default_str();
}

}  // namespace tapegrad::cli
