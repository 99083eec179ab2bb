// What the subcommands of the tapegrad program share: the model they build from --cell and
// --units, those flags, and validators whose messages read well. Every subcommand file adds
// its flags through these helpers, so every subcommand builds the same model from the same
// flags.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>
#include <tapegrad/tools/viz/chart.hpp>

namespace tapegrad::cli {

struct ModelConfig {
  std::string cell = "rnn";
  std::vector<int64_t> units{64, 32};
  double dropout = 0;            // of every recurrent layer, on x_t (Keras's dropout)
  double recurrent_dropout = 0;  // on h_{t-1} (Keras's recurrent_dropout)
};

std::string join_units(const std::vector<int64_t>& units);
// "SimpleRNN(64) -> SimpleRNN(32) -> Dense(1)": the layers build_model makes, in the words of
// the library's class names.
std::string describe_layers(const ModelConfig& c);

// Recurrent layers of c.cell with c.units (all but the last return sequences), then Dense(1).
std::shared_ptr<nn::Sequential> build_model(const ModelConfig& c, int64_t in_features);

// --cell and --units.
void add_model_flags(CLI::App& cmd, ModelConfig& m);
// --cell alone, for a command that names the layer sizes otherwise (bench's --hidden).
void add_cell_flag(CLI::App& cmd, ModelConfig& m);
// --dropout and --recurrent-dropout, for the commands that train.
void add_dropout_flags(CLI::App& cmd, ModelConfig& m);
// --size WxH and --dpi N of a chart, into chart.width, chart.height and chart.dpi.
void add_chart_flags(CLI::App& cmd, tools::LineChartOptions& chart);
// --timeout S: how long a rank waits for the others under mpirun (tg::dist::set_timeout).
void add_timeout_flag(CLI::App& cmd);

// A whole number in [1, 10^9).
CLI::Validator positive_integer();
// A whole number in [lo, hi], refused in words: "--batch-size: must be at least 1, got 0".
CLI::Validator integer_in(int64_t lo, int64_t hi);
// A whole number in [0, 2^64).
CLI::Validator unsigned_64();
// A finite number > 0; a number in [0, 1); a number in (0, 1).
CLI::Validator positive_number();
CLI::Validator fraction_below_one();
CLI::Validator open_fraction();

// The output file flag of every command: -o,--output FILE, with --out kept as a hidden alias
// where a command spelled it so (old scripts keep working). Parent folders of the file are
// created when the flag is read, as train does for --plot.
struct OutputFlag {
  bool out_alias = false;  // also take the old spelling --out (hidden)
  bool required = false;   // "--output is required" without either spelling
};
CLI::Option* add_output_option(CLI::App& cmd, std::string& path, const std::string& help,
                               OutputFlag flag = {});
// A flag naming a file the command writes (--plot, --checkpoint): its folders are created
// when the flag is read.
CLI::Option* add_file_to_write(CLI::App& cmd, const std::string& names, std::string& path,
                               const std::string& help);
// Creates the folders a file will be written into (none for a bare file name).
void create_parent_dirs(const std::string& path);

// A comma-separated list flag (--units 64,32; --cell rnn,lstm): spaces around items are
// trimmed ("64, 32"), an empty item ("64,,32", ",64", "") is a usage error naming the flag
// and the value, as is an item `item` rejects. Without the flag, `out` keeps its default.
CLI::Option* add_list_option(CLI::App& cmd, const std::string& name, std::vector<int64_t>& out,
                             const std::string& help, CLI::Validator item);
CLI::Option* add_list_option(CLI::App& cmd, const std::string& name, std::vector<std::string>& out,
                             const std::string& help, CLI::Validator item);

}  // namespace tapegrad::cli
