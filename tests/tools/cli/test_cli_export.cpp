// `tapegrad export FILE --to torch -o OUT`: a weights file from train in PyTorch's names and
// layouts, with the model config and train's scaler and window in its metadata; bad input
// refused with one line and exit code 2. The file loaded into PyTorch itself and its
// predictions compared with `tapegrad predict` is tests/tools/export/test_load_torch.py.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include "cli_util.hpp"

namespace tg = tapegrad;

using tg_test::lines_of;
using tg_test::quoted;
using tg_test::Result;
using tg_test::ScratchDir;
using tg_test::write_file;

#ifdef TAPEGRAD_CLI

namespace {

const std::string kAirline = std::string(TAPEGRAD_TEST_DATA_DIR) + "/airline-passengers.csv";

// The prediction column of a `sample,target,prediction` CSV.
std::vector<double> predictions(const std::string& csv) {
  std::vector<double> out;
  const std::vector<std::string> lines = lines_of(csv);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    out.push_back(std::stod(lines[i].substr(lines[i].rfind(',') + 1)));
  }
  return out;
}

}  // namespace

TEST_CASE("tapegrad export --to torch: torch's names and layouts, the scaler and window kept") {
  ScratchDir dir("cli-export");
  Result r =
      tg_test::run(dir, "train --cell gru --units 8,4 --epochs 1 --verbose 0 --data " +
                            quoted(kAirline) + " --window 6 --out-dir " + quoted(dir / "run"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string weights = dir / "run/model.safetensors", out = dir / "m.safetensors";
  r = tg_test::run(dir, "export " + quoted(weights) + " --to torch -o " + quoted(out));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out == "Model: GRU(8) -> GRU(4) -> Dense(1)\nWrote " + out +
                     " (PyTorch names and layouts, 10 tensors)\n");

  std::map<std::string, std::string> metadata;
  const std::vector<tg::SafetensorsEntry> entries = tg::read_safetensors_header(out, &metadata);
  std::map<std::string, tg::Shape> shapes;
  for (const tg::SafetensorsEntry& e : entries) shapes.emplace(e.name, e.shape);
  CHECK(shapes.at("0.weight_ih_l0") == tg::Shape{24, 1});  // GRU: 3 gates of 8, (3u, F)
  CHECK(shapes.at("1.weight_hh_l0") == tg::Shape{12, 4});
  CHECK(shapes.at("1.bias_hh_l0") == tg::Shape{12});
  CHECK(shapes.at("2.weight") == tg::Shape{1, 4});
  const tg::nn::ModelFileInfo source = tg::nn::read_model_info(weights);
  for (const char* key :
       {"data.scaler_min", "data.scaler_max", "data.window", tg::nn::kModelConfigKey}) {
    CAPTURE(key);
    CHECK(metadata.at(key) == source.metadata.at(key));
  }
  CHECK(metadata.at("data.window") == "6");
  CHECK(metadata.at("format") == "pt");

  // Imported back, the weights are the trained model's.
  const auto trained = tg::nn::load_model(weights);
  const auto imported = tg::nn::clone_model(*trained);
  tg::nn::import_torch(*imported, out);
  const tg::NamedTensors a = trained->named_parameters(), b = imported->named_parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    CHECK(a[i].second.to_vector<float>() == b[i].second.to_vector<float>());
  }
}

// The layers train does not build, through tools/export/load_torch.py into PyTorch (Debian's
// /usr/bin/python3 with python3-torch; skipped without it). The CLI's models are compared
// with `tapegrad predict` by tests/tools/export/test_load_torch.py.
TEST_CASE("load_torch.py: Bidirectional, go_backwards, relu and Dense activations as in tapegrad") {
  if (std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: /usr/bin/python3 cannot import torch and numpy");
    return;
  }
  ScratchDir dir("cli-export");
  tg::manual_seed(3);
  tg::nn::Sequential model{
      tg::nn::Bidirectional(
          std::make_shared<tg::nn::GRU>(1, 4, tg::nn::RNNOptions{.return_sequences = true}),
          {.merge = tg::nn::MergeMode::ave}),
      tg::nn::SimpleRNN(4, 3, {.return_sequences = true, .go_backwards = true},
                        tg::nn::SimpleRNNCellOptions{.activation = tg::nn::Activation::relu}),
      tg::nn::Bidirectional(std::make_shared<tg::nn::LSTM>(3, 2)),
      tg::nn::Dropout(0.5),
      tg::nn::Dense(4, 3, {.activation = tg::nn::Activation::tanh}),
      tg::nn::Dense(3, 1)};
  std::string series = "value\n";
  for (int i = 0; i < 20; ++i) series += std::to_string((i * 7) % 11) + "\n";
  write_file(dir / "series.csv", series);
  const std::string weights = dir / "w.safetensors", out = dir / "m.safetensors";
  tg::nn::save(model, weights,
               {{"data.scaler_min", "0"}, {"data.scaler_max", "10"}, {"data.window", "5"}});
  Result r = tg_test::run(dir, "predict --weights " + quoted(weights) + " --data " +
                                   quoted(dir / "series.csv") + " -o " + quoted(dir / "p.csv"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  r = tg_test::run(dir, "export " + quoted(weights) + " --to torch -o " + quoted(out));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string loader =
      std::string(TAPEGRAD_TEST_DATA_DIR) + "/../../tools/export/load_torch.py";
  const std::string torch_csv = dir / "torch.csv";
  REQUIRE(std::system(("/usr/bin/python3 " + quoted(loader) + " " + quoted(out) + " --data " +
                       quoted(dir / "series.csv") + " > " + quoted(torch_csv))
                          .c_str()) == 0);
  const std::vector<double> expected = predictions(tg_test::read_file(dir / "p.csv"));
  const std::vector<double> actual = predictions(tg_test::read_file(torch_csv));
  REQUIRE(expected.size() == 15);
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(actual[i] == doctest::Approx(expected[i]).epsilon(1e-5));
  }
}

TEST_CASE("tapegrad export: bad input gives one line and exit code 2") {
  ScratchDir dir("cli-export");
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 2), tg::nn::Dense(2, 1)};
  tg::nn::save(model, dir / "w.safetensors");
  std::map<std::string, tg::Tensor> bare;
  for (const auto& [name, p] : model.named_parameters()) bare.emplace(name, p);
  tg::save_safetensors(dir / "bare.safetensors", bare);
  write_file(dir / "junk.safetensors", "junk");
  tg::optim::Adam opt(model.parameters());
  tg::nn::save_checkpoint(dir / "run.ckpt", model, opt, {.epoch = 1});
  const std::string w = quoted(dir / "w.safetensors"), o = " -o " + quoted(dir / "m.safetensors");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"export " + w + " --to onnx" + o, "--to"},
      {"export " + w + o, "--to is required"},
      {"export " + w + " --to torch", "--output is required"},
      {"export " + quoted(dir / "none") + " --to torch" + o, "does not exist"},
      {"export " + quoted(dir / "junk.safetensors") + " --to torch" + o, "load_safetensors"},
      {"export " + quoted(dir / "bare.safetensors") + " --to torch" + o,
       "is not a tapegrad weights file (it holds no model config"},
      {"export " + quoted(dir / "run.ckpt") + " --to torch" + o,
       "is a checkpoint; export the weights file"},
  };
  for (const auto& [args, expected] : cases) tg_test::check_usage_error(dir, args, expected);
}

#endif
