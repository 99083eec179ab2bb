// Weights files that describe themselves: nn::save writes the model's config into
// the safetensors __metadata__ and nn::load_model rebuilds every built-in layer kind, with
// its options, from it; files without a config, user modules without one and corrupted
// configs give a clear tg::Error, never a crash.
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;
namespace nn = tapegrad::nn;

using tg_test::contains;
using tg_test::message_of;
using tg_test::ScratchDir;

namespace {

tg::Tensor input_for(const nn::Module& m, int64_t in_features) {
  return tg::rand({2, 5, in_features}).to(m.dtype());
}

// Saves `model`, rebuilds it with load_model and checks the copy: same tree and configs,
// same parameters bit for bit, same output.
void check_round_trip(nn::Module& model, int64_t in_features) {
  ScratchDir dir("tapegrad-config");
  const std::string path = dir / "m.safetensors";
  nn::save(model, path);
  const std::shared_ptr<nn::Module> copy = nn::load_model(path);
  CHECK(copy->type_name() == model.type_name());
  CHECK(nn::model_config_json(*copy) == nn::model_config_json(model));
  const tg::NamedTensors a = model.named_parameters(), b = copy->named_parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].first == b[i].first);
    CHECK(a[i].second.dtype() == b[i].second.dtype());
    CHECK(tg::kernel::max(tg::abs(a[i].second - b[i].second), {}, false).item() == 0);
  }
  tg::NoGradGuard no_grad;
  model.eval();  // deterministic outputs: dropout, where configured, is off
  copy->eval();
  const tg::Tensor x = input_for(model, in_features);
  CHECK(tg::kernel::max(tg::abs(model(x) - (*copy)(x)), {}, false).item() == 0);
}

// A user's module: parameters but no config.
struct Scaled : nn::Module {
  Scaled() : w(register_parameter("w", tg::ones({1}))) {}
  tg::Tensor forward(const tg::Tensor& x) override { return x * w; }
  std::string type_name() const override { return "Scaled"; }
  tg::Tensor w;
};

// The file at `from` with its model_config replaced by `config`, written to `to`.
void rewrite_config(const std::string& from, const std::string& to, const std::string& config) {
  std::map<std::string, std::string> metadata;
  const auto tensors = tg::load_safetensors(from, &metadata);
  metadata[nn::kModelConfigKey] = config;
  tg::save_safetensors(to, tensors, metadata);
}

std::string config_of(const std::string& path) {
  return nn::read_model_info(path).metadata.at(nn::kModelConfigKey);
}

}  // namespace

TEST_CASE("load_model rebuilds each built-in layer kind with its options") {
  tg::manual_seed(3);
  SUBCASE("Dense") {
    nn::Dense d(3, 4, {.activation = nn::Activation::relu, .use_bias = false, .dtype = tg::f64});
    check_round_trip(d, 3);
  }
  SUBCASE("SimpleRNN") {
    nn::SimpleRNN l(2, 5, {.return_sequences = true, .go_backwards = true, .tbptt = 3});
    check_round_trip(l, 2);
  }
  SUBCASE("LSTM") {
    nn::LSTM l(2, 3, {.return_state = true}, tg::f64);
    check_round_trip(l, 2);
  }
  SUBCASE("GRU") {
    nn::GRU l(2, 3, {.stateful = true});
    check_round_trip(l, 2);
  }
  SUBCASE("RNN over each cell, with the cells' options") {
    nn::RNN a(std::make_shared<nn::SimpleRNNCell>(
                  2, 4, nn::SimpleRNNCellOptions{.activation = nn::Activation::relu}),
              {.return_sequences = true});
    check_round_trip(a, 2);
    nn::RNN b(std::make_shared<nn::LSTMCell>(2, 3, nn::LSTMCellOptions{.unit_forget_bias = false}));
    check_round_trip(b, 2);
    nn::RNN c(std::make_shared<nn::GRUCell>(2, 3, nn::GRUCellOptions{.dtype = tg::f64}));
    check_round_trip(c, 2);
  }
  SUBCASE("dropout rates, Dropout layers and zero_output_for_mask") {
    nn::Sequential s{
        nn::RNN(std::make_shared<nn::LSTMCell>(
                    2, 3, nn::LSTMCellOptions{.dropout = 0.25, .recurrent_dropout = 0.5}),
                {.return_sequences = true, .zero_output_for_mask = true}),
        nn::Dropout(0.3),
        nn::RNN(std::make_shared<nn::GRUCell>(3, 2, nn::GRUCellOptions{.recurrent_dropout = 0.1})),
        nn::Dense(2, 1)};
    check_round_trip(s, 2);
    const std::string json = nn::model_config_json(s);
    CHECK(json.find("\"recurrent_dropout\":0.5") != std::string::npos);
    CHECK(json.find("\"rate\":0.3") != std::string::npos);
    CHECK(json.find("\"zero_output_for_mask\":true") != std::string::npos);
  }
  SUBCASE("Sequential of mixed layers, converted to f64 after construction") {
    nn::Sequential s{nn::GRU(2, 4, {.return_sequences = true}), nn::LSTM(4, 3),
                     nn::Dense(3, 2, {.activation = nn::Activation::sigmoid})};
    s.to(tg::f64);  // the config follows the parameters' dtype
    check_round_trip(s, 2);
  }
}

TEST_CASE("the reference model's file: summary, input features, version and the exact JSON") {
  ScratchDir dir("tapegrad-config");
  nn::Sequential model{nn::SimpleRNN(1, 64, {.return_sequences = true}), nn::SimpleRNN(64, 32),
                       nn::Dense(32, 1)};
  const std::string path = dir / "model.safetensors";
  nn::save(model, path, {{"data.scaler_min", "104"}});
  const nn::ModelFileInfo info = nn::read_model_info(path);
  CHECK(info.has_config);
  CHECK_FALSE(info.is_checkpoint);
  CHECK(info.summary == "SimpleRNN(64) -> SimpleRNN(32) -> Dense(1)");
  CHECK(info.input_features == 1);
  CHECK(info.tapegrad_version == tg::version());
  CHECK(info.metadata.at("data.scaler_min") == "104");
  CHECK(info.tensors.size() == 8);

  const nlohmann::json doc = nlohmann::json::parse(config_of(path));
  CHECK(doc["format_version"] == 1);
  const nlohmann::json& first = doc["model"]["children"][0];
  CHECK(first == nlohmann::json::parse(R"({
    "name": "0", "class_name": "SimpleRNN",
    "config": {"in_features": 1, "units": 64, "dtype": "f32", "return_sequences": true,
               "return_state": false, "go_backwards": false, "stateful": false, "tbptt": 0,
               "zero_output_for_mask": false, "checkpoint_every": 0},
    "children": [{"name": "cell", "class_name": "SimpleRNNCell",
                  "config": {"in_features": 1, "units": 64, "dtype": "f32",
                             "activation": "tanh", "dropout": 0.0,
                             "recurrent_dropout": 0.0}}]})"));
  CHECK(doc["model"]["children"][2]["config"] == nlohmann::json::parse(R"(
    {"in_features": 32, "units": 1, "activation": "linear", "use_bias": true, "dtype": "f32"})"));

  // The key of the config is reserved.
  CHECK_THROWS_WITH_AS(nn::save(model, dir / "x.safetensors", {{"model_config", "{}"}}),
                       doctest::Contains("reserved"), tg::ValueError);
}

// A user's cell (no config of its own) whose kernel is (in_features, units).
struct UserCell : nn::Cell {
  UserCell(int64_t in, int64_t units)
      : u(register_parameter("recurrent_kernel", tg::nn::init::orthogonal({units, units}))),
        w(register_parameter("kernel", tg::nn::init::glorot_uniform({in, units}))) {}
  int64_t units() const override { return w.shape()[1]; }
  nn::State step(const tg::Tensor& x, const nn::State& s) override {
    return {tg::tanh(tg::matmul(x, w) + tg::matmul(s[0], u))};
  }
  tg::Tensor u, w;
};

TEST_CASE("input_features comes from the first layer, a user's cell by its kernel") {
  ScratchDir dir("tapegrad-config");
  const auto input_features = [&](const nn::Module& model) {
    nn::save(model, dir / "m.safetensors");
    const nn::ModelFileInfo info = nn::read_model_info(dir / "m.safetensors");
    const nlohmann::json stored = nlohmann::json::parse(config_of(dir / "m.safetensors"));
    CHECK(stored["input_features"] ==
          (info.input_features > 0 ? nlohmann::json(info.input_features) : nlohmann::json()));
    return info.input_features;
  };
  // The Dense after the cell reads 32 features; the model reads 1.
  CHECK(input_features(
            nn::Sequential{nn::RNN(std::make_shared<UserCell>(1, 32)), nn::Dense(32, 1)}) == 1);
  CHECK(input_features(nn::Sequential{nn::Dropout(0.1), nn::Dense(3, 1)}) == 3);
  CHECK(input_features(nn::Sequential{nn::Bidirectional(std::make_shared<nn::LSTM>(5, 2))}) == 5);
  // A module of the user's without a matrix parameter: unknown, never the next layer's.
  CHECK(input_features(nn::Sequential{Scaled(), nn::Dense(7, 1)}) == 0);
}

TEST_CASE("checkpoints carry the same config") {
  ScratchDir dir("tapegrad-config");
  nn::Sequential model{nn::LSTM(1, 8), nn::Dense(8, 1)};
  tg::optim::Adam opt(model.parameters());
  const std::string path = dir / "run.ckpt";
  nn::save_checkpoint(path, model, opt, {.epoch = 3});
  const nn::ModelFileInfo info = nn::read_model_info(path);
  CHECK(info.is_checkpoint);
  CHECK(info.summary == "LSTM(8) -> Dense(1)");
  CHECK(nn::load_checkpoint(path, model, opt).epoch == 3);  // the entry does not disturb loading
  CHECK_THROWS_WITH_AS(nn::load_model(path), doctest::Contains("is a training checkpoint"),
                       tg::IOError);
}

TEST_CASE("a file without a config loads with nn::load; load_model says what to do") {
  ScratchDir dir("tapegrad-config");
  nn::Sequential model{nn::SimpleRNN(1, 4), nn::Dense(4, 1)};
  const std::string path = dir / "old.safetensors";
  std::map<std::string, tg::Tensor> tensors;
  for (const auto& [name, p] : model.named_parameters()) tensors.emplace(name, p);
  tg::save_safetensors(path, tensors);  // as nn::save wrote files before configs
  nn::load(model, path);
  CHECK_FALSE(nn::read_model_info(path).has_config);
  const std::string msg = message_of<tg::IOError>([&] { (void)nn::load_model(path); });
  CHECK(contains(msg, "holds no model config"));
  CHECK(contains(msg, "nn::load(model, path)"));
}

TEST_CASE("a user module without a config: load_model names its type and place") {
  ScratchDir dir("tapegrad-config");
  nn::Sequential model{nn::Dense(1, 1), Scaled()};
  const std::string path = dir / "user.safetensors";
  nn::save(model, path);
  CHECK(nn::read_model_info(path).summary == "Dense(1) -> Scaled");
  CHECK_THROWS_WITH_AS((void)nn::load_model(path),
                       doctest::Contains("module '1' (Scaled) has no config"), tg::IOError);
  nn::load(model, path);  // the weights still load into the model built in code
}

TEST_CASE("a config of another architecture than the tensors keeps nn::load's clear error") {
  ScratchDir dir("tapegrad-config");
  nn::Sequential model{nn::SimpleRNN(1, 4), nn::Dense(4, 1)};
  const std::string path = dir / "m.safetensors", bad = dir / "bad.safetensors";
  nn::save(model, path);
  std::string config = config_of(path);
  nlohmann::json doc = nlohmann::json::parse(config);
  doc["model"]["children"][1]["config"]["units"] = 2;
  rewrite_config(path, bad, doc.dump());
  CHECK_THROWS_WITH_AS((void)nn::load_model(bad), doctest::Contains("'1.kernel' has shape [4,1]"),
                       tg::ShapeError);

  doc = nlohmann::json::parse(config);
  doc["model"]["children"][1]["config"]["units"] = int64_t{1} << 30;  // no gigabyte allocation
  rewrite_config(path, bad, doc.dump());
  CHECK_THROWS_WITH_AS((void)nn::load_model(bad), doctest::Contains("far more than the file holds"),
                       tg::IOError);

  doc = nlohmann::json::parse(config);
  doc["model"]["children"][0]["class_name"] = "Transformer";
  rewrite_config(path, bad, doc.dump());
  CHECK_THROWS_WITH_AS((void)nn::load_model(bad),
                       doctest::Contains("module '0' (Transformer) is not a module load_model can "
                                         "build"),
                       tg::IOError);

  doc = nlohmann::json::parse(config);
  doc["model"]["children"][0]["config"]["return_sequences"] = "yes";
  rewrite_config(path, bad, doc.dump());
  CHECK_THROWS_WITH_AS((void)nn::load_model(bad),
                       doctest::Contains("config 'return_sequences' must be true or false"),
                       tg::IOError);

  doc = nlohmann::json::parse(config);
  doc["format_version"] = 2;
  rewrite_config(path, bad, doc.dump());
  CHECK_THROWS_WITH_AS((void)nn::load_model(bad), doctest::Contains("this build reads version 1"),
                       tg::IOError);
}

TEST_CASE("corrupted configs (truncated, bytes changed) throw tg::Error, never crash") {
  ScratchDir dir("tapegrad-config");
  tg::manual_seed(5);
  nn::Sequential model{nn::GRU(2, 3, {.return_sequences = true}),
                       nn::RNN(std::make_shared<nn::LSTMCell>(3, 2)), nn::Dense(2, 1)};
  const std::string path = dir / "m.safetensors", bad = dir / "bad.safetensors";
  nn::save(model, path);
  const std::string config = config_of(path);
  const std::string replacements[] = {"", "0", "-1", "9", "\"", "{", "]", "null", "true", "1e308"};
  int failures = 0, rebuilt = 0;
  for (std::size_t at = 0; at < config.size(); at += 3) {
    for (const std::string& r : replacements) {
      std::string mutated = config;
      mutated.replace(at, 1, r);
      rewrite_config(path, bad, mutated);
      try {
        (void)nn::read_model_info(bad);
        (void)nn::load_model(bad);
        ++rebuilt;  // a change that still describes these tensors (a "1" for a "true")
      } catch (const tg::Error&) {
        ++failures;
      }
    }
  }
  CHECK(failures > 0);
  MESSAGE(failures << " mutations refused, " << rebuilt << " still valid");
  rewrite_config(path, bad, config.substr(0, config.size() / 2));
  CHECK_THROWS_WITH_AS((void)nn::read_model_info(bad), doctest::Contains("is not valid JSON"),
                       tg::IOError);
}

TEST_CASE("a config nested 100,000 modules deep is refused while it is parsed") {
  ScratchDir dir("tapegrad-config");
  nn::Sequential model{nn::Dense(1, 1)};
  const std::string path = dir / "m.safetensors", bad = dir / "deep.safetensors";
  nn::save(model, path);
  const auto nested = [&](int depth) {
    std::string deep;
    for (int i = 0; i < depth; ++i)
      deep += R"({"name": "0", "class_name": "Sequential", "config": {}, "children": [)";
    for (int i = 0; i < depth; ++i) deep += "]}";
    rewrite_config(path, bad, R"({"format_version": 1, "model": )" + deep + "}");
  };
  nested(100000);
  CHECK_THROWS_WITH_AS((void)nn::read_model_info(bad),
                       doctest::Contains("is nested deeper than 136 levels"), tg::IOError);
  CHECK_THROWS_WITH_AS((void)nn::load_model(bad),
                       doctest::Contains("is nested deeper than 136 levels"), tg::IOError);
  // Within the JSON limit, the builder still counts modules.
  nested(66);
  CHECK(contains(nn::read_model_info(bad).summary, "?"));
  CHECK_THROWS_WITH_AS((void)nn::load_model(bad),
                       doctest::Contains("is nested deeper than 64 modules"), tg::IOError);
}
