// Masking against PyTorch's pack_padded_sequence: the fixtures torch_mask_*_{f32,f64} (written
// by tests/fixtures/generate_torch_masking.py) hold a torch RNN/LSTM/GRU's state_dict, a
// post-padded batch with garbage in the padding, and torch's outputs at the valid steps, final
// states and gradients of a weighted sum of them. Imported with nn::import_torch, the layer
// run with the mask must reproduce all of it: f32 within 1e-5, f64 within 1e-10.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include <fixture.hpp>
#include <nn/nn_test_util.hpp>
#include <test_util.hpp>

using namespace tg_test;

namespace {

std::string fixture_path(const std::string& file) {
  return std::string(TAPEGRAD_TEST_DATA_DIR) + "/" + file;
}

tg::nn::Sequential model_for(const nlohmann::json& fx, tg::DType dtype) {
  const int64_t in = fx.at("input_size");
  const int64_t units = fx.at("hidden_size");
  const std::string layer = fx.at("layer");
  if (layer == "LSTM")
    return tg::nn::Sequential{tg::nn::LSTM(in, units, {.return_sequences = true}, dtype)};
  if (layer == "GRU")
    return tg::nn::Sequential{tg::nn::GRU(in, units, {.return_sequences = true}, dtype)};
  return tg::nn::Sequential{tg::nn::SimpleRNN(in, units, {.return_sequences = true}, dtype)};
}

void check_fixture(const std::string& stem, tg::DType dtype, double tolerance) {
  CAPTURE(stem);
  const nlohmann::json fx = load_fixture(stem + ".json");
  tg::nn::Sequential model = model_for(fx, dtype);
  tg::nn::import_torch(model, fixture_path(stem + ".safetensors"));
  auto& layer = dynamic_cast<tg::nn::RNN&>(model[0]);
  const auto& in = fx.at("inputs");
  const auto& want = fx.at("outputs");
  const tg::Tensor x = fixture_tensor(in.at("x"), dtype).requires_grad_(true);
  const int64_t steps = x.shape()[1];
  const tg::Tensor mask = mask_of(fx.at("lengths").get<std::vector<int64_t>>(), steps, dtype);
  const tg::nn::RNNOutput out = layer.run(x, {}, mask);
  const bool lstm = out.state.size() == 2;
  tg::Tensor loss = tg::sum(out.output * fixture_tensor(in.at("w_out"), dtype)) +
                    tg::sum(out.state[0] * fixture_tensor(in.at("w_h"), dtype));
  if (lstm) loss = loss + tg::sum(out.state[1] * fixture_tensor(in.at("w_c"), dtype));

  double worst = 0;
  auto compare = [&](const std::string& what, const tg::Tensor& ours, const tg::Tensor& torch) {
    const double diff = max_abs_diff(ours, torch);
    CAPTURE(what);
    CHECK(diff <= tolerance);
    worst = std::max(worst, diff);
  };
  // torch's padded output is zero at the padding, ours carries the state: compare valid steps.
  const tg::Tensor valid = tg::reshape(mask, {x.shape()[0], steps, 1});
  compare("output", out.output * valid, fixture_tensor(want.at("output"), dtype));
  compare("h_n", out.state[0], fixture_tensor(want.at("h_n"), dtype));
  if (lstm) compare("c_n", out.state[1], fixture_tensor(want.at("c_n"), dtype));

  std::vector<tg::Tensor> wrt{x};
  for (const tg::Tensor& p : model.parameters()) wrt.push_back(p);
  const std::vector<tg::Tensor> g = tg::grad({loss}, wrt);
  compare("x grad", g[0], fixture_tensor(want.at("x_grad"), dtype));
  tg::nn::Sequential holder = model_for(fx, dtype);  // receives the gradients
  const auto ours = torch_named(holder, {g.begin() + 1, g.end()});
  const bool one_bias = fx.at("layer") != "GRU";
  for (const auto& [name, torch_grad] : fx.at("grads").items()) {
    // Keras's one bias is torch's bias_ih + bias_hh: both have its gradient, exported as ih.
    const std::string mine = one_bias && name == "0.bias_hh_l0" ? "0.bias_ih_l0" : name;
    compare(name + " grad", ours.at(mine), fixture_tensor(torch_grad, dtype));
  }
  MESSAGE(stem << ": max |tapegrad - torch| over outputs, states and gradients = " << worst);
}

}  // namespace

TEST_CASE("masked RNN/LSTM/GRU match pack_padded_sequence: outputs, states, gradients") {
  for (const char* stem : {"torch_mask_rnn", "torch_mask_lstm", "torch_mask_gru"}) {
    check_fixture(std::string(stem) + "_f32", tg::f32, 1e-5);
    check_fixture(std::string(stem) + "_f64", tg::f64, 1e-10);
  }
}
