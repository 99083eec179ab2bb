// The data `tapegrad train` and `tapegrad cv` learn from, and its flags: without --data the
// reference data (100 random sequences of 10 steps, X and y ~ U[0,1), drawn from the default
// generator, so seeded by --seed), with --data windows of a CSV series scaled to [0, 1].
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include <tapegrad/tapegrad.hpp>

namespace tapegrad::cli {

struct DataConfig {
  std::string path;    // --data; empty: the reference random data
  std::string column;  // --column; empty: the last column
  int64_t window = 10;
};

struct Dataset {
  Tensor X, y;              // X (N, window, 1), y (N, 1)
  std::string description;  // one line for the program's setup summary
};

// The reference data, or --window windows of the --column series of --data, each followed by
// the next value as its target. The min-max scaler is fitted on the values the training
// windows see, the first (1 - validation_split) of the windows (validation is the end of the
// series), so no validation value sets the scale.
Dataset load_data(const DataConfig& c, double validation_split = 0);

// --data, --column and --window (the latter two need --data).
void add_data_flags(CLI::App& cmd, DataConfig& c);

}  // namespace tapegrad::cli
