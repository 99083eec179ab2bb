// `tapegrad predict`, run as a user runs it: the model rebuilt from the weights
// file alone predicts the reference data train draws (same seed, same numbers as the library
// gives), a CSV series window by window or --horizon steps past its end, scaled as train
// recorded in the file (or, without a record, fitted on the series, and said so); bad input
// gives one line and exit code 2.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include "cli_util.hpp"

namespace tg = tapegrad;

using tg_test::contains;
using tg_test::lines_of;
using tg_test::quoted;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;
using tg_test::write_file;

#ifdef TAPEGRAD_CLI

namespace {

const std::string kAirline = std::string(TAPEGRAD_TEST_DATA_DIR) + "/airline-passengers.csv";

// Field `column` of CSV row `row` (0 = header) of `path`, as a number.
double field(const std::string& path, std::size_t row, std::size_t column) {
  std::string line = lines_of(read_file(path)).at(row);
  for (std::size_t i = 0; i < column; ++i) line = line.substr(line.find(',') + 1);
  return std::strtod(line.c_str(), nullptr);
}

// The model's output for one (1, T, 1) window of already scaled values.
double output_for(tg::nn::Module& model, const std::vector<double>& window) {
  tg::NoGradGuard no_grad;
  const int64_t t = static_cast<int64_t>(window.size());
  return model(tg::from_vector(window, {1, t, 1}).to(tg::f32)).item();
}

// A small model trained for one epoch on the airline series, windows of 6, into dir/run.
Result train_airline(const ScratchDir& dir) {
  return tg_test::run(dir, "train --data " + quoted(kAirline) +
                               " --window 6 --units 3 --epochs 1 --verbose 0 --out-dir " +
                               quoted(dir / "run"));
}

}  // namespace

TEST_CASE("tapegrad predict: the reference data of train, by the model rebuilt from its file") {
  ScratchDir dir("cli-predict");
  Result r =
      tg_test::run(dir, "train --units 4 --epochs 1 --verbose 0 --out-dir " + quoted(dir / "run"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string weights = dir / "run/model.safetensors", pred = dir / "pred.csv";
  r = tg_test::run(dir, "predict --weights " + quoted(weights) + " -o " + quoted(pred));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "Model: SimpleRNN(4) -> Dense(1)"));
  CHECK(contains(r.out, "(100 rows)"));
  const std::vector<std::string> rows = lines_of(read_file(pred));
  REQUIRE(rows.size() == 101);
  CHECK(rows[0] == "sample,target,prediction");

  // The same data as train draws with seed 0, and the library's own prediction of it.
  tg::manual_seed(0);
  const tg::Tensor X = tg::rand({100, 10, 1}), y = tg::rand({100, 1});
  const auto model = tg::nn::load_model(weights);
  tg::Tensor p;
  {
    tg::NoGradGuard no_grad;
    p = (*model)(X).contiguous();
  }
  for (std::size_t i : {std::size_t{0}, std::size_t{57}, std::size_t{99}}) {
    CHECK(field(pred, i + 1, 0) == doctest::Approx(static_cast<double>(i)));
    CHECK(field(pred, i + 1, 1) == doctest::Approx(y.data<float>()[i]).epsilon(1e-6));
    CHECK(field(pred, i + 1, 2) == doctest::Approx(p.data<float>()[i]).epsilon(1e-6));
  }

  // Its metrics, beside the naive forecast of each sequence's last value.
  CHECK(contains(r.out, "Metrics of 100 predictions, of the random targets"));
  double model_mae = 0, naive_mae = 0;
  for (int64_t i = 0; i < 100; ++i) {
    model_mae += std::abs(y.data<float>()[i] - p.data<float>()[i]) / 100.0;
    naive_mae += std::abs(y.data<float>()[i] - X.data<float>()[i * 10 + 9]) / 100.0;
  }
  std::string label;
  double printed_model = 0, printed_naive = 0;
  for (const std::string& line : lines_of(r.out)) {
    if (line.rfind("MAE ", 0) == 0)
      std::istringstream(line) >> label >> printed_model >> printed_naive;
  }
  CHECK(printed_model == doctest::Approx(model_mae).epsilon(1e-3));
  CHECK(printed_naive == doctest::Approx(naive_mae).epsilon(1e-3));

  // Another seed draws other data.
  r = tg_test::run(
      dir, "predict --seed 7 --weights " + quoted(weights) + " -o " + quoted(dir / "seed7.csv"));
  REQUIRE(r.code == 0);
  CHECK(field(dir / "seed7.csv", 1, 1) != field(pred, 1, 1));
}

TEST_CASE("tapegrad predict --data: one row per window; --horizon feeds predictions back") {
  ScratchDir dir("cli-predict");
  Result r = train_airline(dir);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string weights = dir / "run/model.safetensors";
  const std::string common =
      "predict --weights " + quoted(weights) + " --data " + quoted(kAirline) + " --window 6 -o ";
  r = tg_test::run(dir, common + quoted(dir / "w.csv"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const tg::Tensor series = tg::data::read_csv_column(kAirline, "passengers", tg::f64);
  const std::vector<std::string> rows = lines_of(read_file(dir / "w.csv"));
  REQUIRE(rows.size() == 1 + 144 - 6);
  CHECK(rows[0] == "sample,target,prediction");
  CHECK(field(dir / "w.csv", 1, 1) == series.data<double>()[6]);      // 1949-07: 148
  CHECK(field(dir / "w.csv", 138, 1) == series.data<double>()[143]);  // the last value
  // train stored its scaler (fitted on the whole series: no validation split) in the weights.
  CHECK(contains(r.out, "scaled by train's [104, 622]"));

  // Forecast: step 1 is the model's prediction on the last window, in passengers.
  r = tg_test::run(dir, common + quoted(dir / "f.csv") + " --horizon 3");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::vector<std::string> ahead = lines_of(read_file(dir / "f.csv"));
  REQUIRE(ahead.size() == 4);
  CHECK(ahead[0] == "step,prediction");
  const auto model = tg::nn::load_model(weights);
  const double lo = 104, hi = 622;  // the series' min and max
  std::vector<double> last;
  for (int64_t i = 138; i < 144; ++i) last.push_back((series.data<double>()[i] - lo) / (hi - lo));
  const double first = output_for(*model, last) * (hi - lo) + lo;
  CHECK(field(dir / "f.csv", 1, 1) == doctest::Approx(first).epsilon(1e-5));
  last.erase(last.begin());
  last.push_back((first - lo) / (hi - lo));
  CHECK(field(dir / "f.csv", 2, 1) ==
        doctest::Approx(output_for(*model, last) * (hi - lo) + lo).epsilon(1e-5));
}

TEST_CASE("tapegrad predict scales a series by the scaler and window the file records") {
  ScratchDir dir("cli-predict");
  tg::manual_seed(1);
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 3), tg::nn::Dense(3, 1)};
  const std::string weights = dir / "m.safetensors";
  tg::nn::save(model, weights,
               {{"data.scaler_min", "100"}, {"data.scaler_max", "700"}, {"data.window", "4"}});
  const Result r = tg_test::run(dir, "predict --weights " + quoted(weights) + " --data " +
                                         quoted(kAirline) + " -o " + quoted(dir / "p.csv"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "scaled by train's [100, 700], window 4"));
  REQUIRE(lines_of(read_file(dir / "p.csv")).size() == 1 + 144 - 4);
  const tg::Tensor series = tg::data::read_csv_column(kAirline, "passengers", tg::f64);
  std::vector<double> first;
  for (int64_t i = 0; i < 4; ++i) first.push_back((series.data<double>()[i] - 100) / 600);
  CHECK(field(dir / "p.csv", 1, 2) ==
        doctest::Approx(output_for(model, first) * 600 + 100).epsilon(1e-5));
}

// The metrics predict prints, computed here from their definitions: MAE, RMSE, MAPE (%), R2.
std::vector<double> metrics_of(const std::vector<double>& target, const std::vector<double>& pred) {
  const double n = static_cast<double>(target.size());
  double abs_sum = 0, sq_sum = 0, pct_sum = 0, mean = 0;
  for (double y : target) mean += y / n;
  double total = 0;
  for (std::size_t i = 0; i < target.size(); ++i) {
    const double d = pred[i] - target[i];
    abs_sum += std::abs(d);
    sq_sum += d * d;
    pct_sum += 100 * std::abs(d) / std::abs(target[i]);
    total += (target[i] - mean) * (target[i] - mean);
  }
  return {abs_sum / n, std::sqrt(sq_sum / n), pct_sum / n, 1 - sq_sum / total};
}

// The last `count` whitespace-separated fields of a line, as numbers.
std::vector<double> last_numbers(const std::string& line, std::size_t count) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  std::vector<double> out;
  for (std::size_t i = words.size() - count; i < words.size(); ++i)
    out.push_back(std::stod(words[i]));
  return out;
}

TEST_CASE("tapegrad predict --data: metrics in passengers beside the naive last-value forecast") {
  ScratchDir dir("cli-predict");
  Result r = train_airline(dir);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  r = tg_test::run(dir, "predict --weights " + quoted(dir / "run/model.safetensors") + " --data " +
                            quoted(kAirline) + " -o " + quoted(dir / "p.csv"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::vector<std::string> out = lines_of(r.out);
  const auto title = std::find_if(out.begin(), out.end(), [](const std::string& line) {
    return line.starts_with("Metrics of 138 predictions");
  });
  REQUIRE_MESSAGE(out.end() - title == 5, r.out);
  CHECK(contains(*title, "model"));
  CHECK(contains(*title, "naive (last value)"));
  const char* labels[] = {"MAE", "RMSE", "MAPE (%)", "R2"};
  for (std::size_t k = 0; k < 4; ++k) {
    CHECK(title[static_cast<std::ptrdiff_t>(k + 1)].starts_with(labels[k]));
    CHECK(title[static_cast<std::ptrdiff_t>(k + 1)].size() == title->size());  // aligned
  }

  // The model's predictions (p.csv, in passengers) and the naive ones, each window's last value.
  const std::vector<double> series =
      tg::data::read_csv_column(kAirline, "passengers", tg::f64).to_vector<double>();
  std::vector<double> target, model, naive;
  for (std::size_t i = 0; i < 138; ++i) {
    target.push_back(series[i + 6]);
    naive.push_back(series[i + 5]);
    model.push_back(field(dir / "p.csv", i + 1, 2));
    REQUIRE(field(dir / "p.csv", i + 1, 1) == target.back());
  }
  const std::vector<double> want_model = metrics_of(target, model),
                            want_naive = metrics_of(target, naive);
  for (std::size_t k = 0; k < 4; ++k) {
    CAPTURE(labels[k]);
    const std::vector<double> got = last_numbers(title[static_cast<std::ptrdiff_t>(k + 1)], 2);
    CHECK(got[0] == doctest::Approx(want_model[k]).epsilon(1e-4));
    CHECK(got[1] == doctest::Approx(want_naive[k]).epsilon(1e-4));
  }
  // The airline series' naive forecast misses by 26.47 passengers a month on average.
  CHECK(want_naive[0] == doctest::Approx(26.471014).epsilon(1e-6));

  // A forecast past the series' end has no targets: no metrics.
  r = tg_test::run(dir, "predict --weights " + quoted(dir / "run/model.safetensors") + " --data " +
                            quoted(kAirline) + " --horizon 2 -o " + quoted(dir / "f.csv"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK_FALSE(contains(r.out, "Metrics of"));
}

TEST_CASE("tapegrad predict: bad input gives one line and exit code 2") {
  ScratchDir dir("cli-predict");
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 3), tg::nn::Dense(3, 1)};
  const std::string good = dir / "good.safetensors", old = dir / "old.safetensors",
                    junk = dir / "junk.safetensors", bad_scaler = dir / "scaler.safetensors";
  tg::nn::save(model, good);
  std::map<std::string, tg::Tensor> tensors;
  for (const auto& [name, p] : model.named_parameters()) tensors.emplace(name, p);
  tg::save_safetensors(old, tensors);  // no model config
  write_file(junk, "not a safetensors file");
  tg::nn::save(model, bad_scaler, {{"data.scaler_min", "abc"}, {"data.scaler_max", "1"}});
  const std::string o = " -o " + quoted(dir / "p.csv");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"predict" + o, "--weights is required"},
      {"predict --weights " + quoted(dir / "none") + o, "does not exist"},
      {"predict --weights " + quoted(dir.path.string()) + o, "directory"},
      {"predict --weights " + quoted(old) + o, "holds no model config"},
      {"predict --weights " + quoted(junk) + o, "load_safetensors"},
      {"predict --weights " + quoted(good) + " --data " + quoted(kAirline) + " --horizon 0" + o,
       "--horizon"},
      {"predict --weights " + quoted(good) + " --horizon 2" + o, "--horizon requires --data"},
      {"predict --weights " + quoted(good) + " --data " + quoted(dir / "none.csv") + o,
       "does not exist"},
      {"predict --weights " + quoted(good) + " --data " + quoted(dir.path.string()) + o,
       "directory"},
      {"predict --weights " + quoted(good) + " --data " + quoted(kAirline) + " --window 500" + o,
       "needs at least 501"},
      {"predict --weights " + quoted(bad_scaler) + " --data " + quoted(kAirline) + o,
       "metadata 'data.scaler_min' is not a number: 'abc'"},
  };
  for (const auto& [args, expected] : cases) tg_test::check_usage_error(dir, args, expected);
  CHECK_FALSE(std::filesystem::exists(dir / "p.csv"));
}

#endif
