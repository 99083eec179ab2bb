#include "data.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common.hpp"

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

std::vector<std::string> input_columns(const DataConfig& c) {
  return c.columns.empty() ? std::vector<std::string>{c.column} : c.columns;
}

std::string target_column(const DataConfig& c) {
  return c.target.empty() ? input_columns(c).back() : c.target;
}

int64_t input_features(const DataConfig& c) {
  return static_cast<int64_t>(input_columns(c).size());
}

namespace {

// "-1 (the last)", or the column as given.
std::string column_words(const std::string& column) {
  return column.empty() ? "-1 (the last)" : column;
}

// One column of --data (empty: the last); a NaN or an infinity is refused by file and line.
Tensor read_column(const std::string& path, const std::string& column) {
  const data::CsvColumn read = column.empty() ? data::read_csv_column_lines(path, -1)
                               : is_index(column)
                                   ? data::read_csv_column_lines(path, column_index(column))
                                   : data::read_csv_column_lines(path, column);
  // Train refuses what it cannot scale; predict must refuse the same series, also when the
  // weights file brings the scaler.
  if (const auto bad = first_non_finite(read.values)) {
    throw_error<ValueError>(
        "--data: {}:{}: column {}: value {} of the series is {}; a series must hold finite "
        "numbers",
        path, read.lines[static_cast<std::size_t>(bad->index)],
        column.empty() ? std::string("-1") : tapegrad::quoted(column), bad->index, bad->value);
  }
  return read.values;
}

void check_data_file(const std::string& path) {
  if (!fs::exists(path)) throw_error<IOError>("--data: no such file '{}'", path);
  if (fs::is_directory(path)) {
    throw_error<IOError>("--data: '{}' is a directory, not a CSV file", path);
  }
}

// The series of every input column, of one length.
std::vector<Tensor> read_columns(const DataConfig& c) {
  check_data_file(c.path);
  std::vector<Tensor> out;
  for (const std::string& column : input_columns(c)) {
    out.push_back(read_column(c.path, column));
    if (out.back().numel() != out.front().numel()) {
      throw_error<ValueError>("--columns: in '{}', column {} has {} values, column {} has {}",
                              c.path, column, out.back().numel(), input_columns(c).front(),
                              out.front().numel());
    }
  }
  return out;
}

// The index of the target among the input columns.
std::size_t target_index(const DataConfig& c) {
  const std::vector<std::string> columns = input_columns(c);
  const auto it = std::find(columns.begin(), columns.end(), target_column(c));
  if (it == columns.end()) {
    throw_error<ValueError>("--target: '{}' is not one of --columns {}", c.target,
                            fmt::join(columns, ","));
  }
  return static_cast<std::size_t>(it - columns.begin());
}

// X (N - window, window, columns) of the series, and y the target's next values.
std::pair<Tensor, Tensor> column_windows(const std::vector<Tensor>& series, std::size_t target,
                                         int64_t window) {
  std::vector<Tensor> inputs;
  Tensor y;
  for (std::size_t i = 0; i < series.size(); ++i) {
    auto [X, next] = data::windows(series[i], window, 1);
    inputs.push_back(X);
    if (i == target) y = next;
  }
  return {inputs.size() == 1 ? inputs.front() : concat(inputs, 2), y};
}

Tensor scaled(const data::Scaler& scaler, const Tensor& series) {
  NoGradGuard no_grad;
  return scaler.transform(series).contiguous();
}

// "a,b": the items of a list, for metadata and messages.
std::string joined(const std::vector<std::string>& items) {
  return fmt::format("{}", fmt::join(items, ","));
}

}  // namespace

Tensor read_series(const DataConfig& c) {
  check_data_file(c.path);
  return read_column(c.path, c.column);
}

Dataset load_data(const DataConfig& c, double validation_split) {
  if (c.path.empty()) {
    Dataset d{rand({c.samples, c.seq, 1}), rand({c.samples, 1}), {}};
    d.description =
        fmt::format("{} random sequences of {} steps (X, y ~ U[0,1))", c.samples, c.seq);
    return d;
  }
  const std::size_t target = target_index(c);
  std::vector<Tensor> series = read_columns(c);
  const int64_t n = series.front().numel();
  if (n < c.window + 2) {
    throw_error<ValueError>("--data: '{}' has {} values, --window {} needs at least {}", c.path, n,
                            c.window, c.window + 2);
  }
  // Fit the scalers on what the training windows see (validation is the end of the series).
  const int64_t m = n - c.window;
  const auto m_train =
      static_cast<int64_t>(std::floor(static_cast<double>(m) * (1.0 - validation_split)));
  const int64_t seen = std::clamp<int64_t>(m_train + c.window, 1, n);
  Dataset d;
  for (Tensor& column : series) {
    d.column_scalers.emplace_back().fit(slice(column, 0, 0, seen));
    column = scaled(d.column_scalers.back(), column);
  }
  d.scaler = d.column_scalers[target];
  std::tie(d.X, d.y) = column_windows(series, target, c.window);
  const std::string scaling =
      validation_split > 0
          ? fmt::format(
                "min-max scaled by the training part's [{}, {}] (the validation part "
                "may leave [0, 1])",
                d.scaler.data_min(), d.scaler.data_max())
          : fmt::format("scaled to [0, 1] from [{}, {}]", d.scaler.data_min(), d.scaler.data_max());
  const std::string columns =
      c.columns.empty() ? fmt::format("column {}", column_words(c.column))
                        : fmt::format("columns {} (each scaled by its own min and max), target {}",
                                      joined(c.columns), target_column(c));
  d.description = fmt::format("'{}' {}: {} values {}, {} windows of {}", c.path, columns, n,
                              scaling, d.X.shape()[0], c.window);
  if (c.columns.empty()) d.column_scalers.clear();
  return d;
}

Dataset raw_windows(const DataConfig& c) {
  const std::size_t target = target_index(c);
  const std::vector<Tensor> series = read_columns(c);
  const int64_t n = series.front().numel();
  if (n < c.window + 1) {
    throw_error<ValueError>(
        "--data: {} has {} values, --window {} needs at least {} (a window and the value after it)",
        tapegrad::quoted(c.path), n, c.window, c.window + 1);
  }
  Dataset d;
  std::tie(d.X, d.y) = column_windows(series, target, c.window);
  const std::string columns =
      c.columns.empty() ? fmt::format("column {}", column_words(c.column))
                        : fmt::format("columns {}, target {}", joined(c.columns), target_column(c));
  d.description = fmt::format(
      "{} {}: {} values, {} windows of {}, min-max scaled to [0, 1] per fold by its "
      "training windows alone",
      tapegrad::quoted(c.path), columns, n, d.X.shape()[0], c.window);
  return d;
}

nn::FoldPreprocess min_max_per_column_per_fold(const DataConfig& c,
                                               std::vector<data::Scaler>* fitted) {
  const std::size_t target = target_index(c);
  return [target, fitted](const Tensor& X, const Tensor& y) {
    const int64_t columns = X.shape()[2];
    std::vector<data::Scaler> scalers(static_cast<std::size_t>(columns));
    for (int64_t i = 0; i < columns; ++i) {
      const Tensor seen = slice(X, 2, i, i + 1);
      scalers[i].fit(static_cast<std::size_t>(i) == target
                         ? concat({reshape(seen, {seen.numel()}), reshape(y, {y.numel()})})
                         : seen);
    }
    if (fitted != nullptr) fitted->push_back(scalers[target]);
    const auto scale_x = [scalers](const Tensor& x) {
      std::vector<Tensor> parts;
      for (std::size_t i = 0; i < scalers.size(); ++i) {
        const auto column = static_cast<int64_t>(i);
        parts.push_back(scalers[i].transform(slice(x, 2, column, column + 1)));
      }
      return concat(parts, 2);
    };
    const data::Scaler& t = scalers[target];
    return nn::FoldTransform{.x = scale_x,
                             .y = [t](const Tensor& v) { return t.transform(v); },
                             .y_inverse = [t](const Tensor& v) { return t.inverse_transform(v); }};
  };
}

namespace {

constexpr const char* kColumns = "data.columns";
constexpr const char* kTarget = "data.target";
constexpr const char* kColumnMins = "data.column_mins";
constexpr const char* kColumnMaxs = "data.column_maxs";

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  for (std::size_t start = 0;;) {
    const auto comma = text.find(',', start);
    items.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) return items;
    start = comma + 1;
  }
}

// The per-column numbers train recorded under `key`, one per column, or none.
std::optional<std::vector<double>> recorded_numbers(const nn::ModelFileInfo& info,
                                                    const std::string& weights, const char* key,
                                                    std::size_t count) {
  const auto it = info.metadata.find(key);
  if (it == info.metadata.end()) return std::nullopt;
  std::vector<double> values;
  for (const std::string& item : split_list(it->second)) {
    double v = 0;
    const auto [stop, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || stop != item.data() + item.size()) {
      throw_error<IOError>("predict: '{}': metadata '{}' is not a list of numbers: {}", weights,
                           key, tapegrad::quoted(it->second));
    }
    values.push_back(v);
  }
  if (values.size() != count) {
    throw_error<IOError>("predict: '{}': metadata '{}' holds {} numbers for {} columns", weights,
                         key, values.size(), count);
  }
  return values;
}

}  // namespace

std::map<std::string, std::string> columns_metadata(const Dataset& d, const DataConfig& c) {
  if (c.columns.empty() || d.column_scalers.empty()) return {};
  std::vector<std::string> mins, maxs;
  for (const data::Scaler& s : d.column_scalers) {
    mins.push_back(fmt::format("{}", s.data_min()));
    maxs.push_back(fmt::format("{}", s.data_max()));
  }
  return {{kColumns, joined(c.columns)},
          {kTarget, target_column(c)},
          {kColumnMins, joined(mins)},
          {kColumnMaxs, joined(maxs)}};
}

void adopt_recorded_columns(DataConfig& c, const std::map<std::string, std::string>& metadata,
                            const std::string& weights) {
  const auto columns = metadata.find(kColumns);
  if (c.columns.empty() && columns != metadata.end()) {
    if (!c.column.empty()) {
      throw_error<ValueError>(
          "--column: the model in '{}' reads the columns {}; give them with --columns", weights,
          columns->second);
    }
    c.columns = split_list(columns->second);
    if (c.target.empty() && metadata.count(kTarget)) c.target = metadata.at(kTarget);
  }
  if (c.columns.empty()) return;
  target_index(c);  // the target is one of the columns
  c.column = target_column(c);
}

void check_input_features(const DataConfig& c, const nn::ModelFileInfo& info,
                          const std::string& weights) {
  const int64_t features = input_features(c);
  if (info.input_features > 0 && info.input_features != features) {
    throw_error<ValueError>(
        "predict: the model in '{}' takes {} input features; {} gives {}{}", weights,
        info.input_features, c.columns.empty() ? "--data" : "--columns " + joined(c.columns),
        features, c.columns.empty() ? " (name its input columns with --columns)" : "");
  }
}

Tensor column_inputs(const DataConfig& c, const nn::ModelFileInfo& info, const std::string& weights,
                     int64_t window) {
  const std::size_t count = c.columns.size();
  const auto mins = recorded_numbers(info, weights, kColumnMins, count);
  const auto maxs = recorded_numbers(info, weights, kColumnMaxs, count);
  std::vector<Tensor> series = read_columns(c);
  for (std::size_t i = 0; i < count; ++i) {
    data::Scaler scaler;
    if (mins && maxs) {
      scaler.set_data_range((*mins)[i], (*maxs)[i]);
    } else {
      scaler.fit(series[i]);
    }
    series[i] = scaled(scaler, series[i]);
  }
  return column_windows(series, target_index(c), window).first;
}

void add_data_flags(CLI::App& cmd, DataConfig& c) {
  CLI::Option* data =
      cmd.add_option("--data", c.path, "CSV file with a series to forecast")->type_name("FILE");
  CLI::Option* column = cmd.add_option("--column", c.column,
                                       "CSV column: a name, or a 0-based index, negative from the "
                                       "end (default: -1, the last)")
                            ->type_name("NAME|N")
                            ->needs(data);
  CLI::Option* columns =
      add_list_option(cmd, "--columns", c.columns,
                      "Several input columns, comma-separated (each scaled by its own min and "
                      "max); the model forecasts --target",
                      CLI::Validator())
          ->type_name("A,B,...")
          ->needs(data)
          ->excludes(column);
  column->excludes(columns);
  cmd.add_option("--target", c.target, "The column of --columns to forecast (default: the last)")
      ->type_name("NAME|N")
      ->needs(columns);
  cmd.add_option("--window", c.window, "Time steps per input window (with --data)")
      ->check(integer_in(1, int64_t{1} << 30))
      ->type_name("N")
      ->needs(data)
      ->capture_default_str();
  cmd.add_option("--samples", c.samples, "Random sequences without --data")
      ->check(integer_in(1, int64_t{1} << 30))
      ->type_name("N")
      ->excludes(data)
      ->capture_default_str();
  cmd.add_option("--seq", c.seq, "Time steps of each random sequence without --data")
      ->check(integer_in(1, int64_t{1} << 30))
      ->type_name("N")
      ->excludes(data)
      ->capture_default_str();
}

}  // namespace tapegrad::cli
