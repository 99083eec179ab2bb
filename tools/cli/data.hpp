// The data `tapegrad train` and `tapegrad cv` learn from, and its flags: without --data the
// reference data (--samples random sequences of --seq steps, 100 of 10 by default, X and y ~
// U[0,1), drawn from the default generator, so seeded by --seed), with --data windows of a
// CSV series min-max scaled.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include <tapegrad/tapegrad.hpp>

namespace tapegrad::cli {

struct DataConfig {
  std::string path;    // --data; empty: the reference random data
  std::string column;  // --column: a name or an index (negative from the end); empty: -1
  int64_t window = 10;
  int64_t samples = 100, seq = 10;  // the random data without --data
};

struct Dataset {
  Tensor X, y;              // X (N, window, 1), y (N, 1)
  std::string description;  // one line for the program's setup summary
  data::Scaler scaler{};    // what scaled the series (unfitted for the reference data)
};

// The --column series of --data (a name, a 0-based index, negative from the end; default
// the last column). IOError for a missing file or a directory; ValueError for a series
// holding NaN or an infinity, which no scaler can map.
Tensor read_series(const DataConfig& c);

struct SeriesValue {
  int64_t index;  // from 0
  double value;
};
// The first NaN or infinity in a series, if any.
std::optional<SeriesValue> first_non_finite(const Tensor& series);

// The reference data, or --window windows of the --column series of --data, each followed by
// the next value as its target. The min-max scaler is fitted on the values the training
// windows see, the first (1 - validation_split) of the windows (validation is the end of the
// series), so no validation value sets the scale.
Dataset load_data(const DataConfig& c, double validation_split = 0);

// --data, --column and --window (the latter two need --data); --samples and --seq (without
// --data).
void add_data_flags(CLI::App& cmd, DataConfig& c);

}  // namespace tapegrad::cli
