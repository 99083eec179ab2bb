// `tapegrad predict` and `train` on hostile or unusual --data files and weights metadata:
// a FIFO, /dev/zero or a link to it is refused at once; a huge field is quoted in part; a stored
// scaler that cannot scale, and NaN or inf in the series, are refused (exit 2) instead of
// predicting NaN; a byte order mark is no data; a number beyond a double says so.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include "cli_util.hpp"

namespace tg = tapegrad;

using tg_test::check_usage_error;
using tg_test::contains;
using tg_test::lines_of;
using tg_test::quoted;
using tg_test::Result;
using tg_test::ScratchDir;
using tg_test::write_file;

#ifdef TAPEGRAD_CLI

namespace {

// `tapegrad <args>`, killed after 60 s: a read that blocks fails the test.
Result run_bounded(const ScratchDir& dir, const std::string& args) {
  return tg_test::run(dir, args, 60);
}

// A small model saved with `metadata` (as train's series_metadata writes it).
std::string saved_model(const ScratchDir& dir, const std::map<std::string, std::string>& metadata,
                        const std::string& name = "m.safetensors") {
  tg::manual_seed(1);
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 3), tg::nn::Dense(3, 1)};
  const std::string path = dir / name;
  tg::nn::save(model, path, metadata);
  return path;
}

// A series of n values 100, 110, ... as a header-less CSV.
std::string series_text(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) text += std::to_string(100 + 10 * i) + "\n";
  return text;
}

}  // namespace

TEST_CASE("predict and train refuse a FIFO, /dev/zero and a link to it as --data at once") {
  ScratchDir dir("cli-data-files");
  const std::string weights = saved_model(dir, {{"data.window", "3"}});
  const std::string fifo = dir / "fifo.csv", link = dir / "zero.csv";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::filesystem::create_symlink("/dev/zero", link);
  const std::string predict =
      "predict --weights " + quoted(weights) + " -o " + quoted(dir / "p.csv") + " --data ";
  check_usage_error(run_bounded(dir, predict + "/dev/zero"),
                    "'/dev/zero': it is a character device, not a regular file");
  check_usage_error(run_bounded(dir, predict + quoted(link)),
                    "it is a character device, not a regular file");
  check_usage_error(run_bounded(dir, predict + quoted(fifo)), "it is a FIFO, not a regular file");
  check_usage_error(run_bounded(dir, "train --epochs 1 --data " + quoted(fifo) + " --out-dir " +
                                         quoted(dir / "run")),
                    "it is a FIFO, not a regular file");
}

TEST_CASE("predict quotes a bounded part of a huge bad CSV field") {
  ScratchDir dir("cli-data-files");
  const std::string weights = saved_model(dir, {{"data.window", "3"}});
  const std::string csv = dir / "long.csv";
  write_file(csv, "1\n2\n" + std::string(5'000'000, '7') + "x\n3\n");
  const Result r = run_bounded(dir, "predict --weights " + quoted(weights) + " --data " +
                                        quoted(csv) + " -o " + quoted(dir / "p.csv"));
  check_usage_error(r, "(+4999937 bytes) is not a number");
  CHECK(r.err.size() < 400);
}

TEST_CASE("predict refuses a stored scaler that cannot scale, and a series holding NaN or inf") {
  ScratchDir dir("cli-data-files");
  const std::string csv = dir / "series.csv";
  write_file(csv, series_text(10));
  const auto predict = [&](const std::map<std::string, std::string>& metadata) {
    std::map<std::string, std::string> m = metadata;
    m.emplace("data.window", "3");
    return run_bounded(dir, "predict --weights " + quoted(saved_model(dir, m)) + " --data " +
                                quoted(csv) + " -o " + quoted(dir / "p.csv"));
  };
  // -1.7e308..1.7e308 scaled every value to -nan, with exit 0.
  check_usage_error(predict({{"data.scaler_min", "-1.7e308"}, {"data.scaler_max", "1.7e308"}}),
                    "hold no usable scaler: Scaler: the data range [-1.7e+308, 1.7e+308] is wider "
                    "than a double holds");
  // min above max was silently re-sorted while "Data:" printed [1000, 622].
  check_usage_error(predict({{"data.scaler_min", "1000"}, {"data.scaler_max", "622"}}),
                    "the data minimum 1000 is above the maximum 622");
  check_usage_error(predict({{"data.scaler_min", "0"}, {"data.scaler_max", "1e-320"}}),
                    "too narrow to scale by");
  // A range a double scales by, but the series (f32) lies so far outside it that it scales
  // to infinities.
  check_usage_error(
      predict({{"data.scaler_min", "0"}, {"data.scaler_max", "1e-37"}}),
      "value 0 of the series (100) lies too far outside the scaler's range [0, 1e-37] "
      "to be scaled (it becomes inf)");
  // NaN and inf in the series: train refused them, predict with a stored scaler took them.
  const std::map<std::string, std::string> good{{"data.scaler_min", "100"},
                                                {"data.scaler_max", "200"}};
  for (const std::string bad : {"nan", "inf", "-inf"}) {
    CAPTURE(bad);
    write_file(csv, "100\n110\n120\n" + bad + "\n130\n");
    check_usage_error(predict(good), "column -1: value 3 of the series is " + bad +
                                         "; a series must hold finite numbers");
  }
  write_file(csv, "100\n110\n120\nnan\n130\n140\n");
  check_usage_error(run_bounded(dir, "train --epochs 1 --window 2 --data " + quoted(csv) +
                                         " --out-dir " + quoted(dir / "run")),
                    "column -1: value 3 of the series is nan; a series must hold finite numbers");
  // The series and scaler that are fine still predict.
  write_file(csv, series_text(10));
  const Result ok = predict(good);
  CHECK_MESSAGE(ok.code == 0, ok.err);
  CHECK(contains(ok.out, "scaled by train's [100, 200]"));
}

TEST_CASE("predict reads a CSV that starts with a UTF-8 byte order mark") {
  ScratchDir dir("cli-data-files");
  const std::string weights =
      saved_model(dir, {{"data.window", "3"}, {"data.scaler_min", "0"}, {"data.scaler_max", "1"}});
  const std::string csv = dir / "bom.csv";
  // Header-less: the first value was lost (read as a header "\xEF\xBB\xBF100").
  write_file(csv, "\xEF\xBB\xBF" + series_text(6));
  const std::string predict = "predict --weights " + quoted(weights) + " --data " + quoted(csv) +
                              " -o " + quoted(dir / "p.csv");
  Result r = run_bounded(dir, predict);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, ": 6 values"));
  // With a header: "no column 'v' in the header 'v'".
  write_file(csv,
             "\xEF\xBB\xBF"
             "v\n" +
                 series_text(6));
  r = run_bounded(dir, predict + " --column v");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "column v: 6 values"));
}

// Found by fuzz_predict_csv (tests/fuzz/findings/predict_csv/f32-overflow-unscaled): an f32
// model's prediction unscaled by a range near float's lies beyond float's range, and predict
// wrote it as "inf".
TEST_CASE("predict writes a prediction beyond float's range as the number it is, not inf") {
  ScratchDir dir("cli-data-files");
  // A model whose output is always 5: zero weights, the Dense layer's bias (shape {1}) 5.
  const std::string path = saved_model(dir, {});
  std::map<std::string, std::string> metadata;
  std::map<std::string, tg::Tensor> tensors = tg::load_safetensors(path, &metadata);
  for (auto& [name, t] : tensors) {
    t = t.shape() == tg::Shape{1} ? tg::full({1}, 5.0) : tg::zeros(t.shape());
  }
  metadata["data.scaler_min"] = "-3e38";
  metadata["data.scaler_max"] = "3e38";
  metadata["data.window"] = "2";
  tg::save_safetensors(path, tensors, metadata);
  const std::string csv = dir / "series.csv";
  write_file(csv, "1\n2\n3\n");
  const Result r = run_bounded(dir, "predict --weights " + quoted(path) + " --data " + quoted(csv) +
                                        " -o " + quoted(dir / "p.csv"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  // 5 * (3e38 - -3e38) + -3e38
  CHECK(lines_of(tg_test::read_file(dir / "p.csv")) ==
        std::vector<std::string>{"sample,target,prediction", "0,3,2.7e+39"});
  const Result ahead =
      run_bounded(dir, "predict --weights " + quoted(path) + " --data " + quoted(csv) +
                           " --horizon 1 -o " + quoted(dir / "f.csv"));
  REQUIRE_MESSAGE(ahead.code == 0, ahead.err);
  CHECK(lines_of(tg_test::read_file(dir / "f.csv")).at(1) == "1,2.7e+39");
}

TEST_CASE("predict says a number beyond a double is out of range, not 'not a number'") {
  ScratchDir dir("cli-data-files");
  const std::string weights = saved_model(dir, {{"data.window", "3"}});
  const std::string csv = dir / "range.csv";
  write_file(csv, "v\n1\n2\n1e400\n3\n");
  check_usage_error(run_bounded(dir, "predict --weights " + quoted(weights) + " --data " +
                                         quoted(csv) + " -o " + quoted(dir / "p.csv")),
                    ":4: column 0: '1e400' is out of the range of f64");
}

#endif
