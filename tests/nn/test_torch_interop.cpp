// nn::export_torch / nn::import_torch against PyTorch itself: the fixtures torch_*.safetensors
// are state_dicts of torch.nn.RNN/LSTM/GRU + Linear models written by
// tests/fixtures/generate_torch_interop.py, with torch's prediction on an input batch.
//
// Imported, a tapegrad model predicts what torch did; exported again, it writes the fixture's
// tensors (with SimpleRNN/LSTM's two torch biases summed into bias_ih, as Keras has one); an
// export imports back bit for bit; and every kind of mismatch is rejected with the model left
// as it was.
//
// With TAPEGRAD_TORCH_EXPORT_DIR set, the exports of the imported fixtures are also written
// there, for `generate_torch_interop.py --check-export DIR` to load into torch.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fixture.hpp>
#include <nn/nn_test_util.hpp>
#include <test_util.hpp>

using namespace tg_test;

namespace {

const std::vector<std::string> kStems{"torch_rnn", "torch_rnn_relu", "torch_lstm", "torch_gru"};

std::string fixture_path(const std::string& file) {
  return std::string(TAPEGRAD_TEST_DATA_DIR) + "/" + file;
}

// The recurrent layer the fixture's torch layer is, with fresh (tapegrad-initialized) weights.
tg::nn::ModulePtr recurrent_layer(const nlohmann::json& fx, int64_t in, int64_t units) {
  const std::string layer = fx.at("layer");
  if (layer == "LSTM") return std::make_shared<tg::nn::LSTM>(in, units);
  if (layer == "GRU") return std::make_shared<tg::nn::GRU>(in, units);
  REQUIRE(layer == "RNN");
  const tg::nn::Activation activation =
      fx.at("nonlinearity") == "relu" ? tg::nn::Activation::relu : tg::nn::Activation::tanh;
  return std::make_shared<tg::nn::RNN>(std::make_shared<tg::nn::SimpleRNNCell>(
      in, units, tg::nn::SimpleRNNCellOptions{.activation = activation}));
}

// Sequential{layer, Dense(u, 1)}: the tapegrad model named like the fixture's torch module.
tg::nn::Sequential model_for(const nlohmann::json& fx, int64_t in_delta = 0) {
  const int64_t in = fx.at("input_size").get<int64_t>() + in_delta;
  const int64_t units = fx.at("hidden_size");
  return tg::nn::Sequential{recurrent_layer(fx, in, units), tg::nn::Dense(units, 1)};
}

// Every parameter's name and values, to prove a model unchanged.
std::map<std::string, std::vector<double>> snapshot(const tg::nn::Module& m) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, p] : m.named_parameters()) {
    out.emplace(name, p.to(tg::f64).to_vector<double>());
  }
  return out;
}

bool bitwise_equal(const tg::Tensor& a, const tg::Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         a.to(tg::f64).to_vector<double>() == b.to(tg::f64).to_vector<double>();
}

// Random values in every parameter (biases included), so that a lost or misplaced block shows.
void randomize(tg::nn::Module& m) {
  for (const tg::Tensor& p : m.parameters()) {
    tg::kernel::copy_into(p, tg::uniform(p.shape(), -1.0, 1.0, p.dtype()));
  }
}

// A copy of a fixture's tensors with some changed, written to `path`.
void write_edited(const std::string& path, const std::string& stem,
                  const std::vector<std::string>& drop,
                  const std::map<std::string, tg::Tensor>& add = {}) {
  std::map<std::string, tg::Tensor> tensors =
      tg::load_safetensors(fixture_path(stem + ".safetensors"));
  for (const std::string& name : drop) REQUIRE(tensors.erase(name) == 1);
  for (const auto& [name, t] : add) tensors[name] = t;
  tg::save_safetensors(path, tensors);
}

}  // namespace

TEST_CASE("import_torch: a PyTorch state_dict predicts what torch predicted (1e-5, f32)") {
  for (const std::string& stem : kStems) {
    CAPTURE(stem);
    const nlohmann::json fx = load_fixture(stem + ".json");
    tg::nn::Sequential model = model_for(fx);
    tg::nn::import_torch(model, fixture_path(stem + ".safetensors"));
    tg::NoGradGuard no_grad;
    const tg::Tensor prediction = model(fixture_tensor(fx.at("inputs").at("x"), tg::f32));
    const double diff =
        max_abs_diff(prediction, fixture_tensor(fx.at("outputs").at("prediction"), tg::f32));
    MESSAGE(stem << ": max |tapegrad - torch| = " << diff);
    CHECK(diff <= 1e-5);
  }
}

TEST_CASE("import_torch: the relu fixture is not vacuous (a tanh SimpleRNN predicts otherwise)") {
  nlohmann::json fx = load_fixture("torch_rnn_relu.json");
  fx["nonlinearity"] = "tanh";
  tg::nn::Sequential model = model_for(fx);
  tg::nn::import_torch(model, fixture_path("torch_rnn_relu.safetensors"));
  tg::NoGradGuard no_grad;
  const tg::Tensor prediction = model(fixture_tensor(fx.at("inputs").at("x"), tg::f32));
  CHECK(max_abs_diff(prediction, fixture_tensor(fx.at("outputs").at("prediction"), tg::f32)) >
        1e-3);
}

TEST_CASE("export_torch: an imported state_dict is written back in torch's names and layouts") {
  const char* keep_dir = std::getenv("TAPEGRAD_TORCH_EXPORT_DIR");
  ScratchDir dir("tg-torch-export");
  for (const std::string& stem : kStems) {
    CAPTURE(stem);
    const nlohmann::json fx = load_fixture(stem + ".json");
    tg::nn::Sequential model = model_for(fx);
    tg::nn::import_torch(model, fixture_path(stem + ".safetensors"));
    const std::string path = dir / (stem + ".safetensors");
    tg::nn::export_torch(model, path);
    if (keep_dir) tg::nn::export_torch(model, std::string(keep_dir) + "/" + stem + ".safetensors");

    const auto torch = tg::load_safetensors(fixture_path(stem + ".safetensors"));
    const auto ours = tg::load_safetensors(path);
    std::vector<std::string> torch_names, our_names;
    for (const auto& [name, t] : torch) torch_names.push_back(name);
    for (const auto& [name, t] : ours) our_names.push_back(name);
    CHECK(our_names == torch_names);
    for (const auto& [name, t] : torch) {
      CAPTURE(name);
      const bool summed_bias = fx.at("layer") != "GRU" && name.rfind("0.bias_", 0) == 0;
      if (!summed_bias) {
        CHECK(bitwise_equal(ours.at(name), t));
      } else if (name == "0.bias_ih_l0") {  // Keras's one bias: torch's two, added
        CHECK(bitwise_equal(ours.at(name), t + torch.at("0.bias_hh_l0")));
      } else {
        CHECK(bitwise_equal(ours.at(name), tg::zeros_like(t)));
      }
    }
  }
}

TEST_CASE("export_torch then import_torch is the identity, for every mapped layer") {
  tg::manual_seed(7);
  const auto relu_cell = [] {
    return std::make_shared<tg::nn::SimpleRNNCell>(
        2, 3, tg::nn::SimpleRNNCellOptions{.activation = tg::nn::Activation::relu});
  };
  const auto make = [&](tg::DType dtype) {
    return tg::nn::Sequential{
        tg::nn::SimpleRNN(2, 4, {.return_sequences = true}, dtype), tg::nn::LSTM(4, 3, {}, dtype),
        tg::nn::Dense(3, 6, {.activation = tg::nn::Activation::tanh, .dtype = dtype}),
        tg::nn::Dense(6, 2, {.use_bias = false, .dtype = dtype}), tg::nn::GRU(2, 5, {}, dtype)};
  };
  ScratchDir dir("tg-torch-roundtrip");
  for (tg::DType dtype : {tg::f32, tg::f64}) {
    CAPTURE(dtype);
    tg::nn::Sequential a = make(dtype), b = make(dtype);
    randomize(a);
    tg::nn::export_torch(a, dir / "a.safetensors");
    tg::nn::import_torch(b, dir / "a.safetensors");
    CHECK(snapshot(b) == snapshot(a));
    const auto names = tg::load_safetensors(dir / "a.safetensors");
    CHECK(names.count("3.weight") == 1);
    CHECK(names.count("3.bias") == 0);  // Linear(bias=False)
    CHECK(names.at("4.bias_hh_l0").shape() == tg::Shape({15}));
  }
  // a bare layer at the top: torch's own names, no prefix
  tg::nn::RNN a(relu_cell()), b(relu_cell());
  randomize(a);
  tg::nn::export_torch(a, dir / "top.safetensors");
  const auto top = tg::load_safetensors(dir / "top.safetensors");
  CHECK(top.at("weight_ih_l0").shape() == tg::Shape({3, 2}));
  tg::nn::import_torch(b, dir / "top.safetensors");
  CHECK(snapshot(b) == snapshot(a));
}

TEST_CASE("export_torch: GRU gates z, r, h are torch's r, z, n; kernels are transposed") {
  tg::nn::GRU gru(2, 3);
  tg::NoGradGuard no_grad;
  auto& cell = static_cast<tg::nn::GRUCell&>(gru.cell());
  // kernel[i][j] = 10 i + j, bias[row][j] = 100 row + j: each value says where it came from
  tg::kernel::copy_into(
      cell.kernel, tg::reshape(tg::arange(9), {1, 9}) + tg::reshape(tg::arange(2) * 10.0, {2, 1}));
  tg::kernel::copy_into(
      cell.bias, tg::reshape(tg::arange(9), {1, 9}) + tg::reshape(tg::arange(2) * 100.0, {2, 1}));
  ScratchDir dir("tg-torch-gru");
  tg::nn::export_torch(gru, dir / "gru.safetensors");
  const auto t = tg::load_safetensors(dir / "gru.safetensors");
  // torch row j of weight_ih is tapegrad column: r (3..5), then z (0..2), then n (6..8)
  const std::vector<double> want_w{3, 13, 4, 14, 5, 15, 0, 10, 1, 11, 2, 12, 6, 16, 7, 17, 8, 18};
  CHECK(t.at("weight_ih_l0").to(tg::f64).to_vector<double>() == want_w);
  CHECK(t.at("bias_ih_l0").to(tg::f64).to_vector<double>() ==
        std::vector<double>{3, 4, 5, 0, 1, 2, 6, 7, 8});
  CHECK(t.at("bias_hh_l0").to(tg::f64).to_vector<double>() ==
        std::vector<double>{103, 104, 105, 100, 101, 102, 106, 107, 108});
}

TEST_CASE("import_torch: a missing, an extra or a misshapen tensor is named, model untouched") {
  const nlohmann::json fx = load_fixture("torch_lstm.json");
  tg::nn::Sequential model = model_for(fx);
  const auto before = snapshot(model);
  ScratchDir dir("tg-torch-bad");

  SUBCASE("missing") {
    write_edited(dir / "f.safetensors", "torch_lstm", {"0.bias_hh_l0"});
    const std::string msg =
        message_of<tg::IOError>([&] { tg::nn::import_torch(model, dir / "f.safetensors"); });
    CHECK(contains(msg, "import_torch"));
    CHECK(contains(msg, "has no tensor '0.bias_hh_l0'"));
  }
  SUBCASE("extra") {
    write_edited(dir / "f.safetensors", "torch_lstm", {}, {{"0.weight_ih_l1", tg::zeros({20, 5})}});
    const std::string msg =
        message_of<tg::IOError>([&] { tg::nn::import_torch(model, dir / "f.safetensors"); });
    CHECK(contains(msg, "unknown tensor '0.weight_ih_l1'"));
  }
  SUBCASE("wrong shape: a model with 4 input features") {
    tg::nn::Sequential wider = model_for(fx, 1);
    const auto wider_before = snapshot(wider);
    const std::string msg = message_of<tg::ShapeError>(
        [&] { tg::nn::import_torch(wider, fixture_path("torch_lstm.safetensors")); });
    CHECK(contains(msg, "'0.weight_ih_l0' has shape [20,3]"));
    CHECK(contains(msg, "has shape [20,4]"));
    CHECK(snapshot(wider) == wider_before);
  }
  SUBCASE("wrong shape: a GRU's file into an LSTM") {
    const std::string msg = message_of<tg::ShapeError>(
        [&] { tg::nn::import_torch(model, fixture_path("torch_gru.safetensors")); });
    CHECK(contains(msg, "'0.bias_hh_l0' has shape [15]"));
    CHECK(contains(msg, "has shape [20]"));
  }
  SUBCASE("wrong dtype") {
    std::map<std::string, tg::Tensor> t =
        tg::load_safetensors(fixture_path("torch_lstm.safetensors"));
    t["1.weight"] = t["1.weight"].to(tg::f64);
    tg::save_safetensors(dir / "f.safetensors", t);
    const std::string msg =
        message_of<tg::DTypeError>([&] { tg::nn::import_torch(model, dir / "f.safetensors"); });
    CHECK(contains(msg, "'1.weight' is f64"));
  }
  SUBCASE("not a safetensors file") {
    write_file(dir / "f.safetensors", "not safetensors");
    CHECK_THROWS_AS(tg::nn::import_torch(model, dir / "f.safetensors"), tg::IOError);
  }
  CHECK(snapshot(model) == before);
}

namespace {

struct OwnWeight : tg::nn::Module {
  OwnWeight() : w(register_parameter("w", tg::ones({2}))) {}
  std::string type_name() const override { return "OwnWeight"; }
  tg::Tensor w;
};

struct DenseWithScale : tg::nn::Dense {
  DenseWithScale() : Dense(2, 2), scale(register_parameter("scale", tg::ones({2}))) {}
  tg::Tensor scale;
};

struct PlainCell : tg::nn::Cell {
  PlainCell() : w(register_parameter("kernel", tg::ones({2, 2}))) {}
  int64_t units() const override { return 2; }
  std::string type_name() const override { return "PlainCell"; }
  tg::nn::State step(const tg::Tensor& x, const tg::nn::State& s) override {
    return {tg::tanh(tg::matmul(x, w) + s[0])};
  }
  tg::Tensor w;
};

// export_torch and import_torch both reject `module` with a ValueError holding `parts`, and
// import_torch leaves it untouched (it fails before reading the file).
void check_unsupported(tg::nn::Module& module, const std::vector<std::string>& parts) {
  ScratchDir dir("tg-torch-unsupported");
  const auto before = snapshot(module);
  const std::string exported =
      message_of<tg::ValueError>([&] { tg::nn::export_torch(module, dir / "x.safetensors"); });
  tg::nn::save(module, dir / "weights.safetensors");  // any file: the model is checked first
  const std::string imported = message_of<tg::ValueError>(
      [&] { tg::nn::import_torch(module, dir / "weights.safetensors"); });
  CHECK(contains(exported, "export_torch: "));
  CHECK(contains(imported, "import_torch: "));
  for (const std::string& part : parts) {
    CAPTURE(part);
    CHECK(contains(exported, part));
    CHECK(contains(imported, part));
  }
  CHECK(dir.listing() == std::vector<std::string>{"weights.safetensors"});  // nothing exported
  CHECK(snapshot(module) == before);
}

}  // namespace

TEST_CASE("export_torch / import_torch: what torch.nn cannot express is a clear error") {
  SUBCASE("a user cell") {
    tg::nn::Sequential m{tg::nn::Dense(2, 2), tg::nn::RNN(std::make_shared<PlainCell>())};
    check_unsupported(m, {"layer '1' (RNN)", "PlainCell", "'1.cell.*'", "LSTMCell"});
  }
  SUBCASE("a SimpleRNN activation torch.nn.RNN does not have") {
    tg::nn::RNN m(std::make_shared<tg::nn::SimpleRNNCell>(
        2, 3, tg::nn::SimpleRNNCellOptions{.activation = tg::nn::Activation::sigmoid}));
    check_unsupported(m, {"the top module (RNN)", "activation sigmoid", "'tanh' or 'relu'"});
  }
  SUBCASE("a module of another kind holding parameters") {
    tg::nn::Sequential m{tg::nn::Dense(2, 2), tg::nn::Sequential{OwnWeight{}}};
    check_unsupported(m, {"parameter '1.0.w'", "type OwnWeight", "torch.nn.Linear"});
  }
  SUBCASE("a parameter a subclass added to a Dense layer") {
    tg::nn::Sequential m{DenseWithScale{}};
    check_unsupported(m, {"parameter '0.scale'", "layer '0' (Dense)"});
  }
}
