// Masking of padded sequences in RNN::run(x, initial, mask), Sequential and fit.
//
// The reference for every check is the same sample run alone on its own length: a padded
// batch with its mask must give, per sample, the outputs at the valid steps, the final state
// and the gradients (input and parameters) of that run; at masked steps the outputs are the
// carried state (Keras) or zeros (zero_output_for_mask).
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include <nn/nn_test_util.hpp>
#include <test_util.hpp>

using namespace tg_test;

namespace {

enum class Padding { pre, post };

std::shared_ptr<tg::nn::RNN> make_layer(const std::string& kind, tg::nn::RNNOptions opts,
                                        tg::DType dtype = tg::f32) {
  if (kind == "lstm") return std::make_shared<tg::nn::LSTM>(3, 5, opts, dtype);
  if (kind == "gru") return std::make_shared<tg::nn::GRU>(3, 5, opts, dtype);
  return std::make_shared<tg::nn::SimpleRNN>(3, 5, opts, dtype);
}

// Lengths of the batch's samples; the batch is (4, 6, 3).
const std::vector<int64_t> kLengths{6, 2, 4, 1};
constexpr int64_t kSteps = 6;

// The padded batch's valid steps hold `x`'s; the padding holds garbage (it must not matter).
struct PaddedBatch {
  tg::Tensor x;     // (B, T, F)
  tg::Tensor mask;  // (B, T)
  int64_t first_valid(std::size_t b) const {
    return padding == Padding::pre ? kSteps - kLengths[b] : 0;
  }
  Padding padding;
};

PaddedBatch padded_batch(const tg::Tensor& x, Padding padding) {
  std::vector<tg::Tensor> rows, masks;
  for (std::size_t b = 0; b < kLengths.size(); ++b) {
    const int64_t pad = kSteps - kLengths[b];
    const tg::Tensor garbage = tg::full({pad, 3}, 7.5, x.dtype());
    const tg::Tensor valid = tg::select(x, 0, static_cast<int64_t>(b)).detach();
    const tg::Tensor mine = tg::slice(valid, 0, 0, kLengths[b]);
    rows.push_back(padding == Padding::pre ? tg::concat({garbage, mine})
                                           : tg::concat({mine, garbage}));
    const tg::Tensor ones = tg::ones({kLengths[b]}, x.dtype());
    const tg::Tensor zeros = tg::zeros({pad}, x.dtype());
    masks.push_back(padding == Padding::pre ? tg::concat({zeros, ones})
                                            : tg::concat({ones, zeros}));
  }
  return {tg::stack(rows).contiguous(), tg::stack(masks).contiguous(), padding};
}

// Gradients of sum(final h * u) with respect to the input and every parameter.
std::vector<tg::Tensor> gradients(tg::nn::RNN& layer, const tg::Tensor& loss, const tg::Tensor& x) {
  std::vector<tg::Tensor> wrt{x};
  for (const tg::Tensor& p : layer.parameters()) wrt.push_back(p);
  return tg::grad({loss}, wrt);
}

void check_matches_samples_alone(const std::string& kind, Padding padding, bool backwards) {
  CAPTURE(kind);
  CAPTURE(static_cast<int>(padding));
  CAPTURE(backwards);
  tg::manual_seed(3);
  auto layer = make_layer(kind, {.return_sequences = true, .go_backwards = backwards});
  const tg::Tensor data = tg::randn({4, kSteps, 3});
  const PaddedBatch batch = padded_batch(data, padding);
  const tg::Tensor x = batch.x.detach().requires_grad_(true);
  const tg::nn::RNNOutput out = layer->run(x, {}, batch.mask);
  const tg::Tensor u = tg::uniform({4, 5}, 0.5, 1.5);
  const auto batch_grads = gradients(*layer, tg::sum(out.state[0] * u), x);

  std::vector<tg::Tensor> param_sums;
  for (std::size_t b = 0; b < kLengths.size(); ++b) {
    CAPTURE(b);
    const auto i = static_cast<int64_t>(b);
    const int64_t at = batch.first_valid(b);
    const tg::Tensor alone_x =
        tg::reshape(tg::slice(tg::select(batch.x, 0, i), 0, at, at + kLengths[b]),
                    {1, kLengths[b], 3})
            .contiguous()
            .requires_grad_(true);
    const tg::nn::RNNOutput alone = layer->run(alone_x);
    for (std::size_t k = 0; k < out.state.size(); ++k) {
      CHECK(max_abs_diff(tg::slice(out.state[k], 0, i, i + 1), alone.state[k]) < 1e-6);
    }
    // Forwards the valid outputs sit where their inputs are; backwards (reversed within the
    // length) they fill positions first_valid .. first_valid + L - 1 in processing order too.
    const tg::Tensor mine = tg::slice(tg::slice(out.output, 0, i, i + 1), 1, at, at + kLengths[b]);
    CHECK(max_abs_diff(mine, alone.output) < 1e-6);
    // Keras: a masked step repeats the carried state (the initial zeros before pre-padding).
    const tg::Tensor last =
        tg::select(tg::select(out.output, 0, i), 0, padding == Padding::post ? kSteps - 1 : 0);
    const tg::Tensor expected =
        padding == Padding::post ? tg::select(alone.state[0], 0, 0) : tg::zeros({5});
    if (kLengths[b] < kSteps) CHECK(max_abs_diff(last, expected) < 1e-6);

    const tg::Tensor ub = tg::slice(u, 0, i, i + 1);
    const auto g = gradients(*layer, tg::sum(alone.state[0] * ub), alone_x);
    const tg::Tensor gx = tg::slice(tg::select(batch_grads[0], 0, i), 0, at, at + kLengths[b]);
    CHECK(max_abs_diff(gx, tg::select(g[0], 0, 0)) < 1e-5);
    for (std::size_t p = 1; p < g.size(); ++p) {
      if (param_sums.size() < p) param_sums.push_back(tg::zeros_like(g[p]));
      param_sums[p - 1] = param_sums[p - 1] + g[p];
    }
  }
  // The padding gets no gradient, and the parameters' is the sum of the samples' own.
  const tg::Tensor padded_grad = batch_grads[0] * (1.0 - tg::reshape(batch.mask, {4, kSteps, 1}));
  CHECK(max_abs_diff(padded_grad, tg::zeros_like(padded_grad)) == 0.0);
  for (std::size_t p = 0; p < param_sums.size(); ++p) {
    CAPTURE(p);
    CHECK(max_abs_diff(batch_grads[p + 1], param_sums[p]) < 1e-5);
  }
}

// A module that runs its layer with a fixed mask, for the gradient check.
struct MaskedRun : tg::nn::Module {
  MaskedRun(std::shared_ptr<tg::nn::RNN> layer, tg::Tensor mask)
      : layer_(register_module("layer", std::move(layer))), mask_(std::move(mask)) {}
  tg::Tensor forward(const tg::Tensor& x) override { return layer_->run(x, {}, mask_).output; }
  std::shared_ptr<tg::nn::RNN> layer_;
  tg::Tensor mask_;
};

}  // namespace

TEST_CASE("masked RNN: a padded batch gives each sample's own run (outputs, states, gradients)") {
  for (const char* kind : {"simple", "lstm", "gru"}) {
    for (Padding padding : {Padding::post, Padding::pre}) {
      check_matches_samples_alone(kind, padding, false);
    }
  }
}

TEST_CASE("masked RNN: go_backwards reverses each sequence within its own length") {
  for (const char* kind : {"simple", "lstm", "gru"}) {
    for (Padding padding : {Padding::post, Padding::pre}) {
      check_matches_samples_alone(kind, padding, true);
    }
  }
}

TEST_CASE("masked RNN: without return_sequences the output is the last valid output") {
  tg::manual_seed(4);
  auto layer = make_layer("gru", {});
  const PaddedBatch batch = padded_batch(tg::randn({4, kSteps, 3}), Padding::post);
  const tg::nn::RNNOutput out = layer->run(batch.x, {}, batch.mask);
  CHECK(out.output.shape() == tg::Shape{4, 5});
  CHECK(max_abs_diff(out.output, out.state[0]) == 0.0);
  const tg::Tensor second = tg::slice(tg::slice(batch.x, 0, 1, 2), 1, 0, kLengths[1]);
  CHECK(max_abs_diff(tg::slice(out.output, 0, 1, 2), layer->run(second.contiguous()).output) <
        1e-6);
}

TEST_CASE("masked RNN: zero_output_for_mask zeroes the outputs at masked steps only") {
  tg::manual_seed(5);
  auto carried = make_layer("lstm", {.return_sequences = true});
  tg::manual_seed(5);  // the same weights
  auto zeroed = make_layer("lstm", {.return_sequences = true, .zero_output_for_mask = true});
  const PaddedBatch batch = padded_batch(tg::randn({4, kSteps, 3}), Padding::post);
  const tg::nn::RNNOutput a = carried->run(batch.x, {}, batch.mask);
  const tg::nn::RNNOutput b = zeroed->run(batch.x, {}, batch.mask);
  const tg::Tensor m = tg::reshape(batch.mask, {4, kSteps, 1});
  CHECK(max_abs_diff(b.output, a.output * m) == 0.0);
  CHECK(max_abs_diff(b.state[0], a.state[0]) == 0.0);
  CHECK(max_abs_diff(b.state[1], a.state[1]) == 0.0);
}

TEST_CASE("masked RNN: an all-ones mask changes nothing; any float dtype works") {
  tg::manual_seed(6);
  auto layer = make_layer("simple", {.return_sequences = true});
  const tg::Tensor x = tg::randn({2, 4, 3});
  const tg::Tensor plain = layer->run(x).output;
  CHECK(max_abs_diff(layer->run(x, {}, tg::ones({2, 4})).output, plain) == 0.0);
  CHECK(max_abs_diff(layer->run(x, {}, tg::ones({2, 4}, tg::f64)).output, plain) == 0.0);
  // Nonzero means valid, whatever the value.
  CHECK(max_abs_diff(layer->run(x, {}, tg::full({2, 4}, 0.25)).output, plain) == 0.0);
}

TEST_CASE("masked RNN: a mask of the wrong shape names both shapes") {
  auto layer = make_layer("lstm", {});
  const tg::Tensor x = tg::zeros({4, 6, 3});
  CHECK_THROWS_WITH_AS(layer->run(x, {}, tg::ones({4, 5})),
                       doctest::Contains("LSTM: the mask has shape [4,5], expected [4,6] (batch, "
                                         "time) to match the input of shape [4,6,3]"),
                       tg::ShapeError);
  CHECK_THROWS_AS(layer->run(x, {}, tg::ones({4, 6, 1})), tg::ShapeError);
  CHECK_THROWS_AS(layer->run(x, {}, tg::ones({6})), tg::ShapeError);
}

TEST_CASE("masked RNN: gradcheck in f64 through the mask (post-padding, backwards, LSTM/GRU)") {
  tg::manual_seed(7);
  const tg::Tensor mask = tg::from_vector(std::vector<double>{1, 1, 1, 1, 0, 0, 1, 1}, {2, 4});
  const tg::Tensor x = tg::randn({2, 4, 3}, tg::f64);
  for (const char* kind : {"simple", "lstm", "gru"}) {
    for (bool backwards : {false, true}) {
      CAPTURE(kind);
      CAPTURE(backwards);
      MaskedRun m(make_layer(kind, {.return_sequences = true, .go_backwards = backwards}, tg::f64),
                  mask);
      check_gradients(m, x, /*first_order_only=*/true);
    }
  }
}

TEST_CASE("Sequential passes the mask to its recurrent layers; a layer's h_T consumes it") {
  tg::manual_seed(8);
  tg::nn::Sequential model{tg::nn::LSTM(3, 5, {.return_sequences = true}), tg::nn::GRU(5, 4),
                           tg::nn::Dense(4, 1)};
  const PaddedBatch batch = padded_batch(tg::randn({4, kSteps, 3}), Padding::post);
  const tg::Tensor out = model(batch.x, batch.mask);
  CHECK(out.shape() == tg::Shape{4, 1});
  for (std::size_t b = 0; b < kLengths.size(); ++b) {
    const auto i = static_cast<int64_t>(b);
    const tg::Tensor alone =
        tg::slice(tg::slice(batch.x, 0, i, i + 1), 1, 0, kLengths[b]).contiguous();
    CHECK(max_abs_diff(tg::slice(out, 0, i, i + 1), model(alone)) < 1e-6);
  }
}

TEST_CASE("fit/evaluate/predict with a mask: the padding's values do not matter") {
  const PaddedBatch batch = padded_batch(tg::randn({4, kSteps, 3}), Padding::post);
  // Other garbage in the padding: 0 instead of 7.5.
  const tg::Tensor other_x = batch.x * tg::reshape(batch.mask, {4, kSteps, 1});
  const tg::Tensor y = tg::randn({4, 1});
  auto train = [&](const tg::Tensor& x) {
    tg::manual_seed(9);
    tg::nn::Sequential model{tg::nn::SimpleRNN(3, 5), tg::nn::Dense(5, 1)};
    tg::nn::MSE loss;
    tg::optim::Adam opt(model.parameters(), {.lr = 1e-2});
    tg::nn::fit(
        model, loss, opt, x, y,
        {.epochs = 3, .batch_size = 3, .validation_split = 0.25, .verbose = 0, .mask = batch.mask});
    return std::pair{tg::nn::predict(model, x, 2, batch.mask),
                     tg::nn::evaluate(model, loss, x, y, 3, batch.mask)};
  };
  const auto [pred_a, loss_a] = train(batch.x);
  const auto [pred_b, loss_b] = train(other_x);
  CHECK(max_abs_diff(pred_a, pred_b) == 0.0);
  CHECK(loss_a == loss_b);
  // Without the mask the padding does matter (the test is not vacuous).
  tg::manual_seed(9);
  tg::nn::Sequential model{tg::nn::SimpleRNN(3, 5), tg::nn::Dense(5, 1)};
  CHECK(max_abs_diff(tg::nn::predict(model, batch.x), tg::nn::predict(model, other_x)) > 1e-3);
}

TEST_CASE("fit: a mask that does not match X names both shapes") {
  tg::nn::Sequential model{tg::nn::SimpleRNN(3, 5), tg::nn::Dense(5, 1)};
  tg::nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  const tg::Tensor X = tg::zeros({4, 6, 3});
  CHECK_THROWS_WITH_AS(
      tg::nn::fit(model, loss, opt, X, tg::zeros({4, 1}), {.verbose = 0, .mask = tg::ones({4, 5})}),
      doctest::Contains("fit: the mask has shape [4,5], expected (samples, time) matching X of "
                        "shape [4,6,3]"),
      tg::ShapeError);
  CHECK_THROWS_AS(tg::nn::predict(model, X, 32, tg::ones({3, 6})), tg::ShapeError);
}

TEST_CASE("masked RNN: steps masked for every sample still repeat the state (or give zeros)") {
  tg::manual_seed(10);
  const tg::Tensor x = tg::randn({2, 5, 3});
  // Lengths 2 and 3 post-padded: steps 3 and 4 are padding for both samples.
  const tg::Tensor mask = tg::from_vector(std::vector<float>{1, 1, 0, 0, 0, 1, 1, 1, 0, 0}, {2, 5});
  for (bool zero : {false, true}) {
    CAPTURE(zero);
    tg::manual_seed(11);
    auto layer = make_layer("lstm", {.return_sequences = true, .zero_output_for_mask = zero});
    const tg::nn::RNNOutput out = layer->run(x, {}, mask);
    const tg::Tensor alone =
        layer->run(tg::slice(x, 1, 0, 3).contiguous(), {}, tg::slice(mask, 1, 0, 3).contiguous())
            .output;
    CHECK(max_abs_diff(tg::slice(out.output, 1, 0, 3), alone) == 0.0);
    const tg::Tensor last = tg::select(out.output, 1, 4);
    CHECK(max_abs_diff(last, zero ? tg::zeros_like(last) : out.state[0]) == 0.0);
  }
}
