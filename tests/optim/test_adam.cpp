// Adam / AdamW against the formulas written out in scalar double arithmetic, three steps.
#include <algorithm>
#include <cmath>

#include "helpers.hpp"

namespace tg = tapegrad;
using tg::optim::AdamFormulation;

namespace {

// The reference: one scalar weight through the steps, straight from the formulas.
struct RefAdam {
  double lr, b1, b2, eps;
  bool amsgrad = false;
  AdamFormulation formulation = AdamFormulation::keras;
  double weight_decay = 0.0;
  double m = 0.0, v = 0.0, vhat = 0.0;
  int t = 0;

  double step(double w, double g) {
    ++t;
    w -= lr * weight_decay * w;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    vhat = std::max(vhat, v);
    const double vv = amsgrad ? vhat : v;
    const double c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
    if (formulation == AdamFormulation::keras) {
      const double lr_t = lr * std::sqrt(c2) / c1;
      return w - lr_t * m / (std::sqrt(vv) + eps);
    }
    return w - lr / c1 * m / (std::sqrt(vv) / std::sqrt(c2) + eps);
  }
};

// Three steps on w0 = [1, -2] with these per-step gradients; each element checked
// against its own RefAdam.
void compare(tg::optim::Optimizer& opt, const tg::Tensor& w, RefAdam ref,
             const std::vector<std::vector<double>>& grads) {
  std::vector<RefAdam> refs(2, ref);
  std::vector<double> expected = {1.0, -2.0};
  for (std::size_t s = 0; s < grads.size(); ++s) {
    CAPTURE(s);
    tgtest::set_grad(w, grads[s]);
    opt.step();
    for (std::size_t i = 0; i < 2; ++i) expected[i] = refs[i].step(expected[i], grads[s][i]);
    tgtest::check_values(w, expected);
  }
}

const std::vector<std::vector<double>> kGrads = {{0.5, 1.0}, {0.25, -1.0}, {1.0, 0.3}};

}  // namespace

TEST_CASE("Adam: Keras epsilon placement (default)") {
  tg::Tensor w = tgtest::param({1.0, -2.0});
  // A large eps so that where it sits changes the result visibly.
  tg::optim::Adam opt({w}, {.lr = 0.1, .eps = 0.1});
  CHECK(opt.options().formulation == AdamFormulation::keras);
  compare(opt, w, {.lr = 0.1, .b1 = 0.9, .b2 = 0.999, .eps = 0.1}, kGrads);
}

TEST_CASE("Adam: step 1 by hand, both placements") {
  // g = 0.5: m = 0.05, v = 0.00025, sqrt(v) = 0.0158113883, sqrt(1 - b2) = 0.0316227766.
  // torch: w -= 0.1/0.1 * 0.05 / (0.0158113883/0.0316227766 + 0.1) = 0.05 / 0.6 = 1/12
  // keras: w -= 0.1*0.0316227766/0.1 * 0.05 / (0.0158113883 + 0.1) = 0.0013652...
  tg::Tensor a = tgtest::param({1.0}), b = tgtest::param({1.0});
  tg::optim::Adam torch_adam({a}, {.lr = 0.1, .eps = 0.1, .formulation = AdamFormulation::torch});
  tg::optim::Adam keras_adam({b}, {.lr = 0.1, .eps = 0.1});
  tgtest::set_grad(a, {0.5});
  tgtest::set_grad(b, {0.5});
  torch_adam.step();
  keras_adam.step();
  CHECK(a.item() == doctest::Approx(1.0 - 1.0 / 12.0).epsilon(1e-12));
  CHECK(b.item() ==
        doctest::Approx(1.0 - std::sqrt(0.001) * 0.05 / (std::sqrt(0.00025) + 0.1)).epsilon(1e-12));
}

TEST_CASE("Adam: torch epsilon placement") {
  tg::Tensor w = tgtest::param({1.0, -2.0});
  tg::optim::Adam opt({w}, {.lr = 0.1, .eps = 0.1, .formulation = AdamFormulation::torch});
  compare(opt, w,
          {.lr = 0.1, .b1 = 0.9, .b2 = 0.999, .eps = 0.1, .formulation = AdamFormulation::torch},
          kGrads);
}

TEST_CASE("Adam: amsgrad keeps the largest v") {
  // g shrinks after step 1, so v falls below its maximum and amsgrad's vhat = v1 differs.
  const std::vector<std::vector<double>> shrinking = {{1.0, 2.0}, {0.01, 0.02}, {0.01, -0.02}};
  tg::Tensor w = tgtest::param({1.0, -2.0});
  tg::optim::Adam opt({w}, {.lr = 0.1, .amsgrad = true});
  compare(opt, w, {.lr = 0.1, .b1 = 0.9, .b2 = 0.999, .eps = 1e-7, .amsgrad = true}, shrinking);

  tg::Tensor plain = tgtest::param({1.0, -2.0});
  tg::optim::Adam plain_opt({plain}, {.lr = 0.1});
  for (const auto& g : shrinking) {
    tgtest::set_grad(plain, g);
    plain_opt.step();
  }
  CHECK(std::abs(plain.to_vector<double>()[0] - w.to_vector<double>()[0]) > 1e-5);

  tg::Tensor u = tgtest::param({1.0, -2.0});
  tg::optim::Adam torch_opt({u},
                            {.lr = 0.1, .amsgrad = true, .formulation = AdamFormulation::torch});
  compare(torch_opt, u,
          {.lr = 0.1,
           .b1 = 0.9,
           .b2 = 0.999,
           .eps = 1e-7,
           .amsgrad = true,
           .formulation = AdamFormulation::torch},
          shrinking);
}

TEST_CASE("AdamW: decoupled weight decay before the Adam step") {
  tg::Tensor w = tgtest::param({1.0, -2.0});
  tg::optim::AdamW opt({w}, {.lr = 0.1, .weight_decay = 0.5});
  compare(opt, w, {.lr = 0.1, .b1 = 0.9, .b2 = 0.999, .eps = 1e-7, .weight_decay = 0.5}, kGrads);
}

TEST_CASE("AdamW: default weight decay is Keras's 0.004") {
  tg::Tensor w = tgtest::param({1.0, -2.0});
  tg::optim::AdamW opt({w}, {.lr = 0.1});
  compare(opt, w, {.lr = 0.1, .b1 = 0.9, .b2 = 0.999, .eps = 1e-7, .weight_decay = 0.004}, kGrads);
}

TEST_CASE("Adam: option checks") {
  tg::Tensor w = tgtest::param({1.0});
  CHECK_THROWS_AS(tg::optim::Adam({w}, {.beta1 = 1.5}), tg::ValueError);
  CHECK_THROWS_AS(tg::optim::Adam({w}, {.eps = -1.0}), tg::ValueError);
  CHECK_THROWS_AS(tg::optim::AdamW({w}, {.weight_decay = -1.0}), tg::ValueError);
}
