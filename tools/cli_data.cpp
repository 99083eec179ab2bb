#include "cli_data.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fmt/format.h>

namespace tapegrad::cli {
namespace {

namespace fs = std::filesystem;

// The number of fields of the first non-blank line of a CSV file (for "the last column").
int64_t csv_field_count(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw_error<IOError>("cannot open '{}'", path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    return 1 + std::count(line.begin(), line.end(), ',');
  }
  throw_error<ValueError>("'{}' is empty", path);
}

// A --column given as digits, as an index; a ValueError naming the flag when it does not
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

}  // namespace

Dataset load_data(const DataConfig& c, double validation_split) {
  if (c.path.empty()) {
    Dataset d{rand({100, 10, 1}), rand({100, 1}), {}};
    d.description = "100 random sequences of 10 steps (X, y ~ U[0,1))";
    return d;
  }
  if (!fs::exists(c.path)) throw_error<IOError>("--data: no such file '{}'", c.path);
  Tensor series;
  std::string column = c.column;
  if (column.empty()) column = std::to_string(csv_field_count(c.path) - 1);
  if (!column.empty() && std::all_of(column.begin(), column.end(), ::isdigit)) {
    series = data::read_csv_column(c.path, column_index(column));
  } else {
    series = data::read_csv_column(c.path, column);
  }
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
  Dataset d{X, y, {}};
  d.description =
      fmt::format("'{}' column {}: {} values scaled to [0,1] from [{}, {}], {} windows of {}",
                  c.path, column, n, scaler.data_min(), scaler.data_max(), X.shape()[0], c.window);
  return d;
}

void add_data_flags(CLI::App& cmd, DataConfig& c) {
  CLI::Option* data =
      cmd.add_option("--data", c.path, "CSV file with a series to forecast")->type_name("FILE");
  cmd.add_option("--column", c.column, "CSV column, by name or 0-based index (default: last)")
      ->type_name("NAME|N")
      ->needs(data);
  cmd.add_option("--window", c.window, "Time steps per input window (with --data)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30).description(""))
      ->type_name("N")
      ->needs(data)
      ->capture_default_str();
}

}  // namespace tapegrad::cli
