// The data `tapegrad train` and `tapegrad cv` learn from, and its flags: without --data the
// reference data (--samples random sequences of --seq steps, 100 of 10 by default, X and y ~
// U[0,1), drawn from the default generator, so seeded by --seed), with --data windows of a
// CSV series min-max scaled. With --columns a,b,c the inputs are several columns (each
// min-max scaled by its own scaler), the windows (samples, window, columns), and the target
// the --target column's next value; train records the columns and their scalers in the
// weights' metadata (columns_metadata) so that predict rebuilds the same inputs.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace tapegrad::cli {

struct DataConfig {
  std::string path;    // --data; empty: the reference random data
  std::string column;  // --column: a name or an index (negative from the end); empty: -1
  std::vector<std::string> columns;  // --columns: several input columns (names or indices)
  std::string target;                // --target: the predicted one of them; empty: the last
  int64_t window = 10;
  int64_t samples = 100, seq = 10;  // the random data without --data
};

struct Dataset {
  Tensor X, y;              // X (N, window, columns), y (N, 1)
  std::string description;  // one line for the program's setup summary
  data::Scaler scaler{};    // what scaled the series (of --columns: the target's; unfitted for
                            // the reference data)
  std::vector<data::Scaler> column_scalers{};  // one per --columns column, in their order
};

// The input columns: --columns, else the one --column.
std::vector<std::string> input_columns(const DataConfig& c);
// The predicted column: --target, else the last input column.
std::string target_column(const DataConfig& c);
// The model's input features: 1, or the number of --columns.
int64_t input_features(const DataConfig& c);

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

// The raw windows of --data for cross-validation, which scales them per fold: X (N, window,
// columns), y (N, 1) the target's next value.
Dataset raw_windows(const DataConfig& c);
// min-max scaling fitted on each fold's training rows, one scaler per input column (the
// target's also fitted on y), for raw_windows of several columns; `fitted` receives the
// target column's scaler of each fold.
nn::FoldPreprocess min_max_per_column_per_fold(const DataConfig& c,
                                               std::vector<data::Scaler>* fitted);

// What train keeps in the weights file beside series_metadata for --columns:
// "data.columns", "data.target", and each column's scaler "data.column_mins" and
// "data.column_maxs" (comma-separated, in column order). Empty without --columns.
std::map<std::string, std::string> columns_metadata(const Dataset& d, const DataConfig& c);
// For predict: the --columns and --target train recorded in `metadata`, unless given; with
// columns, `c.column` becomes the target (the series predict compares with and unscales).
// Refuses --column beside recorded columns.
void adopt_recorded_columns(DataConfig& c, const std::map<std::string, std::string>& metadata,
                            const std::string& weights);
// Refuses a model whose input features are not the input columns' count.
void check_input_features(const DataConfig& c, const nn::ModelFileInfo& info,
                          const std::string& weights);
// The windows predict feeds the model for --columns: each column scaled by the scaler train
// recorded (else one fitted on the whole column), X (N - window, window, columns). The model
// of `info` must take that many features. `weights` names the file in errors.
Tensor column_inputs(const DataConfig& c, const nn::ModelFileInfo& info, const std::string& weights,
                     int64_t window);

// The reference data, or --window windows of the --column series of --data, each followed by
// the next value as its target. The min-max scaler is fitted on the values the training
// windows see, the first (1 - validation_split) of the windows (validation is the end of the
// series), so no validation value sets the scale.
Dataset load_data(const DataConfig& c, double validation_split = 0);

// --data, --column (or --columns and --target) and --window (these need --data); --samples
// and --seq (without --data).
void add_data_flags(CLI::App& cmd, DataConfig& c);

}  // namespace tapegrad::cli
