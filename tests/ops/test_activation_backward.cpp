// tanh_backward and sigmoid_backward: the fused backward kernels of tanh and sigmoid, ops
// with gradient rules of their own (one kernel instead of three elementwise ops, for speed).
#include <check_gradients.hpp>

using namespace tg_test;

namespace {

// The formulas the rules of tanh and sigmoid used to record as three ops each.
tg::Tensor tanh_backward_composite(const tg::Tensor& g, const tg::Tensor& y) {
  return g * (1.0 - y * y);
}
tg::Tensor sigmoid_backward_composite(const tg::Tensor& g, const tg::Tensor& y) {
  return g * y * (1.0 - y);
}

// Every element equal, bit for bit: the fused kernels round exactly as the composite does,
// so training gives the same losses as before the fusion.
template <class T>
void check_identical(const tg::Tensor& fused, const tg::Tensor& composite) {
  REQUIRE(fused.shape() == composite.shape());
  const std::vector<T> f = fused.to_vector<T>();
  const std::vector<T> c = composite.to_vector<T>();
  for (std::size_t i = 0; i < f.size(); ++i) {
    CAPTURE(i);
    CHECK(f[i] == c[i]);
  }
}

// The op name of the record that produced t.
std::string producer_op(const tg::Tensor& t) {
  REQUIRE(tg::autograd_meta(t) != nullptr);
  REQUIRE(tg::autograd_meta(t)->producer != nullptr);
  return tg::autograd_meta(t)->producer->op();
}

}  // namespace

TEST_CASE("tanh_backward and sigmoid_backward gradcheck, first and second order") {
  tg::manual_seed(20);
  const tg::Tensor g = uniform_f64({3, 5}, -2.0, 2.0);
  const tg::Tensor y = uniform_f64({3, 5}, -0.9, 0.9);
  check_gradients([](const auto& v) { return tg::tanh_backward(v[0], v[1]); }, {g, y});
  const tg::Tensor s = uniform_f64({3, 5}, 0.05, 0.95);
  check_gradients([](const auto& v) { return tg::sigmoid_backward(v[0], v[1]); }, {g, s});
}

TEST_CASE("tanh_backward and sigmoid_backward gradcheck with a broadcast output") {
  tg::manual_seed(21);
  const tg::Tensor g = uniform_f64({4, 3}, -2.0, 2.0);
  const tg::Tensor y = uniform_f64({3}, 0.05, 0.95);
  check_gradients([](const auto& v) { return tg::tanh_backward(v[0], v[1]); }, {g, y});
  check_gradients([](const auto& v) { return tg::sigmoid_backward(v[0], v[1]); }, {g, y});
}

TEST_CASE("tanh and sigmoid third derivatives go through the fused backward ops") {
  // gradgradcheck of tg::grad(tanh) differentiates tanh_backward's own rule twice.
  tg::manual_seed(22);
  const tg::Tensor x = uniform_f64({2, 4}, -2.0, 2.0);
  for (bool is_tanh : {true, false}) {
    CAPTURE(is_tanh);
    check_gradients(
        [is_tanh](const auto& v) {
          const tg::Tensor y = is_tanh ? tg::tanh(v[0]) : tg::sigmoid(v[0]);
          return tg::grad({tg::sum(y * y)}, {v[0]}, {.create_graph = true})[0];
        },
        {x});
  }
}

TEST_CASE("tanh_backward and sigmoid_backward equal the composite formulas bit for bit") {
  tg::manual_seed(23);
  SUBCASE("f32, same shapes") {
    const tg::Tensor g = tg::uniform({7, 37}, -3.0, 3.0);
    const tg::Tensor y = tg::uniform({7, 37}, -1.0, 1.0);
    check_identical<float>(tg::tanh_backward(g, y), tanh_backward_composite(g, y));
    check_identical<float>(tg::sigmoid_backward(g, y), sigmoid_backward_composite(g, y));
  }
  SUBCASE("f64, broadcast and strided inputs") {
    const tg::Tensor g = tg::transpose(uniform_f64({9, 5}, -3.0, 3.0), 0, 1);
    const tg::Tensor y = uniform_f64({1, 9}, 0.0, 1.0);
    check_identical<double>(tg::tanh_backward(g, y), tanh_backward_composite(g, y));
    check_identical<double>(tg::sigmoid_backward(g, y), sigmoid_backward_composite(g, y));
  }
}

TEST_CASE("tanh_backward equals the scalar formula at every length, vector tails included") {
  // The kernel's loops run at the CPU's widest vectors (AVX2 where present); no element may
  // round differently from the scalar expression, wherever it sits in the array.
  tg::manual_seed(24);
  for (int64_t n = 1; n <= 40; ++n) {
    CAPTURE(n);
    const tg::Tensor g = tg::uniform({n}, -3.0, 3.0);
    const tg::Tensor y = tg::uniform({n}, -1.0, 1.0);
    const std::vector<float> out = tg::tanh_backward(g, y).to_vector<float>();
    const std::vector<float> gv = g.to_vector<float>();
    const std::vector<float> yv = y.to_vector<float>();
    for (int64_t i = 0; i < n; ++i) {
      const float one_minus_square = 1.0f - yv[i] * yv[i];
      CHECK(out[i] == gv[i] * one_minus_square);
    }
  }
}

TEST_CASE("the gradients of tanh and sigmoid are recorded as one fused op") {
  const tg::Tensor x = tg::tensor({-1.5, 0.25, 2.0}).requires_grad_(true);
  const tg::Tensor u = tg::tensor({0.5, -1.0, 3.0});
  SUBCASE("tanh") {
    const tg::Tensor y = tg::tanh(x);
    const tg::Tensor dx = tg::grad({tg::sum(y * u)}, {x}, {.create_graph = true})[0];
    CHECK(producer_op(dx) == "tanh_backward");
    check_identical<double>(dx.detach(), tanh_backward_composite(u, y.detach()));
  }
  SUBCASE("sigmoid") {
    const tg::Tensor y = tg::sigmoid(x);
    const tg::Tensor dx = tg::grad({tg::sum(y * u)}, {x}, {.create_graph = true})[0];
    CHECK(producer_op(dx) == "sigmoid_backward");
    check_identical<double>(dx.detach(), sigmoid_backward_composite(u, y.detach()));
  }
}

TEST_CASE("tanh_backward and sigmoid_backward reject mismatched inputs, naming the op") {
  const tg::Tensor g = tg::ones({2, 3});
  CHECK_THROWS_WITH_AS(
      tg::tanh_backward(g, tg::ones({2, 4})),
      doctest::Contains("tanh_backward: shapes [2,3] and [2,4] cannot be broadcast"),
      tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::sigmoid_backward(g, tg::ones({2, 3}, tg::f64)),
                       doctest::Contains("sigmoid_backward: dtypes f32 (shape [2,3]) and f64"),
                       tg::DTypeError);
}
