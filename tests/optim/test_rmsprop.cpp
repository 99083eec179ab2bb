// RMSprop (Keras formulation) against scalar reference arithmetic, three steps.
#include <cmath>

#include "helpers.hpp"

namespace tg = tapegrad;

namespace {

struct RefRMSprop {
  double lr, rho, momentum, eps;
  bool centered = false;
  double ms = 0.0, mg = 0.0, b = 0.0;

  double step(double w, double g) {
    ms = rho * ms + (1 - rho) * g * g;
    mg = rho * mg + (1 - rho) * g;
    const double denom = centered ? ms - mg * mg + eps : ms + eps;
    const double increment = lr * g / std::sqrt(denom);
    if (momentum == 0.0) return w - increment;
    b = momentum * b + increment;
    return w - b;
  }
};

const std::vector<std::vector<double>> kGrads = {{0.5, 1.0}, {0.25, -1.0}, {1.0, 0.3}};

void compare(tg::optim::Optimizer& opt, const tg::Tensor& w, RefRMSprop ref) {
  std::vector<RefRMSprop> refs(2, ref);
  std::vector<double> expected = {1.0, -2.0};
  for (std::size_t s = 0; s < kGrads.size(); ++s) {
    CAPTURE(s);
    tgtest::set_grad(w, kGrads[s]);
    opt.step();
    for (std::size_t i = 0; i < 2; ++i) expected[i] = refs[i].step(expected[i], kGrads[s][i]);
    tgtest::check_values(w, expected);
  }
}

}  // namespace

TEST_CASE("RMSprop: step 1 by hand") {
  // ms = 0.1 * 0.25 = 0.025; w -= 0.1 * 0.5 / sqrt(0.025 + 1e-7)
  tg::Tensor w = tgtest::param({1.0});
  tg::optim::RMSprop opt({w}, {.lr = 0.1});
  tgtest::set_grad(w, {0.5});
  opt.step();
  CHECK(w.item() == doctest::Approx(1.0 - 0.05 / std::sqrt(0.0250001)).epsilon(1e-12));
}

TEST_CASE("RMSprop: plain, momentum, centered") {
  SUBCASE("plain") {
    tg::Tensor w = tgtest::param({1.0, -2.0});
    tg::optim::RMSprop opt({w}, {.lr = 0.1});
    compare(opt, w, {.lr = 0.1, .rho = 0.9, .momentum = 0.0, .eps = 1e-7});
  }
  SUBCASE("momentum") {
    tg::Tensor w = tgtest::param({1.0, -2.0});
    tg::optim::RMSprop opt({w}, {.lr = 0.1, .momentum = 0.8});
    compare(opt, w, {.lr = 0.1, .rho = 0.9, .momentum = 0.8, .eps = 1e-7});
  }
  SUBCASE("centered, with momentum") {
    tg::Tensor w = tgtest::param({1.0, -2.0});
    tg::optim::RMSprop opt({w}, {.lr = 0.1, .rho = 0.5, .momentum = 0.8, .centered = true});
    compare(opt, w, {.lr = 0.1, .rho = 0.5, .momentum = 0.8, .eps = 1e-7, .centered = true});
  }
}
