#include "cli_common.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

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

std::shared_ptr<nn::Sequential> build_model(const ModelConfig& c, int64_t in_features) {
  auto model = std::make_shared<nn::Sequential>();
  int64_t in = in_features;
  for (std::size_t i = 0; i < c.units.size(); ++i) {
    const nn::RNNOptions opts{.return_sequences = i + 1 < c.units.size()};
    const int64_t units = c.units[i];
    if (c.cell == "rnn") {
      model->push_back(nn::SimpleRNN(in, units, opts));
    } else if (c.cell == "lstm") {
      model->push_back(nn::LSTM(in, units, opts));
    } else if (c.cell == "gru") {
      model->push_back(nn::GRU(in, units, opts));
    } else {
      throw_error<ValueError>("unknown cell '{}' (rnn, lstm or gru)", c.cell);
    }
    in = units;
  }
  model->push_back(nn::Dense(in, 1));
  return model;
}

void add_model_flags(CLI::App& cmd, ModelConfig& m) {
  cmd.add_option("--cell", m.cell, "Recurrent cell of every layer")
      ->check(CLI::IsMember({"rnn", "lstm", "gru"}).description(""))
      ->type_name("rnn|lstm|gru")
      ->capture_default_str();
  cmd.add_option("--units", m.units,
                 "Units of each recurrent layer, comma-separated; a Dense(1) layer follows")
      ->delimiter(',')
      ->check(positive_integer())
      ->type_name("N,N,...")
      ->default_str("64,32");
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

}  // namespace tapegrad::cli
