// Several input columns (--columns a,b,c --target c): train reads windows of shape (samples,
// window, columns), each column scaled by its own min and max, and keeps the columns and
// their scalers in the weights file; predict rebuilds the same inputs from it and predicts
// one step; cv cross-validates on them.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/tapegrad.hpp>

#include "cli_util.hpp"

namespace tg = tapegrad;

using tg_test::check_usage_error;
using tg_test::contains;
using tg_test::lines_of;
using tg_test::quoted;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;
using tg_test::write_file;

#ifdef TAPEGRAD_CLI

namespace {

constexpr int kRows = 30;

double value_a(int i) {
  return 100 + 10 * i;
}
double value_b(int i) {
  return std::sin(i) * 0.5;
}
double value_c(int i) {
  return 1000 - 3 * i;
}

// Columns of very different scales, so one shared scaler would squash two of them.
std::string write_series(const ScratchDir& dir) {
  std::string text = "a,b,c\n";
  for (int i = 0; i < kRows; ++i) {
    text += fmt::format("{},{},{}\n", value_a(i), value_b(i), value_c(i));
  }
  const std::string path = dir / "abc.csv";
  write_file(path, text);
  return path;
}

double field(const std::string& path, std::size_t row, std::size_t column) {
  std::string line = lines_of(read_file(path)).at(row);
  for (std::size_t i = 0; i < column; ++i) line = line.substr(line.find(',') + 1);
  return std::strtod(line.c_str(), nullptr);
}

}  // namespace

TEST_CASE("train --columns: one scaler per column, kept in the weights for predict") {
  ScratchDir dir("cli-columns");
  const std::string csv = write_series(dir);
  const Result train =
      tg_test::run(dir, "train --units 3 --epochs 2 --window 4 --data " + quoted(csv) +
                            " --columns a,b,c --target a --out-dir " + quoted(dir / "run"));
  REQUIRE_MESSAGE(train.code == 0, train.err);
  CHECK(contains(train.out, "columns a,b,c (each scaled by its own min and max), target a"));
  const std::string weights = dir / "run/model.safetensors";
  const tg::nn::ModelFileInfo info = tg::nn::read_model_info(weights);
  CHECK(info.input_features == 3);
  CHECK(info.metadata.at("data.columns") == "a,b,c");
  CHECK(info.metadata.at("data.target") == "a");
  // Scalers fitted on the whole series (no validation split): each column's own range.
  const std::string mins = info.metadata.at("data.column_mins");
  CHECK(mins.rfind("100,", 0) == 0);
  CHECK(contains(mins, fmt::format(",{}", value_c(kRows - 1))));
  CHECK(info.metadata.at("data.scaler_min") == "100");  // the target's, as for one column
  CHECK(info.metadata.at("data.scaler_max") == fmt::format("{}", value_a(kRows - 1)));

  // predict reads the columns from the file and rebuilds the same scaled windows.
  const Result predict = tg_test::run(dir, "predict " + quoted(weights) + " --data " + quoted(csv) +
                                               " -o " + quoted(dir / "p.csv"));
  REQUIRE_MESSAGE(predict.code == 0, predict.err);
  const std::vector<std::string> rows = lines_of(read_file(dir / "p.csv"));
  REQUIRE(rows.size() == 1 + kRows - 4);
  CHECK(field(dir / "p.csv", 1, 1) == doctest::Approx(value_a(4)));  // the target: a's next value

  const auto model = tg::nn::load_model(weights);
  model->eval();
  const auto lo_hi = [&](const std::string& key) {
    std::vector<double> out;
    std::string text = info.metadata.at(key);
    for (std::size_t start = 0;;) {
      const auto comma = text.find(',', start);
      out.push_back(std::stod(text.substr(start, comma - start)));
      if (comma == std::string::npos) return out;
      start = comma + 1;
    }
  };
  const std::vector<double> min = lo_hi("data.column_mins"), max = lo_hi("data.column_maxs");
  std::vector<double> window;
  for (int t = 0; t < 4; ++t) {
    const double raw[3] = {value_a(t), value_b(t), value_c(t)};
    for (int j = 0; j < 3; ++j) window.push_back((raw[j] - min[j]) / (max[j] - min[j]));
  }
  double expected = 0;
  {
    tg::NoGradGuard no_grad;
    expected = (*model)(tg::from_vector(window, {1, 4, 3}).to(tg::f32)).item();
  }
  CHECK(field(dir / "p.csv", 1, 2) ==
        doctest::Approx(expected * (max[0] - min[0]) + min[0]).epsilon(1e-4));

  check_usage_error(dir, "predict " + quoted(weights) + " --data " + quoted(csv) + " --horizon 3",
                    "--horizon: a model of several input columns forecasts one step");
  check_usage_error(dir, "predict " + quoted(weights) + " --data " + quoted(csv) + " --column a",
                    "reads the columns a,b,c; give them with --columns");
  check_usage_error(dir, "predict " + quoted(weights) + " --data " + quoted(csv) + " --columns a,b",
                    "takes 3 input features; --columns a,b gives 2");
}

TEST_CASE("--target defaults to the last column; --columns refuses what it cannot read") {
  ScratchDir dir("cli-columns");
  const std::string csv = write_series(dir);
  const Result train =
      tg_test::run(dir, "train --units 2 --epochs 1 --window 3 --verbose 0 --data " + quoted(csv) +
                            " --columns 0,1,c --out-dir " + quoted(dir / "run"));
  REQUIRE_MESSAGE(train.code == 0, train.err);
  const tg::nn::ModelFileInfo info = tg::nn::read_model_info(dir / "run/model.safetensors");
  CHECK(info.metadata.at("data.target") == "c");
  CHECK(info.metadata.at("data.scaler_max") == "1000");

  check_usage_error(dir, "train --data " + quoted(csv) + " --columns a,b --target c",
                    "--target: 'c' is not one of --columns a,b");
  check_usage_error(dir, "train --data " + quoted(csv) + " --columns a,x",
                    "no column 'x' in the header");
  check_usage_error(dir, "train --data " + quoted(csv) + " --columns a,b --column c", "excludes");
  check_usage_error(dir, "train --target a", "--target requires --columns");
  check_usage_error(dir, "train --columns a,b", "--columns requires --data");
}

TEST_CASE("cv --columns cross-validates a model of several inputs, scaled per column and fold") {
  ScratchDir dir("cli-columns");
  const std::string csv = write_series(dir);
  const Result cv =
      tg_test::run(dir, "cv --units 2,3 --folds 2 --epochs 1 --window 3 --data " + quoted(csv) +
                            " --columns a,b,c -o " + quoted(dir / "cv.csv"));
  REQUIRE_MESSAGE(cv.code == 0, cv.err);
  CHECK(contains(cv.out, "columns a,b,c, target c"));
  // Each fold's target scaler covers c's range, not a's or b's.
  CHECK(contains(cv.out, "fold_0 [9"));
  CHECK(lines_of(read_file(dir / "cv.csv")).size() == 3);
}

#endif
