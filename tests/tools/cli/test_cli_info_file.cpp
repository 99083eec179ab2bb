// `tapegrad info FILE`: any weights file or checkpoint described by itself (the
// model from its config, each tensor's name, shape and dtype, the parameter count, a
// checkpoint's epoch and optimizer), files without a config still listed, and bad input
// refused with one line and exit code 2. `info --cell/--units [--weights]` is tested in
// test_cli.cpp.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include "cli_util.hpp"

namespace tg = tapegrad;

using tg_test::contains;
using tg_test::lines_of;
using tg_test::quoted;
using tg_test::Result;
using tg_test::ScratchDir;
using tg_test::write_file;

#ifdef TAPEGRAD_CLI

namespace {

bool has_line(const std::string& out, const std::vector<std::string>& words) {
  for (const std::string& line : lines_of(out)) {
    bool all = true;
    for (const std::string& w : words) all = all && contains(line, w);
    if (all) return true;
  }
  return false;
}

struct Scaled : tg::nn::Module {
  Scaled() : w(register_parameter("w", tg::ones({1}))) {}
  tg::Tensor forward(const tg::Tensor& x) override { return x * w; }
  std::string type_name() const override { return "Scaled"; }
  tg::Tensor w;
};

// A user's cell: no config of its own, kernel (in, units).
struct UserCell : tg::nn::Cell {
  UserCell(int64_t in, int64_t units)
      : w(register_parameter("kernel", tg::nn::init::glorot_uniform({in, units}))),
        u(register_parameter("recurrent_kernel", tg::nn::init::orthogonal({units, units}))) {}
  int64_t units() const override { return w.shape()[1]; }
  tg::nn::State step(const tg::Tensor& x, const tg::nn::State& s) override {
    return {tg::tanh(tg::matmul(x, w) + tg::matmul(s[0], u))};
  }
  tg::Tensor w, u;
};

// A Dense(1, 1)'s tensors with `config` as the model config.
void write_with_config(const std::string& path, const std::string& config) {
  tg::nn::Dense dense(1, 1);
  tg::save_safetensors(path, {{"kernel", dense.kernel}, {"bias", dense.bias}},
                       {{tg::nn::kModelConfigKey, config}});
}

// A config whose model is `model` (a JSON object's text).
std::string config_with(const std::string& model) {
  return R"({"format_version": 1, "model": )" + model + "}";
}

}  // namespace

TEST_CASE("tapegrad info FILE: a weights file from train, by itself") {
  ScratchDir dir("cli-info");
  Result r = tg_test::run(dir, "train --epochs 1 --verbose 0 --out-dir " + quoted(dir / "run"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  r = tg_test::run(dir, "info " + quoted(dir / "run/model.safetensors"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "(weights, written by tapegrad " + tg::version() + ")"));
  CHECK(contains(r.out,
                 "Model: SimpleRNN(64) -> SimpleRNN(32) -> Dense(1), input (batch, time, 1)\n"));
  CHECK(has_line(r.out, {"0.cell.kernel", "[1,64]", "f32", "64"}));
  CHECK(has_line(r.out, {"2.bias", "[1]", "f32", "1"}));
  CHECK(contains(r.out, "Total: 7361 parameters\n"));
}

TEST_CASE("tapegrad info FILE: a checkpoint's epoch, optimizer and tensors") {
  ScratchDir dir("cli-info");
  const std::string ckpt = dir / "run.ckpt";
  Result r = tg_test::run(dir, "train --units 4 --cell gru --epochs 2 --verbose 0 --checkpoint " +
                                   quoted(ckpt) + " --out-dir " + quoted(dir / "run"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  r = tg_test::run(dir, "info " + quoted(ckpt));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "checkpoint at epoch 2, optimizer adam (lr 0.001, step 8)"));
  CHECK(contains(r.out, "Model: GRU(4) -> Dense(1)"));
  CHECK(has_line(r.out, {"model.0.cell.bias", "[2,12]", "f32"}));
  CHECK(has_line(r.out, {"optimizer.step", "[]", "f64"}));
  // GRU(1, 4): 12 + 48 + 24, Dense(4, 1): 5; Adam keeps m and v of each, lr and step.
  CHECK(contains(r.out, "Total: 89 parameters, 180 optimizer state values"));
}

TEST_CASE("tapegrad info FILE: files without a config, and user modules, are still listed") {
  ScratchDir dir("cli-info");
  tg::nn::Sequential model{tg::nn::Dense(1, 2), Scaled()};
  std::map<std::string, tg::Tensor> tensors;
  for (const auto& [name, p] : model.named_parameters()) tensors.emplace(name, p);
  tg::save_safetensors(dir / "old.safetensors", tensors);
  Result r = tg_test::run(dir, "info " + quoted(dir / "old.safetensors"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "Model: not described (the file holds no model config"));
  CHECK(has_line(r.out, {"1.w", "[1]", "f32", "1"}));
  CHECK(contains(r.out, "Total: 5 parameters"));

  tg::nn::save(model, dir / "user.safetensors", {{"data.scaler_min", "104"}});
  r = tg_test::run(dir, "info " + quoted(dir / "user.safetensors"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "Model: Dense(2) -> Scaled, input (batch, time, 1)"));
  CHECK(contains(r.out, "Metadata: data.scaler_min = 104\n"));

  // The input of a user's cell is its kernel's rows, not the in_features of the Dense after.
  tg::nn::save(
      tg::nn::Sequential{tg::nn::RNN(std::make_shared<UserCell>(1, 32)), tg::nn::Dense(32, 1)},
      dir / "cell.safetensors");
  r = tg_test::run(dir, "info " + quoted(dir / "cell.safetensors"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "Model: RNN(Cell) -> Dense(1), input (batch, time, 1)\n"));
}

TEST_CASE("tapegrad info FILE: bad input gives one line and exit code 2") {
  ScratchDir dir("cli-info");
  write_file(dir / "junk.safetensors", "junk");
  tg::nn::Sequential model{tg::nn::Dense(1, 1)};
  tg::nn::save(model, dir / "w.safetensors");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"info " + quoted(dir / "none"), "does not exist"},
      {"info " + quoted(dir.path.string()), "directory"},
      {"info " + quoted(dir / "junk.safetensors"), "load_safetensors"},
      {"info " + quoted(dir / "w.safetensors") + " --cell gru", "excludes"},
      {"info " + quoted(dir / "w.safetensors") + " --weights " + quoted(dir / "w.safetensors"),
       "excludes"},
  };
  for (const auto& [args, expected] : cases) tg_test::check_usage_error(dir, args, expected);
}

TEST_CASE("tapegrad info: model.summary()'s table, from the same library code") {
  ScratchDir dir("cli-info");
  const std::string airline = std::string(TAPEGRAD_TEST_DATA_DIR) + "/airline-passengers.csv";
  Result r =
      tg_test::run(dir, "train --cell lstm --units 8,4 --epochs 1 --verbose 0 --data " +
                            quoted(airline) + " --window 12 --out-dir " + quoted(dir / "run"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string weights = dir / "run/model.safetensors";
  r = tg_test::run(dir, "info " + quoted(weights));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  // The time steps are train's window, which the file records.
  const auto model = tg::nn::load_model(weights);
  const std::string table = tg::nn::summary(*model, {12, 1});
  CHECK(contains(r.out, "\n\n" + table));
  CHECK(contains(table, "0 (LSTM)                     (None, 12, 8)             320\n"));
  CHECK(contains(table, "1 (LSTM)                     (None, 4)                 208\n"));
  CHECK(contains(table, "Total params: 533 (2.08 KB)\n"));

  // The model the flags build, its time steps unknown.
  r = tg_test::run(dir, "info --cell gru --units 16");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "Input: (None, None, 1)\n"));
  CHECK(contains(r.out, "0 (GRU)                      (None, 16)                912\n"));
  CHECK(contains(r.out, "Total params: 929 (3.63 KB)\n"));

  // A model its config does not rebuild (a user's module) is listed without the table.
  tg::nn::save(tg::nn::Sequential{tg::nn::Dense(1, 2), Scaled()}, dir / "user.safetensors");
  r = tg_test::run(dir, "info " + quoted(dir / "user.safetensors"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "Layers: not shown (the config does not rebuild the model"));
  CHECK_FALSE(contains(r.out, "Layer (type)"));
}

TEST_CASE("info and predict --weights: hostile model configs give one short line and exit 2") {
  ScratchDir dir("cli-info");
  constexpr std::size_t kShortLine = 400;
  // A cell's dropout nested 200,000 deep (a 400 KB file) overflowed the stack (SIGSEGV).
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  write_with_config(
      dir / "deep.safetensors",
      config_with(R"({"class_name": "Sequential", "config": {}, "children": [{"name": "0",
          "class_name": "SimpleRNN", "config": {"in_features": 1, "units": 2}, "children": [
          {"name": "cell", "class_name": "SimpleRNNCell", "config": {"dropout": )" +
                  deep + "}}]}]}"));
  // 50 MB in the issue gave a 52 MB line after 45 s; 4 MB shows the same.
  const std::string long_name(4 << 20, 'A');
  write_with_config(dir / "long.safetensors",
                    config_with(R"({"class_name": ")" + long_name + R"(", "config": {}})"));
  // 10^6 Dropout children (80 MB) took 37 s and 733 MB in info; past 10,000 is refused.
  std::string children;
  for (int i = 0; i <= 10000; ++i) {
    if (i > 0) children += ',';
    children += R"({"name": "0", "class_name": "Dropout", "config": {"rate": 0.0}})";
  }
  write_with_config(
      dir / "many.safetensors",
      config_with(R"({"class_name": "Sequential", "config": {}, "children": [)" + children + "]}"));
  const std::string deep_file = quoted(dir / "deep.safetensors");
  const std::string long_file = quoted(dir / "long.safetensors");
  const std::string many_file = quoted(dir / "many.safetensors");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"info " + deep_file, "is nested deeper than 136 levels"},
      {"predict --weights " + deep_file, "is nested deeper than 136 levels"},
      {"predict --weights " + long_file,
       "the model ('" + std::string(64, 'A') + "'... (+4194240 bytes)) is not a module"},
      {"info " + many_file, "declares more than 10000 modules"},
      {"predict --weights " + many_file, "declares more than 10000 modules"},
  };
  for (const auto& [args, expected] : cases) {
    const Result r = tg_test::run(dir, args);
    CAPTURE(args);
    CAPTURE(r.err.substr(0, kShortLine));
    CHECK(r.code == 2);
    CHECK(lines_of(r.err).size() == 1);
    CHECK(r.err.size() < kShortLine);
    CHECK(contains(r.err, expected));
  }
  // info describes the file with the long name, the name cut.
  const Result r = tg_test::run(dir, "info " + long_file);
  REQUIRE_MESSAGE(r.code == 0, r.err.substr(0, kShortLine));
  CHECK(contains(r.out, "Model: '" + std::string(64, 'A') + "'... (+4194240 bytes)\n"));
  CHECK(r.out.size() < 1000);
}

#endif
