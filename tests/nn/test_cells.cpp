// The built-in cells and Dense: one step against the Keras formulas written out by hand, and
// every gradient (input, state and all parameters) gradchecked in f64, first and second order.
#include <doctest/doctest.h>

#include <nn/nn_test_util.hpp>

using namespace tg_test;

namespace {

// A cell's step as a function of [x, state...], checked with respect to them and every
// parameter: step(x, state), or with `projected` the same through
// step_projected(project_inputs(x), state). The output is the whole new state concatenated
// along the feature axis (LSTM: [h, c]).
void check_cell_gradients(tg::nn::Cell& cell, int64_t batch, int64_t features, bool projected) {
  if (projected) REQUIRE(cell.has_input_projection());
  const std::size_t n_state = cell.initial_state(batch).size();
  std::vector<tg::Tensor> inputs{uniform_f64({batch, features})};
  for (std::size_t s = 0; s < n_state; ++s) inputs.push_back(uniform_f64({batch, cell.units()}));
  const tg::DifferentiableFn fn = [&](const std::vector<tg::Tensor>& in) {
    const tg::nn::State state(in.begin() + 1, in.end());
    return tg::concat(projected ? cell.step_projected(cell.project_inputs(in[0]), state)
                                : cell.step(in[0], state),
                      1);
  };
  check_gradients(cell, fn, inputs);
}

// Both paths of check_cell_gradients.
void check_cell_gradients(tg::nn::Cell& cell, int64_t batch, int64_t features) {
  for (const bool projected : {false, true}) {
    CAPTURE(projected);
    check_cell_gradients(cell, batch, features, projected);
  }
}

// Parameters drawn away from the initializers' special values (zero biases, orthogonal
// matrices), so the checks see generic weights.
void randomize(tg::nn::Module& m) {
  for (const tg::Tensor& p : m.parameters()) {
    tg::kernel::copy_into(p, tg::uniform(p.shape(), -0.8, 0.8, p.dtype()));
  }
}

}  // namespace

TEST_CASE("SimpleRNNCell: step is tanh(x K + h R + b)") {
  tg::manual_seed(1);
  tg::nn::SimpleRNNCell cell(3, 4, {.dtype = tg::f64});
  randomize(cell);
  const tg::Tensor x = uniform_f64({2, 3});
  const tg::Tensor h = uniform_f64({2, 4});
  const tg::nn::State s = cell.step(x, {h});
  REQUIRE(s.size() == 1);
  const tg::Tensor expected =
      tg::tanh(tg::matmul(x, cell.kernel) + tg::matmul(h, cell.recurrent_kernel) + cell.bias);
  CHECK(max_abs_diff(s[0], expected) < 1e-14);
  // Another activation is honoured.
  tg::nn::SimpleRNNCell relu_cell(3, 4, {.activation = tg::nn::Activation::relu, .dtype = tg::f64});
  randomize(relu_cell);
  const tg::Tensor r = relu_cell.step(x, {h})[0];
  CHECK(max_abs_diff(r, tg::relu(tg::matmul(x, relu_cell.kernel) +
                                 tg::matmul(h, relu_cell.recurrent_kernel) + relu_cell.bias)) <
        1e-14);
}

TEST_CASE("LSTMCell: step follows the Keras formulas, gate order i, f, c, o") {
  tg::manual_seed(2);
  const int64_t u = 3;
  tg::nn::LSTMCell cell(2, u, {.dtype = tg::f64});
  randomize(cell);
  const tg::Tensor x = uniform_f64({2, 2});
  const tg::Tensor h = uniform_f64({2, u});
  const tg::Tensor c = uniform_f64({2, u});
  const tg::nn::State s = cell.step(x, {h, c});
  REQUIRE(s.size() == 2);
  const tg::Tensor z =
      tg::matmul(x, cell.kernel) + tg::matmul(h, cell.recurrent_kernel) + cell.bias;
  const auto block = [&](int k) { return tg::slice(z, 1, k * u, (k + 1) * u); };
  const tg::Tensor i = tg::sigmoid(block(0));
  const tg::Tensor f = tg::sigmoid(block(1));
  const tg::Tensor g = tg::tanh(block(2));
  const tg::Tensor o = tg::sigmoid(block(3));
  const tg::Tensor c_new = f * c + i * g;
  CHECK(max_abs_diff(s[1], c_new) < 1e-14);
  CHECK(max_abs_diff(s[0], o * tg::tanh(c_new)) < 1e-14);
}

TEST_CASE("GRUCell: step follows Keras reset_after=True, gate order z, r, h") {
  tg::manual_seed(3);
  const int64_t u = 2;
  tg::nn::GRUCell cell(3, u, {.dtype = tg::f64});
  randomize(cell);
  const tg::Tensor x = uniform_f64({2, 3});
  const tg::Tensor h = uniform_f64({2, u});
  const tg::nn::State s = cell.step(x, {h});
  REQUIRE(s.size() == 1);
  const tg::Tensor mx = tg::matmul(x, cell.kernel) + tg::select(cell.bias, 0, 0);
  const tg::Tensor mh = tg::matmul(h, cell.recurrent_kernel) + tg::select(cell.bias, 0, 1);
  const auto block = [&](const tg::Tensor& m, int k) {
    return tg::slice(m, 1, k * u, (k + 1) * u);
  };
  const tg::Tensor z = tg::sigmoid(block(mx, 0) + block(mh, 0));
  const tg::Tensor r = tg::sigmoid(block(mx, 1) + block(mh, 1));
  const tg::Tensor candidate = tg::tanh(block(mx, 2) + r * block(mh, 2));
  CHECK(max_abs_diff(s[0], z * h + (1.0 - z) * candidate) < 1e-14);
}

TEST_CASE("cells: step(x, s) equals step_projected(project_inputs(x), s)") {
  tg::manual_seed(4);
  std::vector<std::shared_ptr<tg::nn::Cell>> cells{
      std::make_shared<tg::nn::SimpleRNNCell>(3, 2, tg::nn::SimpleRNNCellOptions{.dtype = tg::f64}),
      std::make_shared<tg::nn::LSTMCell>(3, 2, tg::nn::LSTMCellOptions{.dtype = tg::f64}),
      std::make_shared<tg::nn::GRUCell>(3, 2, tg::nn::GRUCellOptions{.dtype = tg::f64})};
  for (const auto& cell : cells) {
    CAPTURE(cell->type_name());
    randomize(*cell);
    const tg::Tensor x = uniform_f64({2, 3});
    tg::nn::State s;
    for (std::size_t i = 0; i < cell->initial_state(2).size(); ++i)
      s.push_back(uniform_f64({2, 2}));
    const tg::nn::State a = cell->step(x, s);
    const tg::nn::State b = cell->step_projected(cell->project_inputs(x), s);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(max_abs_diff(a[i], b[i]) < 1e-14);
  }
}

TEST_CASE("cells: parameter shapes follow Keras") {
  const tg::nn::SimpleRNNCell rnn(3, 4);
  CHECK(rnn.kernel.shape() == tg::Shape{3, 4});
  CHECK(rnn.recurrent_kernel.shape() == tg::Shape{4, 4});
  CHECK(rnn.bias.shape() == tg::Shape{4});
  const tg::nn::LSTMCell lstm(3, 4);
  CHECK(lstm.kernel.shape() == tg::Shape{3, 16});
  CHECK(lstm.recurrent_kernel.shape() == tg::Shape{4, 16});
  CHECK(lstm.bias.shape() == tg::Shape{16});
  CHECK(lstm.initial_state(5).size() == 2);
  const tg::nn::GRUCell gru(3, 4);
  CHECK(gru.kernel.shape() == tg::Shape{3, 12});
  CHECK(gru.recurrent_kernel.shape() == tg::Shape{4, 12});
  CHECK(gru.bias.shape() == tg::Shape{2, 12});
  CHECK(gru.initial_state(5).size() == 1);
  CHECK(gru.initial_state(5)[0].shape() == tg::Shape{5, 4});
  CHECK(gru.dtype() == tg::f32);
}

TEST_CASE("SimpleRNNCell gradients (x, h, kernel, recurrent_kernel, bias), f64") {
  tg::manual_seed(10);
  tg::nn::SimpleRNNCell cell(3, 4, {.dtype = tg::f64});
  randomize(cell);
  check_cell_gradients(cell, 2, 3);
  tg::nn::SimpleRNNCell sigmoid_cell(2, 3,
                                     {.activation = tg::nn::Activation::sigmoid, .dtype = tg::f64});
  randomize(sigmoid_cell);
  check_cell_gradients(sigmoid_cell, 2, 2, /*projected=*/false);
}

TEST_CASE("LSTMCell gradients (x, h, c, kernel, recurrent_kernel, bias), f64") {
  tg::manual_seed(11);
  tg::nn::LSTMCell cell(2, 3, {.dtype = tg::f64});
  randomize(cell);
  check_cell_gradients(cell, 2, 2);
}

TEST_CASE("GRUCell gradients (x, h, kernel, recurrent_kernel, bias (2, 3u)), f64") {
  tg::manual_seed(12);
  tg::nn::GRUCell cell(3, 2, {.dtype = tg::f64});
  randomize(cell);
  check_cell_gradients(cell, 2, 3);
}

TEST_CASE("Dense: y = activation(x K + b), on (B, F) and (B, T, F)") {
  tg::manual_seed(5);
  tg::nn::Dense dense(3, 2, {.activation = tg::nn::Activation::tanh, .dtype = tg::f64});
  randomize(dense);
  const tg::Tensor x2 = uniform_f64({4, 3});
  CHECK(max_abs_diff(dense(x2), tg::tanh(tg::matmul(x2, dense.kernel) + dense.bias)) < 1e-14);
  const tg::Tensor x3 = uniform_f64({2, 5, 3});
  const tg::Tensor y3 = dense(x3);
  REQUIRE(y3.shape() == tg::Shape{2, 5, 2});
  // Each time step is the 2-D layer applied to that step.
  for (int64_t t = 0; t < 5; ++t) {
    CHECK(max_abs_diff(tg::select(y3, 1, t), dense(tg::select(x3, 1, t))) < 1e-14);
  }
  tg::nn::Dense no_bias(3, 2, {.use_bias = false});
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias.named_parameters().size() == 1);
  CHECK_THROWS_AS(dense(uniform_f64({4, 2})), tg::ShapeError);
  CHECK_THROWS_AS(dense(uniform_f64({3})), tg::ShapeError);
}

TEST_CASE("Dense gradients with every activation, f64") {
  using A = tg::nn::Activation;
  for (const A activation : {A::linear, A::tanh, A::sigmoid, A::relu, A::softmax}) {
    CAPTURE(static_cast<int>(activation));
    tg::manual_seed(20);
    tg::nn::Dense dense(3, 3, {.activation = activation, .dtype = tg::f64});
    randomize(dense);
    tg::Tensor x = uniform_f64({2, 3});
    if (activation == A::relu) {
      // Finite differences are meaningless at relu's kink: keep pre-activations off 0.
      tg::Tensor pre = tg::matmul(x, dense.kernel) + dense.bias;
      for (int attempt = 0; attempt < 100; ++attempt) {
        const auto v = pre.to_vector<double>();
        double closest = 1;
        bool any_positive = false;
        for (double e : v) {
          closest = std::min(closest, std::abs(e));
          any_positive = any_positive || e > 0;
        }
        if (closest > 1e-2 && any_positive) break;
        x = uniform_f64({2, 3});
        pre = tg::matmul(x, dense.kernel) + dense.bias;
      }
      double closest = 1;
      for (double e : pre.to_vector<double>()) closest = std::min(closest, std::abs(e));
      REQUIRE(closest > 1e-2);
    }
    check_gradients(dense, x);
    // (B, T, F) input as well.
    if (activation != A::relu) check_gradients(dense, uniform_f64({2, 3, 3}));
  }
}

TEST_CASE("LSTMCell and GRUCell under ExpandGatesGuard: the fused ops' values, from plain ops") {
  tg::manual_seed(13);
  std::vector<std::shared_ptr<tg::nn::Cell>> cells{std::make_shared<tg::nn::LSTMCell>(3, 4),
                                                   std::make_shared<tg::nn::GRUCell>(3, 4)};
  for (const auto& cell : cells) {
    CAPTURE(cell->type_name());
    randomize(*cell);
    const tg::Tensor x = tg::uniform({2, 3}, -1.0, 1.0);
    tg::nn::State s;
    for (std::size_t i = 0; i < cell->initial_state(2).size(); ++i)
      s.push_back(tg::uniform({2, 4}, -1.0, 1.0));
    const tg::nn::State fused = cell->step(x, s);
    tg::nn::State expanded;
    {
      const tg::ExpandGatesGuard guard;
      CHECK(tg::ExpandGatesGuard::enabled());
      expanded = cell->step(x, s);
    }
    CHECK_FALSE(tg::ExpandGatesGuard::enabled());
    REQUIRE(fused.size() == expanded.size());
    for (std::size_t i = 0; i < fused.size(); ++i)
      CHECK(max_abs_diff(fused[i], expanded[i]) < 1e-6);
  }
}

TEST_CASE("LSTMCell and GRUCell gradients under ExpandGatesGuard, f64") {
  const tg::ExpandGatesGuard expanded;
  tg::manual_seed(14);
  tg::nn::LSTMCell lstm(2, 3, {.dtype = tg::f64});
  randomize(lstm);
  check_cell_gradients(lstm, 2, 2);
  tg::nn::GRUCell gru(3, 2, {.dtype = tg::f64});
  randomize(gru);
  check_cell_gradients(gru, 2, 3);
}
