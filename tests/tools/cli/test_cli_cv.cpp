// `tapegrad cv`, run as a user runs it: the table and the two choices on stdout, the CSV
// with a row per candidate, the validation curve with an error bar per size, the same
// numbers on one thread and on two, and mistakes refused with one line and exit code 2
// before any training.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "cli_util.hpp"
#include "tools/viz/svg_util.hpp"

using tg_test::contains;
using tg_test::lines_of;
using tg_test::quoted;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;

#ifdef TAPEGRAD_CLI

namespace {

const std::string kAirline = std::string(TAPEGRAD_TEST_DATA_DIR) + "/airline-passengers.csv";

// The fold losses of the one candidate in a cv.csv: name,complexity,fold_0,..,mean,std,rank.
std::vector<double> fold_losses(const std::string& csv_path, int folds) {
  const std::vector<std::string> rows = lines_of(read_file(csv_path));
  REQUIRE(rows.size() == 2);
  std::vector<double> out;
  std::istringstream fields(rows[1]);
  std::string field;
  for (int i = 0; std::getline(fields, field, ','); ++i) {
    if (i >= 2 && i < 2 + folds) out.push_back(std::stod(field));
  }
  return out;
}

// A series of 40 values, times `factor`.
std::string series_csv(double factor) {
  std::string text = "value\n";
  for (int i = 0; i < 40; ++i) text += std::to_string(factor * (10 + (i * 7) % 13 + i)) + "\n";
  return text;
}

}  // namespace

TEST_CASE("tapegrad cv: the table, the choices, cv.csv and a validation curve with error bars") {
  ScratchDir dir("cli-cv");
  const Result r =
      tg_test::run(dir, "cv --units 2,3,5 --folds 2 --epochs 1 -o " + quoted(dir / "cv.csv") +
                            " --plot " + quoted(dir / "cv.svg"));
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  const std::vector<std::string> out = lines_of(r.out);
  REQUIRE(out.size() == 3 + 4 + 2 + 2);  // setup, table, choices, time and files
  CHECK(contains(out[0], "SimpleRNN(u) -> Dense(1) for u in 2,3,5"));
  CHECK(contains(out[2], "2 shuffled k-fold folds, seed 0, 1 jobs"));
  CHECK(out[3].rfind("candidate", 0) == 0);
  CHECK(contains(out[3], "fold_1"));
  CHECK(out[4].rfind("units=2 ", 0) == 0);
  CHECK(out[6].rfind("units=5 ", 0) == 0);
  CHECK(out[7].rfind("best: units=", 0) == 0);
  CHECK(out[8].rfind("one-standard-error choice: units=", 0) == 0);
  CHECK(contains(out[10], "cv.csv and "));

  const std::vector<std::string> csv = lines_of(read_file(dir / "cv.csv"));
  REQUIRE(csv.size() == 4);
  CHECK(csv[0] == "name,complexity,fold_0,fold_1,mean,std,rank");
  CHECK(csv[1].rfind("units=2,2,", 0) == 0);
  CHECK(csv[3].rfind("units=5,5,", 0) == 0);

  // The mean curve (3 points), a bar and two caps per size, the line best mean + std, and a
  // legend sample of each.
  const std::string svg = read_file(dir / "cv.svg");
  const auto lines = tg_test::svg_coloured_lines(svg);
  const auto count = [&](const std::string& stroke, std::size_t points) {
    return std::count_if(lines.begin(), lines.end(), [&](const tg_test::SvgLine& l) {
      return l.stroke == stroke && l.points == points;
    });
  };
  CHECK(count("#1F77B4", 3) == 1);
  CHECK(count("#1F77B4", 2) == 3 * 3 + 1);
  CHECK(count("#FF7F0E", 2) == 2);
  const auto texts = tg_test::svg_texts(svg);
  for (const char* text : {"units", "mean validation MSE +- std", "best mean + std"}) {
    CHECK_MESSAGE(std::find(texts.begin(), texts.end(), text) != texts.end(), text);
  }
}

TEST_CASE("tapegrad cv: a series split by time, the same CSV on one thread and on two") {
  ScratchDir dir("cli-cv");
  const std::string args = "cv --data " + quoted(kAirline) +
                           " --window 6 --split time --units 2,4 --folds 3 --epochs 2 --seed 5";
  const Result one = tg_test::run(dir, args + " --jobs 1 -o " + quoted(dir / "one.csv"));
  CAPTURE(one.err);
  REQUIRE(one.code == 0);
  CHECK(contains(one.out, "138 windows of 6"));
  CHECK(contains(one.out, "3 time-series folds, seed 5, 1 jobs"));
  const Result two = tg_test::run(dir, args + " --jobs 2 -o " + quoted(dir / "two.csv"));
  REQUIRE(two.code == 0);
  CHECK(contains(two.out, "2 jobs"));
  CHECK(read_file(dir / "one.csv") == read_file(dir / "two.csv"));
  CHECK(lines_of(read_file(dir / "one.csv")).size() == 3);
}

TEST_CASE("tapegrad cv --metrics mae,rmse: mean and std columns after the loss's, same losses") {
  ScratchDir dir("cli-cv");
  const std::string args =
      "cv --data " + quoted(kAirline) + " --window 6 --units 2,4 --folds 3 --epochs 2 --jobs 2 -o ";
  const Result plain = tg_test::run(dir, args + quoted(dir / "plain.csv"));
  REQUIRE(plain.code == 0);
  const Result r = tg_test::run(dir, args + quoted(dir / "cv.csv") + " --metrics mae,rmse");
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "Losses and metrics: validation MSE, mae, rmse in the series' unit"));
  CHECK(contains(r.out, "rank    mean_mae     std_mae   mean_rmse    std_rmse\n"));
  const std::vector<std::string> csv = lines_of(read_file(dir / "cv.csv"));
  const std::vector<std::string> without = lines_of(read_file(dir / "plain.csv"));
  REQUIRE(csv.size() == 3);
  REQUIRE(without.size() == 3);
  CHECK(without[0] == "name,complexity,fold_0,fold_1,fold_2,mean,std,rank");
  CHECK(csv[0] == without[0] + ",mean_mae,std_mae,mean_rmse,std_rmse");
  for (std::size_t row = 1; row < 3; ++row) {
    CAPTURE(csv[row]);
    REQUIRE(csv[row].rfind(without[row] + ",", 0) == 0);  // the loss's columns unchanged
    std::vector<double> metrics;
    std::istringstream fields(csv[row].substr(without[row].size() + 1));
    for (std::string field; std::getline(fields, field, ',');) metrics.push_back(std::stod(field));
    REQUIRE(metrics.size() == 4);
    // In the series' unit (passengers, some hundreds): an error of some passengers, and the
    // mean RMSE at least the mean MAE (it is so per fold).
    CHECK(metrics[0] > 1);
    CHECK(metrics[2] >= metrics[0]);
  }
  const Result unknown = tg_test::run(dir, args + quoted(dir / "x.csv") + " --metrics mae,mse");
  CHECK(unknown.code == 2);
  CHECK(contains(unknown.err, "--metrics"));
}

TEST_CASE("tapegrad cv on a series: split by time by default, each fold scaled by its own past") {
  // The airline series peaks at 622 in its last fold's validation windows. Each fold's
  // scaler must come from its training windows alone (time folds of the 138 windows of 6
  // train on windows 0..35, 0..69 and 0..103, which see values 0..41, 0..75 and 0..109):
  // before, one scaler fitted on the whole series, [104, 622], scaled every fold.
  ScratchDir dir("cli-cv");
  const Result r = tg_test::run(dir, "cv --data " + quoted(kAirline) +
                                         " --window 6 --units 2 --folds 3 --epochs 1 -o " +
                                         quoted(dir / "cv.csv"));
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CAPTURE(r.out);
  CHECK(contains(r.out,
                 "Folds: 3 time-series folds (the default for a series: --split kfold "
                 "shuffles), seed 0, 1 jobs"));
  CHECK(contains(r.out,
                 "138 windows of 6, min-max scaled to [0, 1] per fold by its training "
                 "windows alone"));
  CHECK(contains(r.out,
                 "Scalers fitted on each fold's training windows: fold_0 [104, 218], "
                 "fold_1 [104, 302], fold_2 [104, 467]\n"));
  CHECK(!contains(r.out, "622"));
  CHECK(contains(r.out, "Losses: validation MSE in the series' unit"));

  // Shuffled folds on a series only when asked for, and then the output says what they do.
  const Result kfold = tg_test::run(dir, "cv --data " + quoted(kAirline) +
                                             " --window 6 --units 2 --folds 3 --epochs 1 "
                                             "--split kfold -o " +
                                             quoted(dir / "cv.csv"));
  REQUIRE(kfold.code == 0);
  CHECK(contains(kfold.out,
                 "Folds: 3 shuffled k-fold folds (shuffled: folds train on windows "
                 "after the ones they validate)"));
}

TEST_CASE("tapegrad cv on a series: the losses are in the series' unit") {
  // The same series in units 1000 times smaller: each fold's scaler maps both to the same
  // scaled windows, so training is the same and the validation MSE, taken in the series'
  // unit, is 10^6 times larger. Before, the losses were in each fold's scaled unit (the same
  // for both series, and not comparable between folds).
  ScratchDir dir("cli-cv");
  tg_test::write_file(dir / "one.csv", series_csv(1));
  tg_test::write_file(dir / "thousand.csv", series_csv(1000));
  const auto losses = [&](const std::string& name) {
    const Result r =
        tg_test::run(dir, "cv --data " + quoted(dir / (name + ".csv")) +
                              " --window 3 --units 2 --folds 2 --epochs 2 --split time -o " +
                              quoted(dir / (name + "-cv.csv")));
    CAPTURE(r.err);
    REQUIRE(r.code == 0);
    return fold_losses(dir / (name + "-cv.csv"), 2);
  };
  const std::vector<double> one = losses("one"), thousand = losses("thousand");
  REQUIRE(one.size() == 2);
  REQUIRE(thousand.size() == 2);
  for (std::size_t f = 0; f < 2; ++f) {
    CAPTURE(f);
    CHECK(one[f] > 0);
    CHECK(thousand[f] / one[f] == doctest::Approx(1e6).epsilon(1e-3));
  }
}

TEST_CASE("tapegrad cv: every fold diverging is one line on stderr and exit code 2") {
  // Every fold's loss is +inf, the std of {inf, inf} NaN: before, the one-standard-error
  // choice was an index past the end and the table segfaulted.
  ScratchDir dir("cli-cv");
  const Result r = tg_test::run(
      dir, "cv --units 2,4 --folds 2 --epochs 3 --lr 1e19 -o " + quoted(dir / "cv.csv"));
  CHECK(r.code == 2);
  CHECK(lines_of(r.err).size() == 1);
  CHECK_MESSAGE(contains(r.err,
                         "grid_search: no candidate trained to a finite mean validation "
                         "loss ('units=2': "),
                r.err);
  CHECK_MESSAGE(contains(r.err, "nothing to choose; try a lower learning rate"), r.err);
  CHECK(!std::filesystem::exists(dir / "cv.csv"));
}

TEST_CASE("tapegrad cv: a candidate that diverged ranks last and has no point on the chart") {
  // With lr 1e18 the 64-unit model's every fold is +inf, the 1-unit one's stays finite.
  ScratchDir dir("cli-cv");
  const Result r =
      tg_test::run(dir, "cv --units 1,64 --folds 2 --epochs 1 --lr 1e18 -o " +
                            quoted(dir / "cv.csv") + " --plot " + quoted(dir / "cv.svg"));
  CAPTURE(r.err);
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  const std::vector<std::string> out = lines_of(r.out);
  REQUIRE(out.size() == 3 + 3 + 2 + 2);
  CHECK(out[5].rfind("units=64 ", 0) == 0);
  CHECK(contains(out[5], "inf"));
  CHECK(out[5].back() == '2');  // its rank
  CHECK(out[6].rfind("best: units=1 ", 0) == 0);
  CHECK(out[7].rfind("one-standard-error choice: units=1 ", 0) == 0);
  // The curve is the one finite point: no line through it, its error bar and caps.
  const auto lines = tg_test::svg_coloured_lines(read_file(dir / "cv.svg"));
  CHECK(std::none_of(lines.begin(), lines.end(), [](const tg_test::SvgLine& l) {
    return l.stroke == "#1F77B4" && l.points > 2;
  }));
}

TEST_CASE("tapegrad cv: bad input, one line on stderr and exit code 2, before training") {
  ScratchDir dir("cli-cv");
  const std::string csv = quoted(dir / "cv.csv");
  const auto check_error = [&](const std::string& args, const std::string& expected) {
    CAPTURE(args);
    Result r = tg_test::run(dir, "cv " + args + " -o " + csv);
    r.out.clear();  // the data's summary may come first: grid_search checks the folds
    tg_test::check_usage_error(r, expected);
  };
  check_error("--folds 200", "grid_search: 100 samples are fewer than folds = 200");
  tg_test::write_file(dir / "short.csv", "value\n1\n2\n3\n4\n5\n6\n7\n8\n");
  check_error("--data " + quoted(dir / "short.csv") + " --window 2 --split time --folds 6",
              "a time split of 6 samples into 6 folds leaves no validation data");
  check_error("--units ,", "--units");
  check_error("--units 8,0", "--units: must be a whole number > 0, got '0'");
  check_error("--split random", "--split: random not in {kfold,time}");
  check_error("--folds 1", "--folds");
  check_error("--jobs -1", "--jobs");
  check_error("--timeout 0", "--timeout: must be a number > 0, got '0'");
  check_error("--plot " + quoted(dir / "cv.jpg"),
              "unknown chart extension '.jpg' (use .svg, .png or .pdf)");
  check_error("--window 4", "--window requires --data");
  tg_test::write_file(dir / "nan.csv", "value\n1\n2\n3\n4\n5\n6\nnan\n8\n");
  check_error("--data " + quoted(dir / "nan.csv") + " --window 2 --folds 2",
              "value 6 of the series is nan; a series must hold finite numbers");
  check_error("--data " + quoted(dir / "short.csv") + " --window 8",
              "short.csv' has 8 values, --window 8 needs at least 9 (a window and the value after "
              "it)");
  CHECK(!std::filesystem::exists(dir / "cv.csv"));
}

#endif
