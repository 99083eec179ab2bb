#include <check_gradients.hpp>

using namespace tg_test;

namespace {

const std::vector<std::vector<int64_t>> kAxisSets = {{}, {0}, {1}, {2}, {0, 2}, {-1, 0}, {0, 1, 2}};

}  // namespace

TEST_CASE("sum and mean gradcheck over every axis set, keepdim on and off") {
  tg::manual_seed(20);
  const tg::Tensor x = uniform_f64({2, 3, 4});
  for (const auto& axes : kAxisSets) {
    for (bool keepdim : {false, true}) {
      CAPTURE(axes.size());
      CAPTURE(keepdim);
      check_gradients([&](const auto& v) { return tg::sum(v[0], axes, keepdim); }, {x});
      check_gradients([&](const auto& v) { return tg::mean(v[0], axes, keepdim); }, {x});
    }
  }
}

TEST_CASE("max gradcheck off ties; ties share the gradient") {
  tg::manual_seed(21);
  const tg::Tensor x = tg::randn({2, 3, 4}, tg::f64);  // continuous: no ties
  for (const auto& axes : kAxisSets) {
    for (bool keepdim : {false, true}) {
      check_gradients([&](const auto& v) { return tg::max(v[0], axes, keepdim); }, {x});
    }
  }
  tg::Tensor tied = tg::tensor({1.0, 3.0, 3.0, 2.0}).requires_grad_();
  tg::max(tied).backward();
  CHECK(tied.grad().to_vector<double>() == std::vector<double>{0, 0.5, 0.5, 0});
}

TEST_CASE("reduction values") {
  const tg::Tensor x = tg::arange(6).to(tg::f64);
  const tg::Tensor m = tg::reshape(x, {2, 3});
  CHECK(tg::sum(m).item() == 15.0);
  CHECK(tg::mean(m, {1}).to_vector<double>() == std::vector<double>{1.0, 4.0});
  CHECK(tg::max(m, {0}, true).shape() == tg::Shape{1, 3});
  CHECK(tg::max(m, {0}).to_vector<double>() == std::vector<double>{3, 4, 5});
  CHECK_THROWS_AS(tg::sum(m, {2}), tg::ShapeError);
}
