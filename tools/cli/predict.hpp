// `tapegrad predict`: the predictions of a saved model, rebuilt from its file.
//
//   tapegrad predict --weights out/model.safetensors -o pred.csv
//       the reference data: the 100 sequences `train` draws (tg::rand seeded by --seed)
//   tapegrad predict --weights m.safetensors --data series.csv --window 12 -o pred.csv
//       one prediction per window of the series (its next value), beside the true value;
//       prints MAE, RMSE, MAPE and R2 of those predictions in the series' units beside the
//       naive forecast's (each window's last value as its prediction), the bar to beat
//   tapegrad predict --weights m.safetensors --data series.csv --window 12 --horizon 6
//       the 6 values after the end of the series, each prediction fed back as an input
//
// The model is rebuilt from the file's config (nn::load_model). A series is scaled as
// `train` scaled it: by the min and max train keeps in the weights' metadata
// (series_metadata below), or, for a file without them, by a scaler fitted on the whole
// series, which is what train does without --validation-split (predict says so).
// --column and --window default to the ones the file records, then to train's defaults.
// Predictions are written in the units of the series, one CSV row per sample (or step).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include "common.hpp"
#include "data.hpp"

namespace tapegrad::cli {

struct PredictConfig {
  std::string weights;
  DataConfig data;
  bool window_given = false;
  int64_t horizon = 0;  // 0: one prediction per window
  std::uint64_t seed = 0;
  std::string output = "pred.csv";
};

// The rows of the CSV file predict writes.
struct Table {
  std::string header;
  std::vector<std::string> rows;
  std::string data_description;
  // For windows of a series (whose next values are known): the model's MAE, RMSE, MAPE and
  // R2 in the series' units beside those of the naive last-value forecast, as printed.
  std::string metrics = {};
};

// What predict does with --data (also the input of the fuzz target tests/fuzz/
// fuzz_predict_csv.cpp): reads the series of c.data, refuses NaN and infinities, scales it by
// the scaler of `info` (train's, refused when it cannot scale) or one fitted on the series,
// and predicts each window's next value, or c.horizon values past the series' end. `model` is
// the one c.weights holds and `info` its description. Throws tg::Error for any bad input.
Table predict_series(nn::Module& model, const nn::ModelFileInfo& info, const PredictConfig& c);

// The windows of c.data's series as predict reads them (window, column and scaler from
// `info` as for predict_series), each followed by its next value: X (N, window, 1), y (N, 1),
// scaled; `description` says how (for `tapegrad dot --weights --data`).
struct Windows {
  Tensor X, y;
  std::string description;
};
Windows scaled_windows(const nn::ModelFileInfo& info, const PredictConfig& c);

// What `train` keeps in its weights file so that predict reads and scales a series as it
// did: "data.scaler_min", "data.scaler_max", "data.window" and "data.column" (when given).
// Empty for the reference data (an unfitted scaler).
std::map<std::string, std::string> series_metadata(const data::Scaler& scaler, const DataConfig& c);

}  // namespace tapegrad::cli
