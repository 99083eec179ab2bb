// SGD and GD against updates computed by hand (f64, lr 0.1, w0 = [1, -2]).
#include "helpers.hpp"

namespace tg = tapegrad;
using tgtest::check_values;
using tgtest::set_grad;

namespace {

// The same three gradients for every test: g1 = [0.5, 1], g2 = [0.25, -1], g3 = [1, 0].
const std::vector<std::vector<double>> kGrads = {{0.5, 1.0}, {0.25, -1.0}, {1.0, 0.0}};

// Runs three steps and checks the parameter after each against `expected`.
void run(tg::optim::Optimizer& opt, const tg::Tensor& w,
         const std::vector<std::vector<double>>& expected) {
  for (std::size_t s = 0; s < 3; ++s) {
    CAPTURE(s);
    set_grad(w, kGrads[s]);
    opt.step();
    check_values(w, expected[s]);
  }
}

}  // namespace

TEST_CASE("SGD: plain w -= lr * g") {
  tg::Tensor w = tgtest::param({1.0, -2.0});
  tg::optim::SGD opt({w}, {.lr = 0.1});
  // w1 = [1 - 0.05, -2 - 0.1]; w2 = [0.95 - 0.025, -2.1 + 0.1]; w3 = [0.925 - 0.1, -2.0 - 0]
  run(opt, w, {{0.95, -2.1}, {0.925, -2.0}, {0.825, -2.0}});
  CHECK(opt.iterations() == 3);
  CHECK_FALSE(opt.full_batch());
}

TEST_CASE("SGD: momentum (PyTorch: b = mu*b + g, w -= lr*b)") {
  tg::Tensor w = tgtest::param({1.0, -2.0});
  tg::optim::SGD opt({w}, {.lr = 0.1, .momentum = 0.9});
  // b1 = g1 = [0.5, 1]                               w1 = [0.95, -2.1]
  // b2 = 0.9*[0.5, 1] + [0.25, -1] = [0.7, -0.1]     w2 = [0.95 - 0.07, -2.1 + 0.01]
  // b3 = 0.9*[0.7, -0.1] + [1, 0] = [1.63, -0.09]    w3 = [0.88 - 0.163, -2.09 + 0.009]
  run(opt, w, {{0.95, -2.1}, {0.88, -2.09}, {0.717, -2.081}});
}

TEST_CASE("SGD: Nesterov momentum (d = g + mu*b)") {
  tg::Tensor w = tgtest::param({1.0, -2.0});
  tg::optim::SGD opt({w}, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  // b1 = [0.5, 1];     d1 = [0.5 + 0.45, 1 + 0.9] = [0.95, 1.9]       w1 = [0.905, -2.19]
  // b2 = [0.7, -0.1];  d2 = [0.25 + 0.63, -1 - 0.09] = [0.88, -1.09]  w2 = [0.817, -2.081]
  // b3 = [1.63, -0.09]; d3 = [1 + 1.467, -0.081]                      w3 = [0.5703, -2.0729]
  run(opt, w, {{0.905, -2.19}, {0.817, -2.081}, {0.5703, -2.0729}});
}

TEST_CASE("SGD: weight decay adds wd * w to the gradient") {
  tg::Tensor w = tgtest::param({1.0, -2.0});
  tg::optim::SGD opt({w}, {.lr = 0.1, .weight_decay = 0.1});
  // d1 = [0.5 + 0.1, 1 - 0.2] = [0.6, 0.8]                 w1 = [0.94, -2.08]
  // d2 = [0.25 + 0.094, -1 - 0.208] = [0.344, -1.208]      w2 = [0.9056, -1.9592]
  // d3 = [1 + 0.09056, -0.19592]                           w3 = [0.796544, -1.939608]
  run(opt, w, {{0.94, -2.08}, {0.9056, -1.9592}, {0.796544, -1.939608}});
}

TEST_CASE("SGD: momentum and weight decay together") {
  tg::Tensor w = tgtest::param({1.0, -2.0});
  tg::optim::SGD opt({w}, {.lr = 0.1, .momentum = 0.5, .weight_decay = 0.1});
  // d1 = [0.6, 0.8] = b1                      w1 = [0.94, -2.08]
  // d2 = [0.344, -1.208]; b2 = [0.3 + 0.344, 0.4 - 1.208] = [0.644, -0.808]
  //                                           w2 = [0.94 - 0.0644, -2.08 + 0.0808]
  // d3 = [1 + 0.08756, -0.19992]; b3 = [0.322 + 1.08756, -0.404 - 0.19992] = [1.40956, -0.60392]
  //                                           w3 = [0.8756 - 0.140956, -1.9992 + 0.060392]
  run(opt, w, {{0.94, -2.08}, {0.8756, -1.9992}, {0.734644, -1.938808}});
}

TEST_CASE("SGD: option checks") {
  tg::Tensor w = tgtest::param({1.0});
  CHECK_THROWS_AS(tg::optim::SGD({w}, {.lr = -1.0}), tg::ValueError);
  CHECK_THROWS_AS(tg::optim::SGD({w}, {.nesterov = true}), tg::ValueError);
  CHECK_THROWS_AS(tg::optim::SGD({w}, {.momentum = -0.5}), tg::ValueError);
}

TEST_CASE("GD: plain descent, full batch") {
  tg::Tensor w = tgtest::param({1.0, -2.0});
  tg::optim::GD opt({w}, {.lr = 0.1});
  CHECK(opt.full_batch());
  run(opt, w, {{0.95, -2.1}, {0.925, -2.0}, {0.825, -2.0}});
}

TEST_CASE("SGD works on f32 parameters") {
  tg::Tensor w = tg::tensor({1.f, -2.f}).requires_grad_(true);
  tg::optim::SGD opt({w}, {.lr = 0.1, .momentum = 0.9});
  w.set_grad(tg::tensor({0.5f, 1.f}));
  opt.step();
  w.set_grad(tg::tensor({0.25f, -1.f}));
  opt.step();
  const auto got = w.to_vector<float>();
  CHECK(got[0] == doctest::Approx(0.88).epsilon(1e-6));
  CHECK(got[1] == doctest::Approx(-2.09).epsilon(1e-6));
}
