// Losses: values against hand-computed numbers, reductions, shape errors, stability and
// gradients (first and second order, f64, through the shared helper).
#include <cmath>

#include <doctest/doctest.h>

#include <check_gradients.hpp>
#include <test_util.hpp>

#include "train_util.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
using nn::Reduction;

using tg_train::pred_2x2;
using tg_train::target_2x2;

namespace {

// Random values with lo <= |v| < hi and a random sign: inputs kept off kinks at 0.
tg::Tensor away_from_zero(const tg::Shape& shape, double lo, double hi) {
  const tg::Tensor coin = tg::kernel::gt(tg::rand(shape, tg::f64), tg::scalar_tensor(0.5, tg::f64));
  const tg::Tensor sign = 2.0 * coin - 1.0;
  return (sign * tg_test::uniform_f64(shape, lo, hi)).detach();
}

std::vector<double> values(const tg::Tensor& t) {
  return t.to(tg::f64).to_vector<double>();
}

// log(1 + e^x) - x*y, the textbook form (fine for small |x|).
double bce_naive(double x, double y) {
  return std::log1p(std::exp(x)) - x * y;
}

}  // namespace

TEST_CASE("regression losses match hand-computed values") {
  CHECK(nn::mse_loss(pred_2x2(), target_2x2()).item() == doctest::Approx(5.5 / 4).epsilon(1e-15));
  CHECK(nn::mae_loss(pred_2x2(), target_2x2()).item() == doctest::Approx(4.0 / 4).epsilon(1e-15));
  // |d| <= 1: d^2 / 2; else |d| - 1/2  ->  0.125, 1.5, 0.5, 0.125
  CHECK(nn::huber_loss(pred_2x2(), target_2x2()).item() ==
        doctest::Approx(2.25 / 4).epsilon(1e-15));
  // delta 0.6: 0.125, 0.6 * (2 - 0.3), 0.6 * (1 - 0.3), 0.125
  CHECK(nn::huber_loss(pred_2x2(), target_2x2(), 0.6, Reduction::sum).item() ==
        doctest::Approx(1.69).epsilon(1e-14));
}

TEST_CASE("loss modules call the free functions and name themselves") {
  const nn::MSE mse;
  const nn::Huber huber(0.6, Reduction::sum);
  const nn::Loss& as_base = huber;
  CHECK(mse(pred_2x2(), target_2x2()).item() == nn::mse_loss(pred_2x2(), target_2x2()).item());
  CHECK(as_base(pred_2x2(), target_2x2()).item() == doctest::Approx(1.69).epsilon(1e-14));
  CHECK(as_base.name() == "Huber");
  CHECK(nn::MAE(Reduction::sum).reduction() == Reduction::sum);
  CHECK(nn::BCE().name() == "BCE");
  CHECK(nn::CrossEntropy().name() == "CrossEntropy");
  CHECK_THROWS_AS(nn::Huber(0.0), tg::ValueError);
}

TEST_CASE("reductions: sum is n * mean, none keeps the per-element losses") {
  const tg::Tensor none = nn::mse_loss(pred_2x2(), target_2x2(), Reduction::none);
  CHECK(none.shape() == tg::Shape{2, 2});
  CHECK(values(none) == std::vector<double>{0.25, 4, 1, 0.25});
  CHECK(nn::mse_loss(pred_2x2(), target_2x2(), Reduction::sum).item() == 5.5);
  CHECK(values(nn::mae_loss(pred_2x2(), target_2x2(), Reduction::none)) ==
        std::vector<double>{0.5, 2, 1, 0.5});
  CHECK(values(nn::huber_loss(pred_2x2(), target_2x2(), 1.0, Reduction::none)) ==
        std::vector<double>{0.125, 1.5, 0.5, 0.125});
}

TEST_CASE("BCE from logits: the stable formula's values, also where exp would overflow") {
  const std::vector<double> x{0.5, -1, 2, 3}, y{0, 1, 1, 0.5};
  const tg::Tensor per =
      nn::bce_loss(tg::from_vector(x, {4}), tg::from_vector(y, {4}), Reduction::none);
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK(values(per)[i] == doctest::Approx(bce_naive(x[i], y[i])).epsilon(1e-14));
  }
  // f32 logits of +-100: the naive form overflows (exp(100) = inf in f32).
  const tg::Tensor big = nn::bce_loss(tg::tensor({100.f, -100.f, 100.f, -100.f}),
                                      tg::tensor({0.f, 1.f, 1.f, 0.f}), Reduction::none);
  const auto v = values(big);
  CHECK(v[0] == doctest::Approx(100));
  CHECK(v[1] == doctest::Approx(100));
  CHECK(v[2] == doctest::Approx(0).epsilon(1e-6));
  CHECK(v[3] == doctest::Approx(0).epsilon(1e-6));
}

TEST_CASE("CrossEntropy: -log_softmax at the class, per sample and reduced") {
  const tg::Tensor logits = tg::from_vector(std::vector<double>{1, 2, 3, 1, 1, 1}, {2, 3});
  const tg::Tensor target = tg::tensor({2.0, 0.0});
  const double l0 = std::log(std::exp(1) + std::exp(2) + std::exp(3)) - 3;
  const double l1 = std::log(3.0);
  const tg::Tensor per = nn::cross_entropy_loss(logits, target, Reduction::none);
  CHECK(per.shape() == tg::Shape{2});
  CHECK(values(per)[0] == doctest::Approx(l0).epsilon(1e-14));
  CHECK(values(per)[1] == doctest::Approx(l1).epsilon(1e-14));
  CHECK(nn::CrossEntropy()(logits, target).item() == doctest::Approx((l0 + l1) / 2).epsilon(1e-14));
  CHECK(nn::CrossEntropy(Reduction::sum)(logits, target).item() ==
        doctest::Approx(l0 + l1).epsilon(1e-14));
}

TEST_CASE("shape mismatches throw ShapeError naming the loss and both shapes") {
  const tg::Tensor p = tg::zeros({4, 1});
  const tg::Tensor t = tg::zeros({4});
  const std::vector<std::shared_ptr<nn::Loss>> losses{
      std::make_shared<nn::MSE>(), std::make_shared<nn::MAE>(), std::make_shared<nn::Huber>(),
      std::make_shared<nn::BCE>()};
  for (const auto& loss : losses) {
    CAPTURE(loss->name());
    const std::string msg = tg_test::message_of<tg::ShapeError>([&] { (void)(*loss)(p, t); });
    CHECK(tg_test::contains(msg, loss->name()));
    CHECK(tg_test::contains(msg, fmt::format("{}", p.shape())));
    CHECK(tg_test::contains(msg, fmt::format("{}", t.shape())));
  }
  CHECK_THROWS_AS(nn::mse_loss(tg::zeros({4}), tg::zeros({4}, tg::f64)), tg::DTypeError);
}

TEST_CASE("CrossEntropy rejects bad shapes and targets that are not class indices") {
  const tg::Tensor logits = tg::zeros({2, 3});
  CHECK_THROWS_AS(nn::cross_entropy_loss(logits, tg::zeros({2, 1})), tg::ShapeError);
  CHECK_THROWS_AS(nn::cross_entropy_loss(logits, tg::zeros({3})), tg::ShapeError);
  CHECK_THROWS_AS(nn::cross_entropy_loss(tg::zeros({6}), tg::zeros({6})), tg::ShapeError);
  CHECK_THROWS_WITH_AS(nn::cross_entropy_loss(logits, tg::tensor({0.f, 1.5f})),
                       doctest::Contains("target[1] = 1.5"), tg::ValueError);
  CHECK_THROWS_AS(nn::cross_entropy_loss(logits, tg::tensor({0.f, 3.f})), tg::ValueError);
  CHECK_THROWS_AS(nn::cross_entropy_loss(logits, tg::tensor({-1.f, 0.f})), tg::ValueError);
}

TEST_CASE("every loss gradchecks (first and second order, f64)") {
  tg::manual_seed(11);
  // Targets far enough from the predictions that no difference sits near a kink:
  // |d| in [0.2, 0.8] (MAE's 0, Huber's delta = 1 are both avoided).
  const tg::Tensor target = tg_test::uniform_f64({3, 4});
  const tg::Tensor pred = (target + away_from_zero({3, 4}, 0.2, 0.8)).detach();
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
    CAPTURE(static_cast<int>(r));
    tg_test::check_gradients([r](const auto& in) { return nn::mse_loss(in[0], in[1], r); },
                             {pred, target});
    tg_test::check_gradients([r](const auto& in) { return nn::mae_loss(in[0], in[1], r); },
                             {pred, target});
    tg_test::check_gradients([r](const auto& in) { return nn::huber_loss(in[0], in[1], 1.0, r); },
                             {pred, target});
    // delta 0.5 puts some elements on each branch.
    tg_test::check_gradients([r](const auto& in) { return nn::huber_loss(in[0], in[1], 0.5, r); },
                             {pred, target});
  }
  // BCE: logits away from 0 (|x| has a kink there in the stable form), targets in [0, 1].
  const tg::Tensor logits = away_from_zero({3, 4}, 0.3, 3.0);
  const tg::Tensor probs = tg::rand({3, 4}, tg::f64);
  tg_test::check_gradients([](const auto& in) { return nn::bce_loss(in[0], in[1]); },
                           {logits, probs});
  // CrossEntropy: gradient through the logits; targets are constants.
  const tg::Tensor classes = tg::tensor({0.0, 3.0, 1.0});
  tg_test::check_gradients([&](const auto& in) { return nn::cross_entropy_loss(in[0], classes); },
                           {tg_test::uniform_f64({3, 4}, -2, 2)});
}
