// addmm: c + a @ b as one GEMM onto a copy of c.
#include <check_gradients.hpp>

using namespace tg_test;

TEST_CASE("addmm equals c + a @ b for a bias, a full matrix and folded leading axes") {
  tg::manual_seed(11);
  const tg::Tensor a = tg::randn({3, 4}, tg::f64);
  const tg::Tensor seq = tg::randn({5, 3, 4}, tg::f64);
  const tg::Tensor b = tg::randn({4, 2}, tg::f64);
  for (const tg::Tensor& c : {tg::randn({2}, tg::f64), tg::randn({3, 2}, tg::f64)}) {
    CAPTURE(c.shape());
    CHECK(tg::max(tg::abs(tg::addmm(c, a, b) - (c + tg::matmul(a, b)))).item() < 1e-14);
    CHECK(tg::max(tg::abs(tg::addmm(c, seq, b) - (c + tg::matmul(seq, b)))).item() < 1e-14);
  }
  // A transposed view of a goes to BLAS as it lies.
  const tg::Tensor at = tg::transpose(tg::randn({4, 3}, tg::f64), 0, 1);
  const tg::Tensor c = tg::randn({3, 2}, tg::f64);
  CHECK(tg::max(tg::abs(tg::addmm(c, at, b) - (c + tg::matmul(at, b)))).item() < 1e-14);
}

TEST_CASE("addmm gradients, first and second order") {
  tg::manual_seed(12);
  const tg::Tensor bias = tg::randn({2}, tg::f64).requires_grad_();
  const tg::Tensor full = tg::randn({3, 2}, tg::f64).requires_grad_();
  const tg::Tensor a = tg::randn({3, 4}, tg::f64).requires_grad_();
  const tg::Tensor seq = tg::randn({5, 3, 4}, tg::f64).requires_grad_();
  const tg::Tensor b = tg::randn({4, 2}, tg::f64).requires_grad_();
  check_gradients([](const auto& v) { return tg::addmm(v[0], v[2], v[4]); },
                  {bias, full, a, seq, b});
  check_gradients([](const auto& v) { return tg::addmm(v[1], v[2], v[4]); },
                  {bias, full, a, seq, b});
  check_gradients([](const auto& v) { return tg::tanh(tg::addmm(v[0], v[3], v[4])); },
                  {bias, full, a, seq, b});
}

TEST_CASE("addmm shape errors name the op and the shapes") {
  const tg::Tensor a = tg::ones({3, 4});
  const tg::Tensor b = tg::ones({4, 2});
  CHECK_THROWS_WITH_AS(tg::addmm(tg::ones({3}), a, b),
                       doctest::Contains("addmm: shapes [3] and [3,2] cannot be broadcast"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::addmm(tg::ones({2, 3, 2}), a, b),
                       doctest::Contains("addmm: the added tensor of shape [2,3,2] does not "
                                         "broadcast to [3,2]"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::addmm(tg::ones({2}), a, tg::ones({5, 2})),
                       doctest::Contains("[3,4] and [5,2]"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::addmm(tg::ones({2}), a, tg::ones({1, 4, 2})),
                       doctest::Contains("addmm: shapes [3,4] and [1,4,2] are not supported"),
                       tg::ShapeError);
  CHECK_THROWS_AS(tg::addmm(tg::ones({2}, tg::f64), a, b), tg::DTypeError);
}
