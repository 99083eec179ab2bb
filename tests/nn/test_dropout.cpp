// Dropout: the layer (inverted dropout, train() mode only) and the cells' dropout and
// recurrent_dropout (one mask per sample and layer call, reused at every time step).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <nn/nn_test_util.hpp>

using namespace tg_test;

namespace {

// Fraction of elements of t equal to zero.
double zero_fraction(const tg::Tensor& t) {
  const std::vector<double> v = t.to(tg::f64).to_vector<double>();
  int64_t zeros = 0;
  for (const double x : v) zeros += x == 0.0;
  return static_cast<double>(zeros) / static_cast<double>(v.size());
}

// Sets a square (n, n) parameter to the identity.
void set_identity(tg::Tensor& p) {
  REQUIRE(p.dim() == 2);
  REQUIRE(p.shape()[0] == p.shape()[1]);
  const int64_t n = p.shape()[0];
  float* d = p.data<float>();
  for (int64_t i = 0; i < n * n; ++i) d[i] = i % (n + 1) == 0 ? 1.f : 0.f;
}

void set_zero(tg::Tensor& p) {
  float* d = p.data<float>();
  for (int64_t i = 0; i < p.numel(); ++i) d[i] = 0.f;
}

// A linear SimpleRNN cell (4 -> 4) through which the masks can be read: with kernel = I and
// recurrent_kernel = 0 each output step is x_t * input mask; with kernel = 0 and
// recurrent_kernel = I, h_t = h_{t-1} * recurrent mask.
std::shared_ptr<tg::nn::SimpleRNNCell> mask_reading_cell(double dropout, double recurrent) {
  auto cell = std::make_shared<tg::nn::SimpleRNNCell>(
      4, 4,
      tg::nn::SimpleRNNCellOptions{.activation = tg::nn::Activation::linear,
                                   .dropout = dropout,
                                   .recurrent_dropout = recurrent});
  if (recurrent > 0) {
    set_zero(cell->kernel);
    set_identity(cell->recurrent_kernel);
  } else {
    set_identity(cell->kernel);
    set_zero(cell->recurrent_kernel);
  }
  return cell;
}

// out[b, t, j] of a (B, T, U) tensor read as a flat vector.
struct Sequences {
  explicit Sequences(const tg::Tensor& t)
      : v(t.to(tg::f64).to_vector<double>()), steps(t.shape()[1]), units(t.shape()[2]) {}
  double at(int64_t b, int64_t t, int64_t j) const { return v[(b * steps + t) * units + j]; }
  std::vector<double> v;
  int64_t steps, units;
};

}  // namespace

TEST_CASE("Dropout drops the expected fraction and scales the kept values by 1/(1-rate)") {
  tg::manual_seed(0);
  for (const double rate : {0.1, 0.3, 0.5, 0.8}) {
    CAPTURE(rate);
    tg::nn::Dropout drop(rate);
    const tg::Tensor y = drop(tg::ones({200, 500}));  // 100,000 values: sd of the fraction < 0.0016
    CHECK(std::abs(zero_fraction(y) - rate) < 0.01);
    const float kept = static_cast<float>(1.0 / (1.0 - rate));
    for (const float v : y.to_vector<float>()) REQUIRE((v == 0.f || v == kept));
    CHECK(tg::mean(y).item() == doctest::Approx(1.0).epsilon(0.03));
  }
}

TEST_CASE("Dropout is the identity in eval mode and at rate 0") {
  tg::manual_seed(1);
  const tg::Tensor x = tg::randn({8, 5, 3});
  tg::nn::Dropout drop(0.5);
  drop.eval();
  CHECK(max_abs_diff(drop(x), x) == 0.0);
  drop.train();
  CHECK(zero_fraction(drop(x)) > 0.0);
  tg::nn::Dropout none(0.0);
  CHECK(max_abs_diff(none(x), x) == 0.0);
}

TEST_CASE("Dropout masks are reproducible from manual_seed and differ from call to call") {
  tg::nn::Dropout drop(0.5);
  const tg::Tensor x = tg::ones({16, 16}, tg::f64);
  tg::manual_seed(42);
  const tg::Tensor a = drop(x);
  const tg::Tensor b = drop(x);
  tg::manual_seed(42);
  CHECK(max_abs_diff(drop(x), a) == 0.0);
  CHECK(max_abs_diff(a, b) > 0.0);
  tg::manual_seed(42);
  const tg::Tensor mask = tg::nn::dropout_mask({16, 16}, 0.5, tg::f64);
  CHECK(max_abs_diff(mask, a) == 0.0);
  CHECK_FALSE(mask.requires_grad());
}

TEST_CASE("Dropout's gradient is the mask (gradcheck in f64 with the mask fixed by the seed)") {
  tg::nn::Dropout drop(0.4);
  const tg::DifferentiableFn fn = [&](const std::vector<tg::Tensor>& in) {
    tg::manual_seed(3);  // every evaluation draws the same mask
    return tg::tanh(drop(in[0]));
  };
  tg::manual_seed(9);
  const tg::Tensor x = uniform_f64({6, 7});
  check_gradients(fn, {x});

  tg::manual_seed(3);
  const tg::Tensor leaf = tg::ones({6, 7}, tg::f64).requires_grad_(true);
  const tg::Tensor y = drop(leaf);
  tg::sum(y).backward();
  CHECK(max_abs_diff(leaf.grad(), y.detach()) == 0.0);
  CHECK(zero_fraction(y) > 0.0);
}

TEST_CASE("dropout rates outside [0, 1) are ValueErrors naming the layer, option and rate") {
  CHECK_THROWS_WITH_AS(tg::nn::Dropout(1.0),
                       doctest::Contains("Dropout: rate must be in [0, 1), got 1"), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::nn::Dropout(-0.1), doctest::Contains("got -0.1"), tg::ValueError);
  CHECK_THROWS_AS(tg::nn::Dropout(std::numeric_limits<double>::quiet_NaN()), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::nn::dropout_mask({2, 2}, 1.0, tg::f32),
                       doctest::Contains("dropout_mask: rate must be in [0, 1), got 1"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::nn::LSTMCell(3, 4, {.dropout = 1.5}),
                       doctest::Contains("LSTMCell: dropout must be in [0, 1), got 1.5"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::nn::GRUCell(3, 4, {.recurrent_dropout = -0.5}),
                       doctest::Contains("GRUCell: recurrent_dropout must be in [0, 1), got -0.5"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::nn::SimpleRNNCell(3, 4, {.dropout = 1.0}),
                       doctest::Contains("SimpleRNNCell: dropout must be in [0, 1), got 1"),
                       tg::ValueError);
}

TEST_CASE("a cell's input dropout: one mask per sample, the same at every time step") {
  tg::manual_seed(5);
  auto cell = mask_reading_cell(0.5, 0.0);
  tg::nn::RNN layer(cell, {.return_sequences = true});
  const int64_t batch = 64, steps = 6;
  const Sequences out(layer(tg::ones({batch, steps, 4})));  // out[b, t] = input mask of b
  bool samples_differ = false;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t j = 0; j < 4; ++j) {
      const double m = out.at(b, 0, j);
      REQUIRE((m == 0.0 || m == 2.0));
      for (int64_t t = 1; t < steps; ++t) REQUIRE(out.at(b, t, j) == m);
      samples_differ |= m != out.at(0, 0, j);
    }
  }
  CHECK(samples_differ);
  CHECK(std::abs(zero_fraction(layer(tg::ones({batch, steps, 4}))) - 0.5) < 0.15);

  layer.eval();
  CHECK(zero_fraction(layer(tg::ones({batch, steps, 4}))) == 0.0);
}

TEST_CASE("a cell's recurrent dropout: the same mask on h_{t-1} at every time step") {
  tg::manual_seed(6);
  tg::nn::RNN layer(mask_reading_cell(0.0, 0.5), {.return_sequences = true});
  const int64_t batch = 32, steps = 5;
  // h_t = h_{t-1} * m with h_0 = 1 and m in {0, 2}: 2^(t+1) where kept, 0 where dropped. A
  // mask redrawn at each step would zero more units as t grows.
  const tg::Tensor h0 = tg::ones({batch, 4});
  const Sequences out(layer.run(tg::ones({batch, steps, 4}), {h0}).output);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t j = 0; j < 4; ++j) {
      const bool kept = out.at(b, 0, j) != 0.0;
      for (int64_t t = 0; t < steps; ++t) {
        REQUIRE(out.at(b, t, j) == (kept ? std::ldexp(1.0, static_cast<int>(t + 1)) : 0.0));
      }
    }
  }
  layer.eval();
  CHECK(zero_fraction(layer.run(tg::ones({batch, steps, 4}), {h0}).output) == 0.0);
}

TEST_CASE("cell dropout: a new mask per layer call, reproducible from the seed") {
  tg::nn::RNN layer(mask_reading_cell(0.5, 0.0), {.return_sequences = true});
  const tg::Tensor x = tg::ones({16, 3, 4});
  tg::manual_seed(11);
  const tg::Tensor first = layer(x);
  const tg::Tensor second = layer(x);
  CHECK(max_abs_diff(first, second) > 0.0);
  tg::manual_seed(11);
  CHECK(max_abs_diff(layer(x), first) == 0.0);
}

TEST_CASE("with dropout the all-steps projection equals masking x_t step by step") {
  for (const bool gru : {false, true}) {
    CAPTURE(gru);
    tg::manual_seed(12);
    std::shared_ptr<tg::nn::Cell> cell;
    if (gru) {
      cell = std::make_shared<tg::nn::GRUCell>(
          3, 5, tg::nn::GRUCellOptions{.dropout = 0.4, .recurrent_dropout = 0.3});
    } else {
      cell = std::make_shared<tg::nn::LSTMCell>(
          3, 5, tg::nn::LSTMCellOptions{.dropout = 0.4, .recurrent_dropout = 0.3});
    }
    tg::nn::RNN layer(cell);
    const tg::Tensor x = tg::randn({4, 6, 3});
    tg::manual_seed(13);
    const tg::Tensor projected = layer(x);
    tg::manual_seed(13);
    cell->begin_sequence(4);
    tg::nn::State s = cell->initial_state(4);
    for (int64_t t = 0; t < 6; ++t) s = cell->step(tg::select(x, 1, t), s);
    CHECK(max_abs_diff(projected, s[0]) < 1e-6);
    layer.eval();
    CHECK(max_abs_diff(projected, layer(x)) > 1e-3);  // something was dropped
  }
}

TEST_CASE("gradcheck through the dropout masks of SimpleRNN, LSTM and GRU cells (f64)") {
  tg::manual_seed(14);
  const int64_t batch = 3, steps = 4, features = 3, units = 3;
  std::vector<std::shared_ptr<tg::nn::Cell>> cells{
      std::make_shared<tg::nn::SimpleRNNCell>(
          features, units,
          tg::nn::SimpleRNNCellOptions{.dtype = tg::f64, .dropout = 0.4, .recurrent_dropout = 0.4}),
      std::make_shared<tg::nn::LSTMCell>(
          features, units,
          tg::nn::LSTMCellOptions{.dtype = tg::f64, .dropout = 0.4, .recurrent_dropout = 0.4}),
      std::make_shared<tg::nn::GRUCell>(
          features, units,
          tg::nn::GRUCellOptions{.dtype = tg::f64, .dropout = 0.4, .recurrent_dropout = 0.4})};
  for (const auto& cell : cells) {
    CAPTURE(cell->type_name());
    tg::nn::RNN layer(cell, {.return_sequences = true});
    const std::size_t n_state = cell->initial_state(batch).size();
    std::vector<tg::Tensor> inputs{uniform_f64({batch, steps, features})};
    for (std::size_t s = 0; s < n_state; ++s) inputs.push_back(uniform_f64({batch, units}));
    const tg::DifferentiableFn fn = [&](const std::vector<tg::Tensor>& in) {
      tg::manual_seed(15);  // the same masks at every evaluation
      return layer.run(in[0], tg::nn::State(in.begin() + 1, in.end())).output;
    };
    check_gradients(layer, fn, inputs, /*first_order_only=*/true);
  }
}

TEST_CASE("fit trains a model with dropout; evaluate and predict are deterministic") {
  tg::manual_seed(16);
  const tg::Tensor X = tg::rand({64, 5, 1});
  const tg::Tensor y = tg::sum(X, {1});
  auto make_model = [] {
    tg::manual_seed(17);
    return tg::nn::Sequential{
        tg::nn::RNN(std::make_shared<tg::nn::LSTMCell>(
            1, 8, tg::nn::LSTMCellOptions{.dropout = 0.2, .recurrent_dropout = 0.2})),
        tg::nn::Dropout(0.2), tg::nn::Dense(8, 1)};
  };
  tg::nn::Sequential model = make_model();
  tg::nn::MSE loss;
  tg::optim::Adam opt(model.parameters(), {.lr = 1e-2});
  const double before = tg::nn::evaluate(model, loss, X, y);
  const tg::nn::History h = tg::nn::fit(model, loss, opt, X, y, {.epochs = 30, .verbose = 0});
  const double after = tg::nn::evaluate(model, loss, X, y);
  CHECK(after < 0.5 * before);
  CHECK(h["loss"].back() < h["loss"].front());
  CHECK(tg::nn::evaluate(model, loss, X, y) == after);
  CHECK(max_abs_diff(tg::nn::predict(model, X), tg::nn::predict(model, X)) == 0.0);
  CHECK(model.is_training());  // fit/evaluate/predict restore the mode

  tg::nn::Sequential again = make_model();
  tg::optim::Adam opt2(again.parameters(), {.lr = 1e-2});
  tg::manual_seed(16);
  const tg::nn::History h1 = tg::nn::fit(again, loss, opt2, X, y, {.epochs = 3, .verbose = 0});
  tg::nn::Sequential third = make_model();
  tg::optim::Adam opt3(third.parameters(), {.lr = 1e-2});
  tg::manual_seed(16);
  const tg::nn::History h2 = tg::nn::fit(third, loss, opt3, X, y, {.epochs = 3, .verbose = 0});
  CHECK(h1["loss"] == h2["loss"]);  // the same seed, the same masks, the same run
}

TEST_CASE("a cell stepped by hand with masks for another batch says to call begin_sequence") {
  tg::nn::LSTMCell cell(3, 4, {.dropout = 0.5, .recurrent_dropout = 0.5});
  cell.begin_sequence(4);
  const tg::nn::State s = cell.initial_state(3);
  CHECK_THROWS_WITH_AS(cell.step(tg::ones({3, 3}), s),
                       doctest::Contains("call begin_sequence(batch) before each sequence"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(cell.step_projected(tg::ones({3, 16}), s),
                       doctest::Contains("recurrent dropout mask [4,4]"), tg::ShapeError);
  cell.eval();  // no dropout in eval() mode, whatever masks were drawn
  CHECK(cell.step(tg::ones({3, 3}), s)[0].shape() == tg::Shape{3, 4});
}
