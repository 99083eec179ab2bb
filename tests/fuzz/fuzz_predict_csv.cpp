// libFuzzer target: a CSV series through `tapegrad predict --data`'s own code
// (cli::predict_series: reading, the finite check, scaling, windows, prediction or the
// forecast fed back) with a small model saved once, as train saves it.
//
// The first byte picks how predict is asked: bit 0 a weights file with train's scaler
// [100, 700] or one without (the scaler is then fitted on the series), bits 1-2 --horizon
// (0: one prediction per window), bits 3-5 --window (0: the file's, 4). The rest is the CSV.
// Beyond "only tg::Error": a prediction that succeeds has one row per window (or step), and
// every predicted number is finite (the model's weights are, and the scaler must keep them).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "fuzz_support.hpp"
#include "predict.hpp"

namespace {

namespace tg = tapegrad;
namespace cli = tapegrad::cli;

// A model file as train writes it, loaded as predict loads it.
struct SavedModel {
  std::string path;
  tg::nn::ModelFileInfo info;
  std::shared_ptr<tg::nn::Module> model;

  SavedModel(const std::string& name, bool with_scaler) : path(fuzz::scratch_path(name)) {
    tg::manual_seed(3);
    tg::nn::Sequential trained{tg::nn::SimpleRNN(1, 3), tg::nn::Dense(3, 1)};
    std::map<std::string, std::string> metadata{{"data.window", "4"}};
    if (with_scaler) {
      metadata.emplace("data.scaler_min", "100");
      metadata.emplace("data.scaler_max", "700");
    }
    tg::nn::save(trained, path, metadata);
    info = tg::nn::read_model_info(path);
    model = tg::nn::load_model(path);
    model->eval();
    // predict_series names the file in messages only; nothing is left behind in /dev/shm.
    std::filesystem::remove(path);
  }
};

// The last field of a row: the prediction.
double prediction_of(const std::string& row) {
  return std::strtod(row.c_str() + row.rfind(',') + 1, nullptr);
}

void check_table(const cli::Table& t, int64_t values, const cli::PredictConfig& c, int64_t window) {
  const int64_t expected = c.horizon > 0 ? c.horizon : values - window;
  if (static_cast<int64_t>(t.rows.size()) != expected) {
    fuzz::finding("predict gave " + std::to_string(t.rows.size()) + " rows, expected " +
                  std::to_string(expected));
  }
  for (const std::string& row : t.rows) {
    if (!std::isfinite(prediction_of(row))) fuzz::finding("a prediction is not finite: " + row);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const SavedModel with_scaler("predict_scaled.safetensors", true);
  static const SavedModel without_scaler("predict_unscaled.safetensors", false);
  static fuzz::InputFile file;
  if (size == 0) return 0;
  const std::uint8_t how = data[0];
  const SavedModel& saved = (how & 1) ? with_scaler : without_scaler;
  cli::PredictConfig c;
  c.weights = saved.path;
  c.data.path = file.write(data + 1, size - 1);
  c.horizon = (how >> 1) & 3;
  c.window_given = ((how >> 3) & 7) != 0;
  if (c.window_given) c.data.window = (how >> 3) & 7;
  const int64_t window = c.window_given ? c.data.window : 4;
  fuzz::run_one([&] {
    const cli::Table t = cli::predict_series(*saved.model, saved.info, c);
    // The series predict read: the last column, as it reads it by default.
    const int64_t values = tg::data::read_csv_column(c.data.path, -1).numel();
    check_table(t, values, c, window);
  });
  return 0;
}
