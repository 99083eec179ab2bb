// Bidirectional with a mask: parity with torch's pack_padded_sequence + bidirectional=True
// (fixtures torch_mask_bi*_{f32,f64} from tests/fixtures/generate_torch_masking.py: outputs at
// the valid steps, final states of both directions, every gradient), what the padded
// positions hold, the mask reaching it through Sequential, and an f64 gradcheck.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <check_gradients.hpp>
#include <fixture.hpp>
#include <nn/nn_test_util.hpp>
#include <test_util.hpp>

using namespace tg_test;
namespace nn = tg::nn;

namespace {

std::string fixture_path(const std::string& file) {
  return std::string(TAPEGRAD_TEST_DATA_DIR) + "/" + file;
}

std::shared_ptr<nn::RNN> layer_of(const std::string& kind, int64_t in, int64_t units,
                                  nn::RNNOptions opts, tg::DType dtype) {
  if (kind == "LSTM") return std::make_shared<nn::LSTM>(in, units, opts, dtype);
  if (kind == "GRU") return std::make_shared<nn::GRU>(in, units, opts, dtype);
  return std::make_shared<nn::SimpleRNN>(in, units, opts, dtype);
}

// A fixture's torch layer as Sequential{Bidirectional} (child "0", torch's module path).
nn::Sequential model_for(const nlohmann::json& fx, tg::DType dtype, bool zero_output) {
  const nn::RNNOptions opts{
      .return_sequences = true, .return_state = true, .zero_output_for_mask = zero_output};
  return nn::Sequential{nn::Bidirectional(
      layer_of(fx.at("layer"), fx.at("input_size"), fx.at("hidden_size"), opts, dtype))};
}

// Returns the largest |tapegrad - torch| over outputs, final states and gradients.
double check_fixture(const std::string& stem, tg::DType dtype, double tolerance, bool zero_output) {
  CAPTURE(stem);
  CAPTURE(zero_output);
  const nlohmann::json fx = load_fixture(stem + ".json");
  nn::Sequential model = model_for(fx, dtype, zero_output);
  nn::import_torch(model, fixture_path(stem + ".safetensors"));
  auto& bi = dynamic_cast<nn::Bidirectional&>(model[0]);
  const auto& in = fx.at("inputs");
  const auto& want = fx.at("outputs");
  const tg::Tensor x = fixture_tensor(in.at("x"), dtype).requires_grad_(true);
  const int64_t batch = x.shape()[0], steps = x.shape()[1];
  const tg::Tensor mask = mask_of(fx.at("lengths").get<std::vector<int64_t>>(), steps, dtype);
  const nn::BidirectionalOutput out = bi.run(x, {}, mask);
  // torch's h_n / c_n: (2, B, u), the forward direction first.
  const tg::Tensor h_n = tg::stack({out.forward_state[0], out.backward_state[0]}, 0);
  const bool lstm = out.forward_state.size() == 2;
  tg::Tensor loss = tg::sum(out.output * fixture_tensor(in.at("w_out"), dtype)) +
                    tg::sum(h_n * fixture_tensor(in.at("w_h"), dtype));
  tg::Tensor c_n;
  if (lstm) {
    c_n = tg::stack({out.forward_state[1], out.backward_state[1]}, 0);
    loss = loss + tg::sum(c_n * fixture_tensor(in.at("w_c"), dtype));
  }

  double worst = 0;
  auto compare = [&](const std::string& what, const tg::Tensor& ours, const tg::Tensor& torch) {
    const double diff = max_abs_diff(ours, torch);
    CAPTURE(what);
    CHECK(diff <= tolerance);
    worst = std::max(worst, diff);
  };
  // With zero_output_for_mask the padding is zero as in torch; otherwise it carries state
  // (checked below): compare the valid steps.
  const tg::Tensor valid = tg::reshape(mask, {batch, steps, 1});
  compare("output", zero_output ? out.output : out.output * valid,
          fixture_tensor(want.at("output"), dtype));
  compare("h_n", h_n, fixture_tensor(want.at("h_n"), dtype));
  if (lstm) compare("c_n", c_n, fixture_tensor(want.at("c_n"), dtype));

  std::vector<tg::Tensor> wrt{x};
  for (const tg::Tensor& p : model.parameters()) wrt.push_back(p);
  const std::vector<tg::Tensor> g = tg::grad({loss}, wrt);
  compare("x grad", g[0], fixture_tensor(want.at("x_grad"), dtype));
  nn::Sequential holder = model_for(fx, dtype, false);  // receives the gradients
  const auto ours = torch_named(holder, {g.begin() + 1, g.end()});
  const bool one_bias = fx.at("layer") != "GRU";
  for (const auto& [name, torch_grad] : fx.at("grads").items()) {
    // Keras's one bias is torch's bias_ih + bias_hh: both have its gradient, exported as ih.
    std::string mine = name;
    if (one_bias && name.find("bias_hh") != std::string::npos) {
      mine.replace(mine.find("bias_hh"), 7, "bias_ih");
    }
    compare(name + " grad", ours.at(mine), fixture_tensor(torch_grad, dtype));
  }
  return worst;
}

// Post-padded lengths 5, 2, 4 over T = 5, with garbage in the padding.
struct PaddedBatch {
  tg::Tensor x, mask;
};
PaddedBatch padded_batch(tg::DType dtype) {
  const tg::Tensor mask = mask_of({5, 2, 4}, 5, dtype);
  const tg::Tensor valid = tg::reshape(mask, {3, 5, 1});
  const tg::Tensor x = tg::uniform({3, 5, 2}, -1.0, 1.0, dtype);
  return {x * valid + 9.0 * (1.0 - valid), mask};
}

}  // namespace

TEST_CASE("masked Bidirectional RNN/LSTM/GRU match pack_padded_sequence + bidirectional=True") {
  for (const std::string stem : {"torch_mask_birnn", "torch_mask_bilstm", "torch_mask_bigru"}) {
    for (const bool zero_output : {false, true}) {
      const double f32 = check_fixture(stem + "_f32", tg::f32, 1e-5, zero_output);
      const double f64 = check_fixture(stem + "_f64", tg::f64, 1e-10, zero_output);
      MESSAGE(stem << std::string(zero_output ? " (zero_output_for_mask)" : "")
                   << ": max |tapegrad - torch| over outputs, states, gradients: f32 " << f32
                   << ", f64 " << f64);
    }
  }
}

TEST_CASE("masked Bidirectional: padded positions carry each direction's state") {
  tg::manual_seed(40);
  const PaddedBatch batch = padded_batch(tg::f32);
  nn::Bidirectional bi(std::make_shared<nn::GRU>(
      2, 3, nn::RNNOptions{.return_sequences = true, .return_state = true}));
  const nn::BidirectionalOutput out = bi.run(batch.x, {}, batch.mask);
  // Sample 1 (length 2), padded steps 2..4: forward half = its final state, backward half = the
  // backward final state, which is the backward output at step 0.
  const tg::Tensor sample = tg::select(out.output, 0, 1);
  const tg::Tensor h_f = tg::select(out.forward_state[0], 0, 1);
  const tg::Tensor h_b = tg::select(out.backward_state[0], 0, 1);
  CHECK(max_abs_diff(tg::slice(tg::select(sample, 0, 1), 0, 0, 3), h_f) == 0.0);
  CHECK(max_abs_diff(tg::slice(tg::select(sample, 0, 0), 0, 3, 6), h_b) == 0.0);
  for (int64_t t = 2; t < 5; ++t) {
    CAPTURE(t);
    CHECK(max_abs_diff(tg::slice(tg::select(sample, 0, t), 0, 0, 3), h_f) == 0.0);
    CHECK(max_abs_diff(tg::slice(tg::select(sample, 0, t), 0, 3, 6), h_b) == 0.0);
  }
  // The padding's values do not reach anything.
  const tg::Tensor valid = tg::reshape(batch.mask, {3, 5, 1});
  const nn::BidirectionalOutput clean = bi.run(batch.x * valid, {}, batch.mask);
  CHECK(max_abs_diff(clean.output, out.output) == 0.0);
  CHECK(max_abs_diff(clean.backward_state[0], out.backward_state[0]) == 0.0);

  // With zero_output_for_mask on both layers the padding is zero, the valid steps unchanged.
  nn::Bidirectional zeroed(std::make_shared<nn::GRU>(
      2, 3, nn::RNNOptions{.return_sequences = true, .zero_output_for_mask = true}));
  for (std::size_t i = 0; i < bi.parameters().size(); ++i) {
    tg::kernel::copy_into(zeroed.parameters()[i], bi.parameters()[i]);
  }
  const tg::Tensor z = zeroed.run(batch.x, {}, batch.mask).output;
  CHECK(max_abs_diff(z, out.output * valid) == 0.0);
  CHECK(max_abs_diff(z * (1.0 - valid), tg::zeros({3, 5, 6})) == 0.0);
}

TEST_CASE("masked Bidirectional: Sequential and predict hand the mask on") {
  tg::manual_seed(41);
  const PaddedBatch batch = padded_batch(tg::f32);
  auto bi = std::make_shared<nn::Bidirectional>(std::make_shared<nn::LSTM>(2, 3));
  nn::Sequential model{bi, nn::Dense(6, 1)};
  const tg::Tensor y = model(batch.x, batch.mask);
  CHECK(y.shape() == tg::Shape{3, 1});
  const tg::Tensor direct = model[1](bi->run(batch.x, {}, batch.mask).output);
  CHECK(max_abs_diff(y, direct) == 0.0);
  // Without the mask reaching it, the garbage in the padding would change the output.
  const tg::Tensor valid = tg::reshape(batch.mask, {3, 5, 1});
  CHECK(max_abs_diff(model(batch.x * valid, batch.mask), y) == 0.0);
  CHECK(max_abs_diff(model(batch.x), y) > 1e-3);
  CHECK(max_abs_diff(nn::predict(model, batch.x, 2, batch.mask), y) <= 1e-6);
}

TEST_CASE("masked Bidirectional gradcheck (f64): inputs and every parameter") {
  tg::manual_seed(42);
  const PaddedBatch batch = padded_batch(tg::f64);
  for (const std::string kind : {"RNN", "LSTM", "GRU"}) {
    CAPTURE(kind);
    nn::Bidirectional bi(layer_of(kind, 2, 3, {.return_sequences = true}, tg::f64),
                         {.merge = nn::MergeMode::concat});
    const tg::Tensor mask = batch.mask;
    // The padded input steps get no gradient, so only the valid ones are checked inputs.
    const tg::Tensor valid = tg::reshape(mask, {3, 5, 1});
    check_gradients(
        bi,
        [&](const std::vector<tg::Tensor>& in) {
          return bi.run(in[0] * valid, {}, mask).output * valid;
        },
        {batch.x}, /*first_order_only=*/kind != "RNN");
  }
}

TEST_CASE("masked Bidirectional: a mask of the wrong shape names the layer and the shapes") {
  nn::Bidirectional bi(std::make_shared<nn::SimpleRNN>(2, 3));
  CHECK_THROWS_WITH_AS((void)bi.run(tg::ones({3, 5, 2}), {}, tg::ones({3, 4})),
                       doctest::Contains("the mask has shape [3,4], expected [3,5] (batch, time)"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(nn::reverse_within_length(tg::ones({3, 5}), tg::ones({3, 5})),
                       doctest::Contains("reverse_within_length: expected x (batch, time, "
                                         "features) and a mask (batch, time), got x of shape "
                                         "[3,5] and a mask of shape [3,5]"),
                       tg::ShapeError);
}

TEST_CASE("reverse_within_length reverses each sample's valid steps, padding in place") {
  const tg::Tensor x = tg::reshape(tg::arange(8), {2, 4, 1});
  // Sample 0: valid steps 0..2 (post-padding); sample 1: valid 1 and 3 (holes stay put).
  const tg::Tensor mask = tg::tensor({1.f, 1.f, 1.f, 0.f, 0.f, 1.f, 0.f, 1.f});
  const tg::Tensor r = nn::reverse_within_length(x, tg::reshape(mask, {2, 4}));
  CHECK(r.to_vector<float>() == std::vector<float>{2, 1, 0, 3, 4, 7, 6, 5});
  // Its own inverse.
  CHECK(max_abs_diff(nn::reverse_within_length(r, tg::reshape(mask, {2, 4})), x) == 0.0);
}
