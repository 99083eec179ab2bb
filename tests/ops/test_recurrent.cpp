// The fused cell ops of ops/recurrent: gradchecked to second order, equal to the chain of
// ordinary ops they replace (values, gradients and second derivatives), shape errors, and
// visible on the tape by name.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <check_gradients.hpp>

using namespace tg_test;

namespace {

// The composite formulas, stacked like the fused ops' outputs.
tg::Tensor lstm_composite(const tg::Tensor& z, const tg::Tensor& c_prev) {
  const int64_t u = c_prev.shape()[1];
  const tg::Tensor i = tg::sigmoid(tg::slice(z, 1, 0, u));
  const tg::Tensor f = tg::sigmoid(tg::slice(z, 1, u, 2 * u));
  const tg::Tensor g = tg::tanh(tg::slice(z, 1, 2 * u, 3 * u));
  const tg::Tensor o = tg::sigmoid(tg::slice(z, 1, 3 * u, 4 * u));
  const tg::Tensor c = f * c_prev + i * g;
  return tg::stack({o * tg::tanh(c), c, i, f, g, o});
}

tg::Tensor gru_composite(const tg::Tensor& p, const tg::Tensor& mh, const tg::Tensor& h) {
  const int64_t u = h.shape()[1];
  const tg::Tensor zr = tg::sigmoid(tg::slice(p, 1, 0, 2 * u) + tg::slice(mh, 1, 0, 2 * u));
  const tg::Tensor z = tg::slice(zr, 1, 0, u);
  const tg::Tensor r = tg::slice(zr, 1, u, 2 * u);
  const tg::Tensor n = tg::tanh(tg::slice(p, 1, 2 * u, 3 * u) + r * tg::slice(mh, 1, 2 * u, 3 * u));
  return tg::stack({z * h + (1.0 - z) * n, z, r, n});
}

double max_abs_diff(const tg::Tensor& a, const tg::Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  return tg::max(tg::abs(a.detach().to(tg::f64) - b.detach().to(tg::f64))).item();
}

// Fused and composite agree on the value, the gradient of a random projection of it, and
// (when second_order) the gradient of a random projection of that gradient, at every input.
void check_same_as_composite(const tg::DifferentiableFn& fused,
                             const tg::DifferentiableFn& composite,
                             const std::vector<tg::Tensor>& inputs, double tol, bool second_order) {
  std::vector<tg::Tensor> leaves;
  for (const tg::Tensor& t : inputs) leaves.push_back(t.detach().clone().requires_grad_(true));
  const tg::Tensor y_fused = fused(leaves);
  const tg::Tensor y_comp = composite(leaves);
  CHECK(max_abs_diff(y_fused, y_comp) <= tol);
  const tg::Tensor w = tg::uniform(y_fused.shape(), -1.0, 1.0, y_fused.dtype());
  const auto g_fused = tg::grad({tg::sum(y_fused * w)}, leaves, {.create_graph = second_order});
  const auto g_comp = tg::grad({tg::sum(y_comp * w)}, leaves, {.create_graph = second_order});
  for (std::size_t k = 0; k < leaves.size(); ++k) {
    CAPTURE(k);
    CHECK(max_abs_diff(g_fused[k], g_comp[k]) <= tol);
  }
  if (!second_order) return;
  tg::Tensor s_fused = tg::zeros({}, y_fused.dtype()), s_comp = tg::zeros({}, y_fused.dtype());
  for (std::size_t k = 0; k < leaves.size(); ++k) {
    const tg::Tensor v = tg::uniform(g_fused[k].shape(), -1.0, 1.0, y_fused.dtype());
    s_fused = s_fused + tg::sum(g_fused[k] * v);
    s_comp = s_comp + tg::sum(g_comp[k] * v);
  }
  const auto gg_fused = tg::grad({s_fused}, leaves, {.allow_unused = true});
  const auto gg_comp = tg::grad({s_comp}, leaves, {.allow_unused = true});
  for (std::size_t k = 0; k < leaves.size(); ++k) {
    CAPTURE(k);
    CHECK(max_abs_diff(gg_fused[k], gg_comp[k]) <= tol);
  }
}

tg::Tensor lstm_fused_fn(const std::vector<tg::Tensor>& v) {
  return tg::lstm_gates(v[0], v[1]);
}
tg::Tensor lstm_composite_fn(const std::vector<tg::Tensor>& v) {
  return lstm_composite(v[0], v[1]);
}
tg::Tensor gru_fused_fn(const std::vector<tg::Tensor>& v) {
  return tg::gru_gates(v[0], v[1], v[2]);
}
tg::Tensor gru_composite_fn(const std::vector<tg::Tensor>& v) {
  return gru_composite(v[0], v[1], v[2]);
}

// Ops recorded on the tape, by name.
std::vector<std::string> recorded_ops() {
  std::vector<std::string> ops;
  for (const auto& rec : tg::Tape::current().live_records()) ops.emplace_back(rec->op());
  return ops;
}

bool has(const std::vector<std::string>& ops, const std::string& op) {
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

}  // namespace

TEST_CASE("lstm_gates gradcheck, first and second order") {
  tg::manual_seed(130);
  check_gradients(lstm_fused_fn, {uniform_f64({3, 8}, -2.0, 2.0), uniform_f64({3, 2})});
}

TEST_CASE("lstm_gates_backward gradcheck, first and second order") {
  tg::manual_seed(131);
  // y's gates lie in (0, 1) as the forward makes them; dy is any gradient.
  check_gradients([](const auto& v) { return tg::lstm_gates_backward(v[0], v[1], v[2]); },
                  {uniform_f64({6, 3, 2}), uniform_f64({6, 3, 2}, 0.1, 0.9), uniform_f64({3, 2})});
}

TEST_CASE("gru_gates gradcheck, first and second order") {
  tg::manual_seed(132);
  check_gradients(gru_fused_fn, {uniform_f64({3, 6}, -2.0, 2.0), uniform_f64({3, 6}, -2.0, 2.0),
                                 uniform_f64({3, 2})});
}

TEST_CASE("gru_gates_backward gradcheck, first and second order") {
  tg::manual_seed(133);
  check_gradients([](const auto& v) { return tg::gru_gates_backward(v[0], v[1], v[2], v[3]); },
                  {uniform_f64({4, 3, 2}), uniform_f64({4, 3, 2}, 0.1, 0.9), uniform_f64({3, 6}),
                   uniform_f64({3, 2})});
}

TEST_CASE("lstm_gates equals the composite formula in f64 and f32, to second order") {
  tg::manual_seed(134);
  const tg::Tensor z = uniform_f64({5, 12}, -3.0, 3.0);
  const tg::Tensor c = uniform_f64({5, 3}, -2.0, 2.0);
  check_same_as_composite(lstm_fused_fn, lstm_composite_fn, {z, c}, 1e-12, true);
  check_same_as_composite(lstm_fused_fn, lstm_composite_fn, {z.to(tg::f32), c.to(tg::f32)}, 1e-5,
                          true);
  // The forward is the composite's arithmetic in the same order: the same bits (37 units:
  // vector bodies and tails).
  const tg::Tensor z32 = tg::uniform({4, 4 * 37}, -4.0, 4.0);
  const tg::Tensor c32 = tg::uniform({4, 37}, -2.0, 2.0);
  CHECK(max_abs_diff(tg::lstm_gates(z32, c32), lstm_composite(z32, c32)) == 0.0);
}

TEST_CASE("gru_gates equals the composite formula in f64 and f32, to second order") {
  tg::manual_seed(135);
  const tg::Tensor p = uniform_f64({5, 9}, -3.0, 3.0);
  const tg::Tensor mh = uniform_f64({5, 9}, -3.0, 3.0);
  const tg::Tensor h = uniform_f64({5, 3});
  check_same_as_composite(gru_fused_fn, gru_composite_fn, {p, mh, h}, 1e-12, true);
  check_same_as_composite(gru_fused_fn, gru_composite_fn,
                          {p.to(tg::f32), mh.to(tg::f32), h.to(tg::f32)}, 1e-5, true);
  const tg::Tensor p32 = tg::uniform({4, 3 * 37}, -4.0, 4.0);
  const tg::Tensor m32 = tg::uniform({4, 3 * 37}, -4.0, 4.0);
  const tg::Tensor h32 = tg::uniform({4, 37}, -1.0, 1.0);
  CHECK(max_abs_diff(tg::gru_gates(p32, m32, h32), gru_composite(p32, m32, h32)) == 0.0);
}

TEST_CASE("the fused gate kernels split their batch rows over 2 threads: the same bits") {
  // An LSTM(512) at batch 66 writes more than 2^16 values per step, past the size from which
  // the rows are split (core/recurrent_kernels.cpp), in bands of 33 rows.
  tg::manual_seed(135);
  const int64_t batch = 66, u = 512;
  const tg::Tensor z = tg::uniform({batch, 4 * u}, -4.0, 4.0);
  const tg::Tensor c = tg::uniform({batch, u}, -2.0, 2.0);
  const tg::Tensor p = tg::uniform({batch, 3 * u}, -3.0, 3.0);
  const tg::Tensor mh = tg::uniform({batch, 3 * u}, -3.0, 3.0);
  const tg::Tensor dy6 = tg::uniform({6, batch, u}, -1.0, 1.0);
  const tg::Tensor dy4 = tg::uniform({4, batch, u}, -1.0, 1.0);
  const auto all = [&] {
    const tg::Tensor ly = tg::lstm_gates(z, c), gy = tg::gru_gates(p, mh, c);
    return std::vector<tg::Tensor>{ly, tg::lstm_gates_backward(dy6, ly, c), gy,
                                   tg::gru_gates_backward(dy4, gy, mh, c)};
  };
  const int threads = tg::num_threads();
  tg::set_num_threads(1);
  const std::vector<tg::Tensor> one = all();
  tg::set_num_threads(2);
  const std::vector<tg::Tensor> two = all();
  tg::set_num_threads(threads);
  for (std::size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    CHECK(max_abs_diff(one[i], two[i]) == 0.0);
  }
}

TEST_CASE("lstm_gates and gru_gates shape and dtype errors name the op and the shapes") {
  CHECK_THROWS_WITH_AS(tg::lstm_gates(tg::ones({3, 7}), tg::ones({3, 2})),
                       doctest::Contains("lstm_gates: pre-activations z of shape [3,7] and c_prev "
                                         "of shape [3,2] do not fit (expected (batch, 4 * units)"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::lstm_gates(tg::ones({3, 8}), tg::ones({4, 2})),
                       doctest::Contains("c_prev of shape [4,2]"), tg::ShapeError);
  CHECK_THROWS_AS(tg::lstm_gates(tg::ones({3, 8}), tg::ones({3, 2}, tg::f64)), tg::Error);
  CHECK_THROWS_WITH_AS(
      tg::lstm_gates_backward(tg::ones({6, 3, 3}), tg::ones({6, 3, 2}), tg::ones({3, 2})),
      doctest::Contains("lstm_gates_backward: output gradient dy has shape [6,3,3], expected "
                        "(6, 3, 2)"),
      tg::ShapeError);
  CHECK_THROWS_AS(tg::gru_gates_backward(tg::ones({4, 3, 2}), tg::ones({4, 3, 2}),
                                         tg::ones({3, 6}, tg::f64), tg::ones({3, 2}, tg::f64)),
                  tg::Error);
  CHECK_THROWS_WITH_AS(tg::gru_gates(tg::ones({3, 6}), tg::ones({3, 9}), tg::ones({3, 2})),
                       doctest::Contains("gru_gates: recurrent projection mh of shape [3,9] and h "
                                         "of shape [3,2] do not fit (expected (batch, 3 * units)"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::gru_gates(tg::ones({2, 6}), tg::ones({3, 6}), tg::ones({3, 2})),
                       doctest::Contains("gru_gates: input projection p of shape [2,6]"),
                       tg::ShapeError);
}

TEST_CASE("an LSTM or GRU step records its fused op by name, and its recorded backward too") {
  for (const std::string cell : {"lstm", "gru"}) {
    CAPTURE(cell);
    tg::manual_seed(136);
    tg::Tensor x = tg::rand({2, 3, 4}).requires_grad_(true);
    const std::shared_ptr<tg::nn::Cell> step =
        cell == "lstm" ? std::shared_ptr<tg::nn::Cell>(std::make_shared<tg::nn::LSTMCell>(4, 5))
                       : std::make_shared<tg::nn::GRUCell>(4, 5);
    tg::nn::RNN layer(step);
    const tg::Tensor loss = tg::sum(layer(x));
    const std::vector<std::string> forward = recorded_ops();
    CHECK(has(forward, cell + "_gates"));
    CHECK_FALSE(has(forward, "sigmoid"));
    CHECK_FALSE(has(forward, "tanh"));
    const auto g = tg::grad({loss}, {x}, {.create_graph = true});
    CHECK(has(recorded_ops(), cell + "_gates_backward"));
    CHECK(std::isfinite(tg::sum(g[0]).item()));
  }
}
