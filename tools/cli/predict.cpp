#include "predict.hpp"

#include "command.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace tapegrad::cli {
namespace {

constexpr const char* kScalerMin = "data.scaler_min";
constexpr const char* kScalerMax = "data.scaler_max";
constexpr const char* kWindow = "data.window";
constexpr const char* kColumn = "data.column";

// A metadata number written by series_metadata; anything else in the file is refused.
std::optional<double> stored_number(const nn::ModelFileInfo& info, const std::string& path,
                                    const char* key) {
  const auto it = info.metadata.find(key);
  if (it == info.metadata.end()) return std::nullopt;
  double value = 0;
  const char* end = it->second.data() + it->second.size();
  const auto [stop, ec] = std::from_chars(it->second.data(), end, value);
  if (it->second.empty() || ec != std::errc() || stop != end || !std::isfinite(value)) {
    throw_error<IOError>("predict: '{}': metadata '{}' is not a number: {}", path, key,
                         tapegrad::quoted(it->second));
  }
  return value;
}

// The scaler train kept in the file; one that would map values to infinities or NaN, or whose
// min is above its max, is refused rather than used (or silently re-sorted).
data::Scaler stored_scaler(const std::string& path, double min, double max) {
  data::Scaler scaler;
  try {
    scaler.set_data_range(min, max);
  } catch (const ValueError& e) {
    throw_error<IOError>("predict: '{}': metadata '{}' and '{}' hold no usable scaler: {}", path,
                         kScalerMin, kScalerMax, e.what());
  }
  return scaler;
}

// Values as the model's dtype holds them: the shortest text that reads back the same. A
// prediction unscaled to the series' units may lie beyond float's range (an f32 model's
// output past [0, 1] times a range near float's): it keeps float's 9 digits, not "inf".
std::string number(double v, DType dtype) {
  if (dtype != f32) return fmt::format("{}", v);
  const auto as_float = static_cast<float>(v);
  if (std::isinf(as_float) && std::isfinite(v)) return fmt::format("{:.9g}", v);
  return fmt::format("{}", as_float);
}

// The model's outputs for X (N, T, 1), as N rows of values.
std::vector<std::vector<double>> predict_rows(nn::Module& model, const Tensor& X) {
  NoGradGuard no_grad;
  const Tensor out = model(X.to(model.dtype())).contiguous().to(f64);
  const int64_t n = X.shape()[0];
  if (out.dim() == 0 || out.shape()[0] != n) {
    throw_error<ValueError>("predict: the model gives {} for {} samples, not one row per sample",
                            out.shape(), n);
  }
  const int64_t width = out.numel() / std::max<int64_t>(n, 1);
  std::vector<std::vector<double>> rows(static_cast<std::size_t>(n));
  const double* p = out.data<double>();
  for (int64_t i = 0; i < n; ++i) rows[i].assign(p + i * width, p + (i + 1) * width);
  return rows;
}

std::string prediction_header(std::size_t width) {
  if (width == 1) return "prediction";
  std::string out;
  for (std::size_t j = 0; j < width; ++j) out += fmt::format("{}prediction_{}", j ? "," : "", j);
  return out;
}

std::string joined(const std::vector<double>& values, DType dtype) {
  std::string out;
  for (std::size_t j = 0; j < values.size(); ++j) out += (j ? "," : "") + number(values[j], dtype);
  return out;
}

// ---- metrics beside the naive baseline ----

// The metrics predict reports, by nn::make_metric's names and as printed.
constexpr std::pair<const char*, const char*> kReportMetrics[] = {
    {"mae", "MAE"}, {"rmse", "RMSE"}, {"mape", "MAPE (%)"}, {"r2", "R2"}};

Tensor column_of(const std::vector<double>& values) {
  return from_vector(values, {static_cast<int64_t>(values.size())});
}

// A table of the metrics of the model's predictions and of the naive forecast (the last
// input value before each target), all in the data's units:
//   Metrics of 132 predictions, in the series' units       model  naive (last value)
//   MAE                                                  34.9151             27.1364
std::string metrics_report(const std::string& units, const std::vector<double>& target,
                           const std::vector<double>& model, const std::vector<double>& naive) {
  const Tensor y = column_of(target), p = column_of(model), last = column_of(naive);
  const std::string title = fmt::format("Metrics of {} predictions, {}", target.size(), units);
  const std::size_t width = title.size();  // longer than any metric's label
  std::string out =
      fmt::format("{:<{}}{:>12}{:>20}\n", title, width, "model", "naive (last value)");
  for (const auto& [name, label] : kReportMetrics) {
    out += fmt::format("{:<{}}{:>12.4f}{:>20.4f}\n", label, width, nn::compute_metric(name, p, y),
                       nn::compute_metric(name, last, y));
  }
  return out;
}

Table predict_reference(nn::Module& model, const PredictConfig& c) {
  manual_seed(c.seed);  // train's order: the seed, then the data
  const Dataset d = load_data(DataConfig{});
  const auto predictions = predict_rows(model, d.X);
  const Tensor y = d.y.to(f64).contiguous();
  Table t{"sample,target," + prediction_header(predictions.front().size()), {}, {}};
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    t.rows.push_back(fmt::format("{},{},{}", i, number(y.data<double>()[i], f32),
                                 joined(predictions[i], model.dtype())));
  }
  t.data_description = fmt::format("{} (seed {}, as train draws them)", d.description, c.seed);
  if (predictions.front().size() == 1) {  // the naive forecast: each sequence's last value
    std::vector<double> target, predicted, last;
    const Tensor X = d.X.to(f64).contiguous();
    const int64_t steps = X.shape()[1];
    for (std::size_t i = 0; i < predictions.size(); ++i) {
      target.push_back(y.data<double>()[i]);
      predicted.push_back(predictions[i][0]);
      last.push_back(X.data<double>()[(static_cast<int64_t>(i) + 1) * steps - 1]);
    }
    t.metrics = metrics_report("of the random targets", target, predicted, last);
  }
  return t;
}

// The series of --data, its scaler (train's, from the file, or fitted here) and window.
struct Series {
  Tensor raw, scaled;  // the target column's
  Tensor inputs;       // with --columns: every column's windows (column_inputs); else undefined
  data::Scaler scaler;
  int64_t window = 0;
  std::string description;
};

Series load_series(const PredictConfig& c, const nn::ModelFileInfo& info) {
  DataConfig series = c.data;  // --column, else the one train recorded, else the last
  adopt_recorded_columns(series, info.metadata, c.weights);
  if (series.column.empty() && info.metadata.count(kColumn))
    series.column = info.metadata.at(kColumn);
  Series s;
  s.raw = read_series(series);
  s.window = c.data.window;
  const std::optional<double> stored_window = stored_number(info, c.weights, kWindow);
  if (!c.window_given && stored_window) {
    if (!(*stored_window >= 1 && *stored_window <= (1 << 30)) ||
        *stored_window != std::floor(*stored_window)) {
      throw_error<IOError>("predict: '{}': metadata '{}' is not a window length: {}", c.weights,
                           kWindow, *stored_window);
    }
    s.window = static_cast<int64_t>(*stored_window);
  }
  const std::optional<double> lo = stored_number(info, c.weights, kScalerMin);
  const std::optional<double> hi = stored_number(info, c.weights, kScalerMax);
  std::string scaling;
  if (lo && hi) {
    s.scaler = stored_scaler(c.weights, *lo, *hi);
    scaling = fmt::format("scaled by train's [{}, {}]", *lo, *hi);
  } else {
    s.scaler.fit(s.raw);
    scaling = fmt::format(
        "scaled by [{}, {}], fitted here on the whole series (the weights file keeps no scaler)",
        s.scaler.data_min(), s.scaler.data_max());
  }
  {
    NoGradGuard no_grad;
    s.scaled = s.scaler.transform(s.raw).contiguous();
  }
  if (const auto bad = first_non_finite(s.scaled)) {
    throw_error<ValueError>(
        "--data: '{}': value {} of the series ({}) lies too far outside the scaler's range [{}, "
        "{}] to be scaled (it becomes {})",
        c.data.path, bad->index,
        s.raw.to(f64).to_vector<double>()[static_cast<std::size_t>(bad->index)],
        s.scaler.data_min(), s.scaler.data_max(), bad->value);
  }
  const int64_t n = s.raw.numel();
  if (n < s.window + (c.horizon > 0 ? 0 : 1) || s.window < 1) {
    throw_error<ValueError>("--data: '{}' has {} values, --window {} needs at least {}",
                            c.data.path, n, s.window, s.window + (c.horizon > 0 ? 0 : 1));
  }
  check_input_features(series, info, c.weights);
  if (!series.columns.empty()) s.inputs = column_inputs(series, info, c.weights, s.window);
  s.description =
      fmt::format("'{}' column {}: {} values {}, window {}", c.data.path,
                  series.column.empty() ? "-1 (the last)" : series.column, n, scaling, s.window);
  return s;
}

std::vector<double> unscaled(const data::Scaler& scaler, const std::vector<double>& values) {
  NoGradGuard no_grad;
  const Tensor t =
      scaler.inverse_transform(from_vector(values, {static_cast<int64_t>(values.size())}));
  const Tensor c = t.to(f64).contiguous();
  return {c.data<double>(), c.data<double>() + c.numel()};
}

// The report of one-value predictions, one per window of the series: the targets are the
// series from `window` on, the naive forecasts the series up to its second last value.
std::string window_metrics(const Series& s, const std::vector<std::vector<double>>& predictions) {
  if (predictions.front().size() != 1) return "";  // no one-to-one target per prediction
  std::vector<double> scaled;
  for (const auto& row : predictions) scaled.push_back(row[0]);
  const std::vector<double> raw = s.raw.to(f64).to_vector<double>();
  const auto from = raw.begin() + s.window;
  return metrics_report("in the series' units", {from, raw.end()}, unscaled(s.scaler, scaled),
                        {from - 1, raw.end() - 1});
}

// One prediction per window, beside the value that followed it.
Table predict_windows(nn::Module& model, const Series& s) {
  const Tensor X = s.inputs.defined() ? s.inputs : data::windows(s.scaled, s.window, 1).first;
  const auto predictions = predict_rows(model, X);
  const Tensor raw = s.raw.to(f64).contiguous();
  Table t{"sample,target," + prediction_header(predictions.front().size()), {}, s.description};
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    t.rows.push_back(fmt::format("{},{},{}", i,
                                 number(raw.data<double>()[i + s.window], raw.dtype()),
                                 joined(unscaled(s.scaler, predictions[i]), model.dtype())));
  }
  t.metrics = window_metrics(s, predictions);
  return t;
}

// The `horizon` values after the series' end: each prediction becomes the last input of
// the next window.
Table forecast(nn::Module& model, const Series& s, int64_t horizon) {
  const int64_t n = s.scaled.numel();
  std::vector<double> window;
  const Tensor tail = slice(s.scaled, 0, n - s.window, n).to(f64).contiguous();
  window.assign(tail.data<double>(), tail.data<double>() + s.window);
  std::vector<double> ahead;
  for (int64_t step = 0; step < horizon; ++step) {
    const Tensor x = from_vector(window, {1, s.window, 1});
    const auto p = predict_rows(model, x).front();
    if (p.size() != 1) {
      throw_error<ValueError>(
          "--horizon: the model gives {} values per sample; a forecast feeds one back", p.size());
    }
    ahead.push_back(p[0]);
    window.erase(window.begin());
    window.push_back(p[0]);
  }
  Table t{"step,prediction", {}, s.description};
  const std::vector<double> values = unscaled(s.scaler, ahead);
  for (std::size_t i = 0; i < values.size(); ++i) {
    t.rows.push_back(fmt::format("{},{}", i + 1, number(values[i], model.dtype())));
  }
  return t;
}

}  // namespace

Table predict_series(nn::Module& model, const nn::ModelFileInfo& info, const PredictConfig& c) {
  const Series s = load_series(c, info);
  if (c.horizon > 0 && s.inputs.defined()) {
    throw_error<ValueError>(
        "--horizon: a model of several input columns forecasts one step: feeding its prediction "
        "back would need every column's next value; predict without --horizon");
  }
  return c.horizon > 0 ? forecast(model, s, c.horizon) : predict_windows(model, s);
}

Windows scaled_windows(const nn::ModelFileInfo& info, const PredictConfig& c) {
  const Series s = load_series(c, info);
  const auto [X, y] = data::windows(s.scaled, s.window, 1);
  return {X, y, s.description};
}

namespace {

int run_predict(const PredictConfig& c) {
  const nn::ModelFileInfo info = nn::read_model_info(c.weights);
  const std::shared_ptr<nn::Module> model = nn::load_model(c.weights);
  model->eval();
  // 0: not recorded; a mismatch then fails in the model. A CSV's columns are checked as read.
  if (info.input_features > 1 && c.data.path.empty()) {
    throw_error<ValueError>(
        "predict: the model in '{}' takes {} input features; the reference data and a CSV series "
        "have 1",
        c.weights, info.input_features);
  }
  Table t;
  if (c.data.path.empty()) {
    t = predict_reference(*model, c);
  } else {
    t = predict_series(*model, info, c);
  }
  std::string text = t.header + "\n";
  for (const std::string& row : t.rows) text += row + "\n";
  write_file_atomically("tapegrad predict", c.output, text);
  std::cout << fmt::format("Model: {} (from {})\nData: {}\nWrote {} ({} rows)\n", info.summary,
                           c.weights, t.data_description, c.output, t.rows.size())
            << t.metrics;
  return 0;
}

}  // namespace

std::map<std::string, std::string> series_metadata(const data::Scaler& scaler,
                                                   const DataConfig& c) {
  if (!scaler.fitted()) return {};
  std::map<std::string, std::string> out{{kScalerMin, fmt::format("{}", scaler.data_min())},
                                         {kScalerMax, fmt::format("{}", scaler.data_max())},
                                         {kWindow, std::to_string(c.window)}};
  if (!c.column.empty()) out.emplace(kColumn, c.column);
  return out;
}

Command add_predict_command(CLI::App& app) {
  auto c = std::make_shared<PredictConfig>();
  CLI::App* predict =
      app.add_subcommand("predict", "Predict with a saved model (rebuilt from its file)");
  // `predict FILE` as `info FILE`; --weights FILE is the same.
  CLI::Option* file = predict->add_option("file", c->weights, "Weights file written by train")
                          ->check(CLI::Validator(CLI::ExistingFile).description(""))
                          ->type_name("FILE");
  CLI::Option* weights = predict->add_option("--weights", c->weights, "The weights file, as a flag")
                             ->check(CLI::Validator(CLI::ExistingFile).description(""))
                             ->type_name("FILE")
                             ->excludes(file);
  predict->parse_complete_callback([file, weights] {
    if (file->count() + weights->count() == 0) {
      throw CLI::RequiredError("--weights is required: tapegrad predict FILE (or --weights FILE)",
                               CLI::ExitCodes::RequiredError);
    }
  });
  add_data_flags(*predict, c->data);
  CLI::Option* data = predict->get_option("--data");
  data->check(CLI::Validator(CLI::ExistingFile).description(""));
  predict
      ->add_option("--horizon", c->horizon,
                   "Forecast this many steps after the series' end (predictions fed back)")
      ->check(integer_in(1, int64_t{1} << 20))
      ->type_name("H")
      ->needs(data);
  predict->add_option("--seed", c->seed, "Seed of the reference data (as train's --seed)")
      ->check(unsigned_64())
      ->type_name("N")
      ->capture_default_str();
  add_output_option(*predict, c->output, "CSV file for the predictions");
  predict->footer(
      "Without --data, predicts the reference data train draws. --column and --window default\n"
      "to the ones train recorded in the file. Errors give one line on stderr and exit code 2.");
  CLI::Option* window = predict->get_option("--window");
  return {predict, [c, window] {
            c->window_given = window->count() > 0;
            return run_predict(*c);
          }};
}

}  // namespace tapegrad::cli
