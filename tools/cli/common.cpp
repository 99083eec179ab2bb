#include "common.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace tapegrad::cli {

std::string join_units(const std::vector<int64_t>& units) {
  return fmt::format("{}", fmt::join(units, ","));
}

std::string describe_layers(const ModelConfig& c) {
  const std::string cell = c.cell == "rnn" ? "SimpleRNN" : c.cell == "lstm" ? "LSTM" : "GRU";
  std::vector<std::string> layers;
  for (int64_t units : c.units) layers.push_back(fmt::format("{}({})", cell, units));
  layers.emplace_back("Dense(1)");
  return fmt::format("{}", fmt::join(layers, " -> "));
}

namespace {

// One recurrent layer of build_model, with c's dropout rates.
template <class Layer, class CellOptions>
nn::ModulePtr recurrent_layer(int64_t in, int64_t units, nn::RNNOptions opts,
                              const ModelConfig& c) {
  return std::make_shared<Layer>(
      in, units, opts, CellOptions{.dropout = c.dropout, .recurrent_dropout = c.recurrent_dropout});
}

}  // namespace

std::shared_ptr<nn::Sequential> build_model(const ModelConfig& c, int64_t in_features) {
  auto model = std::make_shared<nn::Sequential>();
  int64_t in = in_features;
  for (std::size_t i = 0; i < c.units.size(); ++i) {
    const nn::RNNOptions opts{.return_sequences = i + 1 < c.units.size()};
    const int64_t units = c.units[i];
    if (c.cell == "rnn") {
      model->push_back(
          recurrent_layer<nn::SimpleRNN, nn::SimpleRNNCellOptions>(in, units, opts, c));
    } else if (c.cell == "lstm") {
      model->push_back(recurrent_layer<nn::LSTM, nn::LSTMCellOptions>(in, units, opts, c));
    } else if (c.cell == "gru") {
      model->push_back(recurrent_layer<nn::GRU, nn::GRUCellOptions>(in, units, opts, c));
    } else {
      throw_error<ValueError>("unknown cell '{}' (rnn, lstm or gru)", c.cell);
    }
    in = units;
  }
  model->push_back(nn::Dense(in, 1));
  return model;
}

void add_cell_flag(CLI::App& cmd, ModelConfig& m) {
  cmd.add_option("--cell", m.cell, "Recurrent cell of every layer")
      ->check(CLI::IsMember({"rnn", "lstm", "gru"}).description(""))
      ->type_name("rnn|lstm|gru")
      ->capture_default_str();
}

void add_model_flags(CLI::App& cmd, ModelConfig& m) {
  add_cell_flag(cmd, m);
  add_list_option(cmd, "--units", m.units,
                  "Units of each recurrent layer, comma-separated; a Dense(1) layer follows",
                  positive_integer())
      ->type_name("N,N,...")
      ->default_str("64,32");
}

void add_timeout_flag(CLI::App& cmd) {
  cmd.add_option_function<double>(
         "--timeout", [](double seconds) { dist::set_timeout(dist::Seconds(seconds)); },
         fmt::format("Under mpirun: seconds a rank waits for the others before the job ends "
                     "(default {:g}, or TAPEGRAD_DIST_TIMEOUT)",
                     dist::timeout().count()))
      ->check(positive_number())
      ->type_name("S");
}

void add_dropout_flags(CLI::App& cmd, ModelConfig& m) {
  cmd.add_option("--dropout", m.dropout,
                 "Dropout rate on the inputs x_t of every recurrent layer (training only)")
      ->check(fraction_below_one())
      ->type_name("R")
      ->capture_default_str();
  cmd.add_option("--recurrent-dropout", m.recurrent_dropout,
                 "Dropout rate on the recurrent state h_{t-1} of every recurrent layer")
      ->check(fraction_below_one())
      ->type_name("R")
      ->capture_default_str();
}

CLI::Validator positive_integer() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (text.empty() || !std::all_of(text.begin(), text.end(), ::isdigit) ||
            text.find_first_not_of('0') == std::string::npos || text.size() > 9) {
          return "must be a whole number > 0, got '" + text + "'";
        }
        return {};
      },
      "");
}

CLI::Validator integer_in(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        int64_t v = 0;
        const char* end = text.data() + text.size();
        const auto [stop, ec] = std::from_chars(text.data(), end, v);
        if (text.empty() || stop != end || ec == std::errc::invalid_argument) {
          return fmt::format("must be a whole number, got '{}'", text);
        }
        // A number beyond int64 is beyond the bound on its side.
        const bool negative = text.front() == '-';
        const bool beyond = ec == std::errc::result_out_of_range;
        if ((beyond && negative) || (!beyond && v < lo)) {
          return fmt::format("must be at least {}, got {}", lo, text);
        }
        if (beyond || v > hi) return fmt::format("must be at most {}, got {}", hi, text);
        return {};
      },
      "");
}

// CLI11 alone turns "-1" into 2^64 - 1 and saturates a longer number without a word, so two
// different seeds would silently run alike.
CLI::Validator unsigned_64() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::uint64_t v = 0;
        const char* end = text.data() + text.size();
        const auto [stop, ec] = std::from_chars(text.data(), end, v);
        if (text.empty() || ec != std::errc() || stop != end) {
          return "must be a whole number in [0, " +
                 std::to_string(std::numeric_limits<std::uint64_t>::max()) + "], got '" + text +
                 "'";
        }
        return {};
      },
      "");
}

namespace {

// Validators whose messages read well ("--lr: must be a number > 0, got '-1'").
CLI::Validator real_number(bool (*ok)(double), const std::string& rule) {
  return CLI::Validator(
      [ok, rule](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !ok(v))
          return "must be " + rule + ", got '" + text + "'";
        return {};
      },
      "");
}

// "--output" of "-o,--output": the spelling errors name.
std::string first_name(const std::string& names) {
  const auto long_name = names.find("--");
  const std::string from = long_name == std::string::npos ? names : names.substr(long_name);
  return from.substr(0, from.find(','));
}

std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// The items of a list flag's value, trimmed and each checked by `item`.
std::vector<std::string> list_items(const std::string& flag, const std::string& text,
                                    const CLI::Validator& item) {
  std::vector<std::string> items;
  for (std::size_t start = 0;;) {
    const auto comma = text.find(',', start);
    std::string value = trimmed(text.substr(start, comma - start));
    if (value.empty()) {
      throw CLI::ValidationError(
          flag, "empty item in '" + text + "' (give comma-separated values, none empty)");
    }
    if (const std::string error = item(value); !error.empty()) {
      throw CLI::ValidationError(flag, error + " in '" + text + "'");
    }
    items.push_back(value);
    if (comma == std::string::npos) return items;
    start = comma + 1;
  }
}

}  // namespace

CLI::Validator positive_number() {
  return real_number([](double v) { return v > 0 && !std::isinf(v); }, "a number > 0");
}

CLI::Validator fraction_below_one() {
  return real_number([](double v) { return v >= 0 && v < 1; }, "a number in [0, 1)");
}

CLI::Validator open_fraction() {
  return real_number([](double v) { return v > 0 && v < 1; }, "a number in (0, 1)");
}

CLI::Option* add_list_option(CLI::App& cmd, const std::string& name, std::vector<int64_t>& out,
                             const std::string& help, CLI::Validator item) {
  return cmd.add_option_function<std::string>(
      name,
      [&out, name, item](const std::string& text) {
        out.clear();
        for (const std::string& value : list_items(name, text, item)) {
          out.push_back(std::stoll(value));
        }
      },
      help);
}

CLI::Option* add_list_option(CLI::App& cmd, const std::string& name, std::vector<std::string>& out,
                             const std::string& help, CLI::Validator item) {
  return cmd.add_option_function<std::string>(
      name, [&out, name, item](const std::string& text) { out = list_items(name, text, item); },
      help);
}

void create_parent_dirs(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
}

namespace {

// "800x500": two whole numbers of pixels, each from 100 to 20000 (write_line_chart's range).
std::optional<std::pair<int, int>> chart_size(const std::string& text) {
  const std::size_t x = text.find('x');
  if (x == std::string::npos) return std::nullopt;
  const auto side = [](std::string_view digits) -> std::optional<int> {
    int value = 0;
    const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (err != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    if (value < 100 || value > 20000) return std::nullopt;
    return value;
  };
  const std::string_view all = text;
  const auto width = side(all.substr(0, x)), height = side(all.substr(x + 1));
  if (!width || !height) return std::nullopt;
  return std::pair{*width, *height};
}

// Sets `path` from a value of the output flag `flag` and creates its folders; a folder that
// cannot be made is the flag's usage error.
std::function<void(const std::string&)> output_setter(std::string& path, const std::string& flag) {
  return [&path, flag](const std::string& value) {
    try {
      create_parent_dirs(value);
    } catch (const std::filesystem::filesystem_error& e) {
      throw CLI::ValidationError(
          flag, fmt::format("cannot create the folder of '{}': {}", value, e.code().message()));
    }
    path = value;
  };
}

}  // namespace

void add_chart_flags(CLI::App& cmd, tools::LineChartOptions& chart) {
  cmd.add_option_function<std::string>(
         "--size",
         [&chart](const std::string& text) {
           std::tie(chart.width, chart.height) = chart_size(text).value();
         },
         fmt::format("Chart size in pixels, width x height (default {}x{})", chart.width,
                     chart.height))
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            return chart_size(text) ? ""
                                    : "must be WIDTHxHEIGHT in pixels, each 100 to 20000 "
                                      "(e.g. 800x500), got '" +
                                          text + "'";
          },
          ""))
      ->type_name("WxH");
  cmd.add_option("--dpi", chart.dpi,
                 "Dots per inch of a .png chart: more pixels, the same layout (96 is the screen)")
      ->check(integer_in(24, 2400))
      ->type_name("N")
      ->capture_default_str();
}

CLI::Option* add_file_to_write(CLI::App& cmd, const std::string& names, std::string& path,
                               const std::string& help) {
  CLI::Option* option =
      cmd.add_option_function<std::string>(names, output_setter(path, first_name(names)), help)
          ->type_name("FILE");
  if (!path.empty()) option->default_str(path);
  return option;
}

CLI::Option* add_output_option(CLI::App& cmd, std::string& path, const std::string& help,
                               OutputFlag flag) {
  CLI::Option* output = add_file_to_write(cmd, "-o,--output", path, help);
  CLI::Option* out = nullptr;
  if (flag.out_alias) {
    out = add_file_to_write(cmd, "--out", path, "The old spelling of --output")
              ->group("")
              ->excludes(output);
    output->excludes(out);
  }
  if (flag.required) {
    cmd.parse_complete_callback([output, out] {
      if (output->count() == 0 && (out == nullptr || out->count() == 0)) {
        throw CLI::RequiredError("--output");
      }
    });
  }
  return output;
}
}  // namespace tapegrad::cli
