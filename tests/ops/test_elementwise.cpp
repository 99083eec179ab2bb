#include <check_gradients.hpp>

using namespace tg_test;

namespace {

// The broadcasting shape pairs every binary op is checked on.
const std::vector<std::pair<tg::Shape, tg::Shape>> kShapePairs = {
    {{}, {}},         {{3}, {3}},   {{2, 3}, {2, 3}}, {{2, 3}, {3}},       {{2, 3}, {1, 3}},
    {{2, 3}, {2, 1}}, {{}, {2, 3}}, {{2, 1}, {1, 3}}, {{2, 1, 3}, {4, 1}},
};

void check_binary(tg::Tensor (*op)(const tg::Tensor&, const tg::Tensor&), double lo = -1.0,
                  double hi = 1.0) {
  for (const auto& [sa, sb] : kShapePairs) {
    CAPTURE(tg::to_string(sa));
    CAPTURE(tg::to_string(sb));
    check_gradients([op](const auto& x) { return op(x[0], x[1]); },
                    {uniform_f64(sa, lo, hi), uniform_f64(sb, lo, hi)});
  }
}

}  // namespace

TEST_CASE("add, sub, mul, div gradcheck over broadcasting shapes") {
  tg::manual_seed(1);
  check_binary(tg::add);
  check_binary(tg::sub);
  check_binary(tg::mul);
  check_binary(tg::div, 0.5, 2.0);  // keep the divisor away from 0
}

TEST_CASE("pow gradcheck: scalar exponent and tensor exponent") {
  tg::manual_seed(2);
  check_gradients([](const auto& x) { return tg::pow(x[0], 3.0); }, {uniform_f64({2, 3})});
  check_gradients([](const auto& x) { return tg::pow(x[0], 0.5); },
                  {uniform_f64({2, 3}, 0.5, 2.0)});
  check_binary([](const tg::Tensor& a, const tg::Tensor& b) { return tg::pow(a, b); }, 0.5, 2.0);
}

TEST_CASE("unary math gradcheck: neg exp log sqrt abs square clamp") {
  tg::manual_seed(3);
  const tg::Tensor x = uniform_f64({3, 4});
  const tg::Tensor pos = uniform_f64({3, 4}, 0.5, 2.0);
  check_gradients([](const auto& v) { return -v[0]; }, {x});
  check_gradients([](const auto& v) { return tg::exp(v[0]); }, {x});
  check_gradients([](const auto& v) { return tg::log(v[0]); }, {pos});
  check_gradients([](const auto& v) { return tg::sqrt(v[0]); }, {pos});
  check_gradients([](const auto& v) { return tg::square(v[0]); }, {x});
  // Off the kinks: |x| >= 0.1 for abs, and clamp bounds away from the sampled values.
  const tg::Tensor off_zero = tg::tensor({-0.9, -0.5, -0.1, 0.2, 0.6, 0.95});
  check_gradients([](const auto& v) { return tg::abs(v[0]); }, {off_zero});
  check_gradients([](const auto& v) { return tg::clamp(v[0], -0.3, 0.4); }, {off_zero});
}

TEST_CASE("scalar operators on either side") {
  tg::manual_seed(4);
  const tg::Tensor x = uniform_f64({2, 2}, 0.5, 1.5);
  check_gradients([](const auto& v) { return 1.0 - v[0] * 2.0 + 3.0 / v[0] - v[0] / 4.0; }, {x});
  check_gradients([](const auto& v) { return (2.0 + v[0]) * (v[0] + 1.0) - (v[0] - 0.5); }, {x});
}

TEST_CASE("where: gradient flows to the chosen side only") {
  tg::manual_seed(5);
  const tg::Tensor cond = tg::tensor({1.0, 0.0, 1.0});
  check_gradients([cond](const auto& v) { return tg::where(cond, v[0], v[1]); },
                  {uniform_f64({2, 3}), uniform_f64({3})});
  tg::Tensor a = tg::ones({3}, tg::f64).requires_grad_();
  tg::Tensor b = tg::ones({3}, tg::f64).requires_grad_();
  tg::sum(tg::where(cond, a, b)).backward();
  CHECK(a.grad().to_vector<double>() == std::vector<double>{1, 0, 1});
  CHECK(b.grad().to_vector<double>() == std::vector<double>{0, 1, 0});
}

TEST_CASE("exact values: mul and div gradients") {
  tg::Tensor a = tg::tensor({2.0, 3.0}).requires_grad_();
  tg::Tensor b = tg::tensor({4.0, 5.0}).requires_grad_();
  tg::sum(a * b + a / b).backward();
  CHECK(a.grad().to_vector<double>() == std::vector<double>{4.0 + 0.25, 5.0 + 0.2});
  CHECK(b.grad().to_vector<double>()[0] == doctest::Approx(2.0 - 2.0 / 16.0));
}

TEST_CASE("mixing dtypes throws before any work") {
  const tg::Tensor a = tg::ones({2});
  const tg::Tensor b = tg::ones({2}, tg::f64);
  CHECK_THROWS_AS(a + b, tg::DTypeError);
  CHECK_THROWS_WITH_AS(tg::ones({2, 3}) * tg::ones({4}),
                       doctest::Contains("mul: shapes [2,3] and [4] cannot be broadcast"),
                       tg::ShapeError);
}
