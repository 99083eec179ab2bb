// Sample weights and masks in the losses (Keras 3's reduce_weighted_values): values against
// hand-computed numbers and a transcription of Keras's formula, left-aligned broadcasting,
// zero weights and padded steps that change neither loss nor gradients, the errors, and
// gradchecks of the weighted losses (f64, through the shared helper).
#include <cmath>
#include <memory>
#include <vector>

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

tg::Tensor vec(const std::vector<double>& v, const tg::Shape& shape) {
  return tg::from_vector(v, shape);
}
std::vector<double> values(const tg::Tensor& t) {
  return t.to(tg::f64).to_vector<double>();
}

// Keras's sum_over_batch_size of per-sample losses: sum(loss * w) / B. Keras's MSE first
// averages over the last axis, so rows of the 2x2 case are per-sample means.
double keras_weighted(const std::vector<double>& per_sample, const std::vector<double>& w) {
  double s = 0;
  for (std::size_t i = 0; i < w.size(); ++i) s += per_sample[i] * w[i];
  return s / static_cast<double>(w.size());
}

// A (3, 4, 2) problem of per-step targets with the mask of sequences of lengths 4, 2, 3.
struct Steps {
  tg::Tensor pred, target, mask;
};
Steps per_step_problem() {
  tg::manual_seed(5);
  const tg::Tensor mask = vec({1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0}, {3, 4});
  return {tg_test::uniform_f64({3, 4, 2}), tg_test::uniform_f64({3, 4, 2}), mask};
}

// Keras 3's reduce_weighted_values for MSE, transcribed with plain loops: values = mean over
// the last axis (B, T); mask scaled by total / valid (apply_mask); sum(values * w * m) / (B*T).
double keras_masked_mse(const Steps& s, const std::vector<double>& w) {
  const auto p = values(s.pred), y = values(s.target), m = values(s.mask);
  double valid = 0;
  for (double v : m) valid += v;
  double total = 0;
  for (std::size_t bt = 0; bt < m.size(); ++bt) {
    const double value =
        (std::pow(p[2 * bt] - y[2 * bt], 2) + std::pow(p[2 * bt + 1] - y[2 * bt + 1], 2)) / 2;
    total += value * w[bt] * m[bt] * (static_cast<double>(m.size()) / valid);
  }
  return total / static_cast<double>(m.size());
}

// A loss written the older way: only the two-argument call.
struct OldStyleLoss : nn::Loss {
  using Loss::operator();
  tg::Tensor operator()(const tg::Tensor& pred, const tg::Tensor& target) const override {
    return tg::sum(pred - target);
  }
  std::string name() const override { return "OldStyleLoss"; }
};

// A loss written the new way: only the per-element values.
struct CubeLoss : nn::Loss {
  using Loss::Loss;
  tg::Tensor per_element(const tg::Tensor& pred, const tg::Tensor& target) const override {
    const tg::Tensor d = pred - target;
    return d * d * d;
  }
  std::string name() const override { return "CubeLoss"; }
};

}  // namespace

TEST_CASE("per-sample weights: hand-computed values and Keras's sum_over_batch_size") {
  const tg::Tensor w = tg::tensor({1.0, 3.0});
  // per-element MSE [[0.25, 4], [1, 0.25]]: sum(l * w) = 4.25 + 3 * 1.25 = 8, over 4 elements.
  CHECK(nn::mse_loss(pred_2x2(), target_2x2(), w).item() == doctest::Approx(2.0).epsilon(1e-15));
  CHECK(nn::mse_loss(pred_2x2(), target_2x2(), w).item() ==
        doctest::Approx(keras_weighted({2.125, 0.625}, {1, 3})).epsilon(1e-15));
  CHECK(nn::mse_loss(pred_2x2(), target_2x2(), w, Reduction::sum).item() == 8.0);
  CHECK(values(nn::mse_loss(pred_2x2(), target_2x2(), w, Reduction::none)) ==
        std::vector<double>{0.25, 4, 3, 0.75});
  // Row sums: MAE 2.5, 1.5; Huber 1.625, 0.625 (per element 0.125, 1.5, 0.5, 0.125).
  CHECK(nn::mae_loss(pred_2x2(), target_2x2(), w).item() ==
        doctest::Approx(keras_weighted({1.25, 0.75}, {1, 3})).epsilon(1e-15));
  CHECK(nn::huber_loss(pred_2x2(), target_2x2(), w).item() ==
        doctest::Approx(3.5 / 4).epsilon(1e-15));
  CHECK(nn::huber_loss(pred_2x2(), target_2x2(), w, 0.6, Reduction::sum).item() ==
        doctest::Approx(0.125 + 0.6 * 1.7 + 3 * (0.6 * 0.7 + 0.125)).epsilon(1e-14));
  // BCE of logits, per element against the textbook formula.
  const std::vector<double> x{0.5, -1, 2, 3}, y{0, 1, 1, 0.5};
  double bce = 0;
  for (std::size_t i = 0; i < 4; ++i)
    bce += (std::log1p(std::exp(x[i])) - x[i] * y[i]) * (i < 2 ? 1 : 3);
  CHECK(nn::bce_loss(vec(x, {2, 2}), vec(y, {2, 2}), w).item() ==
        doctest::Approx(bce / 4).epsilon(1e-14));
  // CrossEntropy: one loss per sample, weights (B).
  const tg::Tensor logits = vec({1, 2, 3, 1, 1, 1}, {2, 3});
  const double l0 = std::log(std::exp(1) + std::exp(2) + std::exp(3)) - 3, l1 = std::log(3.0);
  const tg::Tensor cw = tg::tensor({0.5, 2.0});
  CHECK(nn::cross_entropy_loss(logits, tg::tensor({2.0, 0.0}), cw).item() ==
        doctest::Approx(keras_weighted({l0, l1}, {0.5, 2})).epsilon(1e-14));
  CHECK(nn::CrossEntropy(Reduction::sum)(logits, tg::tensor({2.0, 0.0}), cw).item() ==
        doctest::Approx(0.5 * l0 + 2 * l1).epsilon(1e-14));
  // (B, 1) weights fit CrossEntropy's (B) losses too (Keras squeezes the trailing 1).
  CHECK(nn::cross_entropy_loss(logits, tg::tensor({2.0, 0.0}), vec({0.5, 2}, {2, 1})).item() ==
        doctest::Approx(keras_weighted({l0, l1}, {0.5, 2})).epsilon(1e-14));
}

TEST_CASE("the Loss objects take weights; the denominator is the element count, not sum(w)") {
  const tg::Tensor w = tg::tensor({1.0, 3.0});
  const nn::Huber huber(0.6, Reduction::sum);
  const nn::Loss& as_base = huber;
  CHECK(as_base(pred_2x2(), target_2x2(), w).item() ==
        nn::huber_loss(pred_2x2(), target_2x2(), w, 0.6, Reduction::sum).item());
  CHECK(nn::MSE()(pred_2x2(), target_2x2(), w).item() == doctest::Approx(2.0).epsilon(1e-15));
  CHECK(nn::MAE()(pred_2x2(), target_2x2(), {}).item() ==
        nn::MAE()(pred_2x2(), target_2x2()).item());
  // Doubling every weight doubles the loss (sum_over_batch_size, not a weighted average).
  CHECK(nn::MSE()(pred_2x2(), target_2x2(), tg::full({2}, 2.0, tg::f64)).item() ==
        doctest::Approx(2 * nn::mse_loss(pred_2x2(), target_2x2()).item()).epsilon(1e-15));
  // A scalar weight and full per-element weights.
  CHECK(nn::MSE()(pred_2x2(), target_2x2(), tg::scalar_tensor(0.5, tg::f64)).item() ==
        doctest::Approx(5.5 / 8).epsilon(1e-15));
  CHECK(nn::MSE()(pred_2x2(), target_2x2(), vec({1, 0, 0, 1}, {2, 2})).item() ==
        doctest::Approx(0.5 / 4).epsilon(1e-15));
  // f32 weights on an f64 loss are cast.
  CHECK(nn::MSE()(pred_2x2(), target_2x2(), tg::tensor({1.f, 3.f})).item() ==
        doctest::Approx(2.0).epsilon(1e-15));
  // A loss that only defines per_element gets weights and masks.
  CHECK(CubeLoss(Reduction::sum)(pred_2x2(), target_2x2(), w).item() ==
        doctest::Approx(0.125 - 8 + 3 * (1 - 0.125)).epsilon(1e-15));
}

TEST_CASE("weights align from the left: a (B) weight over (B, T, F) weighs samples") {
  // B == F == 2: NumPy's right alignment would weigh the features instead.
  tg::manual_seed(2);
  const tg::Tensor p = tg_test::uniform_f64({2, 3, 2}), y = tg_test::uniform_f64({2, 3, 2});
  const tg::Tensor w = tg::tensor({1.0, 0.0});
  const double first =
      nn::mse_loss(tg::select(p, 0, 0), tg::select(y, 0, 0), Reduction::sum).item();
  CHECK(nn::mse_loss(p, y, w).item() == doctest::Approx(first / 12).epsilon(1e-14));
  CHECK(nn::mse_loss(p, y, vec({1, 0}, {2, 1})).item() ==
        doctest::Approx(first / 12).epsilon(1e-14));
  // (B, T): per step; (1, T): the same step weights for every sample.
  const tg::Tensor steps = vec({0, 1, 1, 0, 1, 1}, {2, 3});
  const tg::Tensor same_steps = vec({0, 1, 1}, {1, 3});
  CHECK(nn::mse_loss(p, y, steps).item() ==
        doctest::Approx(nn::mse_loss(p, y, same_steps).item()).epsilon(1e-15));
  const tg::Tensor tail_p = tg::slice(p, 1, 1, 3), tail_y = tg::slice(y, 1, 1, 3);
  CHECK(nn::mse_loss(p, y, steps, Reduction::sum).item() ==
        doctest::Approx(nn::mse_loss(tail_p, tail_y, Reduction::sum).item()).epsilon(1e-14));
}

TEST_CASE("a zero weight excludes a sample: its prediction gets no gradient, its target is free") {
  const tg::Tensor w = tg::tensor({1.0, 0.0});
  const std::vector<std::shared_ptr<nn::Loss>> losses{
      std::make_shared<nn::MSE>(), std::make_shared<nn::MAE>(), std::make_shared<nn::Huber>(),
      std::make_shared<nn::BCE>()};
  for (const auto& loss : losses) {
    CAPTURE(loss->name());
    const tg::Tensor p = pred_2x2().requires_grad_(true);
    const tg::Tensor l = (*loss)(p, target_2x2(), w);
    l.backward();
    const auto g = values(p.grad());
    CHECK(g[2] == 0.0);
    CHECK(g[3] == 0.0);
    CHECK(g[0] != 0.0);
    // Sample 1's target moved far away: the same loss.
    const tg::Tensor moved = vec({0, 1, 100, -100}, {2, 2});
    CHECK((*loss)(pred_2x2(), moved, w).item() == l.item());
  }
}

TEST_CASE("a mask on per-step targets: the mean over valid steps only (Keras's apply_mask)") {
  const Steps s = per_step_problem();
  const std::vector<double> ones(12, 1.0);
  const double masked = nn::MSE()(s.pred, s.target, {}, s.mask).item();
  CHECK(masked == doctest::Approx(keras_masked_mse(s, ones)).epsilon(1e-14));
  // The same number as the plain mean over the 9 valid steps x 2 features.
  double sum_valid = 0;
  const auto m = values(s.mask);
  const auto per = values(nn::mse_loss(s.pred, s.target, Reduction::none));
  for (std::size_t i = 0; i < per.size(); ++i) sum_valid += per[i] * m[i / 2];
  CHECK(masked == doctest::Approx(sum_valid / 18).epsilon(1e-14));
  // With sample weights as well: sum(l * w * m) / valid, still Keras's formula.
  const std::vector<double> step_w{1, 2, 3, 4, 0.5, 0.5, 9, 9, 2, 2, 2, 7};
  CHECK(nn::MSE()(s.pred, s.target, vec(step_w, {3, 4}), s.mask).item() ==
        doctest::Approx(keras_masked_mse(s, step_w)).epsilon(1e-14));
  // Reduction::sum and none are not renormalized.
  CHECK(nn::MSE(Reduction::sum)(s.pred, s.target, {}, s.mask).item() ==
        doctest::Approx(sum_valid).epsilon(1e-14));
  const tg::Tensor none = nn::MSE(Reduction::none)(s.pred, s.target, {}, s.mask);
  CHECK(none.shape() == tg::Shape{3, 4, 2});
  CHECK(values(none)[13] == 0.0);  // sample 1, step 2
  // Any nonzero entry is valid; nothing valid gives 0, not NaN.
  CHECK(nn::MSE()(s.pred, s.target, {}, 2.0 * s.mask).item() ==
        doctest::Approx(masked).epsilon(1e-15));
  CHECK(nn::MSE()(s.pred, s.target, {}, tg::zeros({3, 4}, tg::f64)).item() == 0.0);
  // An f32 mask on f64 losses.
  CHECK(nn::MSE()(s.pred, s.target, {}, s.mask.to(tg::f32)).item() ==
        doctest::Approx(masked).epsilon(1e-15));
}

TEST_CASE("padded steps change neither the loss nor the gradients, for every loss") {
  const Steps s = per_step_problem();
  const tg::Tensor padded = 1.0 - tg::reshape(s.mask, {3, 4, 1});
  // Perturbed targets (and predictions) only where the mask is 0.
  const tg::Tensor noise = 50.0 * tg_test::uniform_f64({3, 4, 2});
  const tg::Tensor pred_noise = 20.0 * tg_test::uniform_f64({3, 4, 2});
  const tg::Tensor other_target = (s.target + noise * padded).detach();
  const tg::Tensor probs = tg::rand({3, 4, 2}, tg::f64);
  const tg::Tensor other_probs = tg::where(padded, tg::rand({3, 4, 2}, tg::f64), probs);
  struct Case {
    std::shared_ptr<nn::Loss> loss;
    tg::Tensor target, other;
  };
  const std::vector<Case> cases{{std::make_shared<nn::MSE>(), s.target, other_target},
                                {std::make_shared<nn::MAE>(), s.target, other_target},
                                {std::make_shared<nn::Huber>(0.5), s.target, other_target},
                                {std::make_shared<nn::BCE>(), probs, other_probs}};
  for (const auto& c : cases) {
    CAPTURE(c.loss->name());
    const tg::Tensor p1 = s.pred.clone().requires_grad_(true);
    const tg::Tensor p2 = (s.pred + pred_noise * padded).detach().requires_grad_(true);
    const tg::Tensor l1 = (*c.loss)(p1, c.target, {}, s.mask);
    const tg::Tensor l2 = (*c.loss)(p2, c.other, {}, s.mask);
    CHECK(l1.item() == doctest::Approx(l2.item()).epsilon(1e-15));
    l1.backward();
    l2.backward();
    const auto g1 = values(p1.grad()), g2 = values(p2.grad()), m = values(s.mask);
    for (std::size_t i = 0; i < g1.size(); ++i) {
      CAPTURE(i);
      CHECK(g1[i] == doctest::Approx(g2[i]).epsilon(1e-15));
      if (m[i / 2] == 0) CHECK(g1[i] == 0.0);
    }
    // Without the mask the padded targets would count.
    CHECK((*c.loss)(p1, c.target).item() != (*c.loss)(p2, c.other).item());
  }
}

TEST_CASE("weights and masks that do not fit throw ShapeError naming the loss and both shapes") {
  const tg::Tensor p = tg::zeros({4, 5, 2}), y = tg::zeros({4, 5, 2});
  const std::vector<std::shared_ptr<nn::Loss>> losses{
      std::make_shared<nn::MSE>(), std::make_shared<nn::MAE>(), std::make_shared<nn::Huber>(),
      std::make_shared<nn::BCE>()};
  for (const auto& loss : losses) {
    CAPTURE(loss->name());
    for (const tg::Shape& bad :
         {tg::Shape{3}, tg::Shape{4, 4}, tg::Shape{4, 5, 2, 3}, tg::Shape{5}}) {
      INFO(fmt::format("{}", bad));
      const std::string msg =
          tg_test::message_of<tg::ShapeError>([&] { (void)(*loss)(p, y, tg::ones(bad)); });
      CHECK(tg_test::contains(msg,
                              loss->name() + ": sample_weight of shape " + fmt::format("{}", bad)));
      CHECK(tg_test::contains(msg, fmt::format("{}", p.shape())));
    }
    const std::string msg = tg_test::message_of<tg::ShapeError>([&] {
      (void)(*loss)(p, y, {}, tg::ones({5, 4}));
    });
    CHECK(tg_test::contains(msg, loss->name() + ": mask of shape [5,4]"));
  }
  CHECK_THROWS_WITH_AS(nn::cross_entropy_loss(tg::zeros({2, 3}), tg::zeros({2}), tg::ones({2, 3})),
                       doctest::Contains("CrossEntropy: sample_weight of shape [2,3]"),
                       tg::ShapeError);
  // The weighted free functions still check prediction against target first.
  CHECK_THROWS_AS(nn::mse_loss(tg::zeros({4, 1}), tg::zeros({4}), tg::ones({4})), tg::ShapeError);
}

TEST_CASE("a loss that only overrides operator()(pred, target) says how to take weights") {
  const OldStyleLoss old;
  CHECK(old(pred_2x2(), target_2x2()).item() == -1.0);
  CHECK(old(pred_2x2(), target_2x2(), {}).item() == -1.0);  // unweighted: its own call
  const std::string msg = tg_test::message_of<tg::ValueError>(
      [&] { (void)old(pred_2x2(), target_2x2(), tg::ones({2}, tg::f64)); });
  CHECK(tg_test::contains(msg, "OldStyleLoss: this loss defines only operator()(pred, target)"));
  CHECK(tg_test::contains(msg, "override per_element"));
}

TEST_CASE("weighted and masked losses gradcheck (first and second order, f64)") {
  tg::manual_seed(13);
  const tg::Tensor target = tg_test::uniform_f64({3, 4, 2});
  // |d| in [0.2, 0.8]: away from MAE's kink at 0 and Huber's at delta 1.
  const tg::Tensor coin =
      tg::kernel::gt(tg::rand({3, 4, 2}, tg::f64), tg::scalar_tensor(0.5, tg::f64));
  const tg::Tensor d = ((2.0 * coin - 1.0) * tg_test::uniform_f64({3, 4, 2}, 0.2, 0.8)).detach();
  const tg::Tensor pred = (target + d).detach();
  const tg::Tensor per_sample = tg_test::uniform_f64({3}, 0.5, 2);
  const tg::Tensor per_step = tg_test::uniform_f64({3, 4}, 0.5, 2);
  const tg::Tensor mask = per_step_problem().mask;
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
    CAPTURE(static_cast<int>(r));
    // The gradients reach the weights too (inputs 0, 1, 2: pred, target, weight).
    tg_test::check_gradients([r](const auto& in) { return nn::mse_loss(in[0], in[1], in[2], r); },
                             {pred, target, per_sample});
    tg_test::check_gradients([r](const auto& in) { return nn::mae_loss(in[0], in[1], in[2], r); },
                             {pred, target, per_step});
    tg_test::check_gradients(
        [r](const auto& in) { return nn::huber_loss(in[0], in[1], in[2], 0.5, r); },
        {pred, target, per_step});
    tg_test::check_gradients(
        [r, &mask](const auto& in) { return nn::Huber(1.0, r)(in[0], in[1], in[2], mask); },
        {pred, target, per_sample});
  }
  tg_test::check_gradients([&mask](const auto& in) { return nn::BCE()(in[0], in[1], {}, mask); },
                           {(3.0 * d).detach(), tg::rand({3, 4, 2}, tg::f64)});
  const tg::Tensor classes = tg::tensor({0.0, 3.0, 1.0});
  tg_test::check_gradients(
      [&](const auto& in) { return nn::cross_entropy_loss(in[0], classes, in[1]); },
      {tg_test::uniform_f64({3, 4}, -2, 2), per_sample});
}
