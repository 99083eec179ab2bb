// Gradient clipping: the free functions (PyTorch) and the optimizer options (Keras).
#include "helpers.hpp"

namespace tg = tapegrad;
using tgtest::check_values;
using tgtest::param;
using tgtest::set_grad;

TEST_CASE("clip_grad_norm scales all gradients by max_norm / (norm + 1e-6)") {
  tg::Tensor a = param({0.0, 0.0}), b = param({0.0}), none = param({0.0});
  set_grad(a, {3.0, 4.0});
  set_grad(b, {12.0});
  const tg::Tensor old = a.grad();
  // global norm sqrt(9 + 16 + 144) = 13
  const double norm = tg::optim::clip_grad_norm({a, b, none}, 6.5);
  CHECK(norm == doctest::Approx(13.0).epsilon(1e-15));
  const double s = 6.5 / (13.0 + 1e-6);
  check_values(a.grad(), {3.0 * s, 4.0 * s});
  check_values(b.grad(), {12.0 * s});
  CHECK_FALSE(none.grad().defined());
  check_values(old, {3.0, 4.0});  // a new gradient tensor; the old one is not written
}

TEST_CASE("clip_grad_norm leaves small gradients alone") {
  tg::Tensor a = param({0.0, 0.0});
  set_grad(a, {3.0, 4.0});
  CHECK(tg::optim::clip_grad_norm(std::vector<tg::Tensor>{a}, 5.0) ==
        doctest::Approx(5.0).epsilon(1e-15));
  check_values(a.grad(), {3.0, 4.0});
  CHECK_THROWS_AS(tg::optim::clip_grad_norm({a}, -1.0), tg::ValueError);
}

TEST_CASE("clip_grad_value clamps each element") {
  tg::Tensor a = param({0.0, 0.0, 0.0});
  set_grad(a, {-3.0, 0.5, 2.0});
  tg::optim::clip_grad_value({a}, 1.0);
  check_values(a.grad(), {-1.0, 0.5, 1.0});
}

TEST_CASE("clip_grad_* accept named parameters") {
  tg::Tensor a = param({0.0, 0.0});
  set_grad(a, {3.0, 4.0});
  tg::NamedTensors named{{"layer.kernel", a}};
  CHECK(tg::optim::clip_grad_norm(named, 1.0) == doctest::Approx(5.0));
  CHECK(tgtest::values(a.grad())[0] == doctest::Approx(0.6).epsilon(1e-6));
}

TEST_CASE("optimizer clipnorm clips each gradient by its own norm, leaving .grad()") {
  tg::Tensor a = param({0.0, 0.0}), b = param({0.0});
  tg::optim::SGD opt({a, b}, {.lr = 1.0, .clipnorm = 1.0});
  set_grad(a, {3.0, 4.0});  // norm 5 -> [0.6, 0.8]
  set_grad(b, {0.5});       // norm 0.5 < 1: unchanged
  opt.step();
  check_values(a, {-0.6, -0.8});
  check_values(b, {-0.5});
  check_values(a.grad(), {3.0, 4.0});
}

TEST_CASE("optimizer clipvalue clamps elements") {
  tg::Tensor a = param({0.0, 0.0});
  tg::optim::SGD opt({a}, {.lr = 1.0, .clipvalue = 1.0});
  set_grad(a, {3.0, -0.5});
  opt.step();
  check_values(a, {-1.0, 0.5});
}

TEST_CASE("optimizer global_clipnorm scales all gradients together (no 1e-6, as Keras)") {
  tg::Tensor a = param({0.0, 0.0}), b = param({0.0});
  tg::optim::GD opt({a, b}, {.lr = 1.0, .global_clipnorm = 6.5});
  set_grad(a, {3.0, 4.0});
  set_grad(b, {12.0});  // global norm 13 -> factor 0.5
  opt.step();
  check_values(a, {-1.5, -2.0});
  check_values(b, {-6.0});
}

TEST_CASE("only one clip option at a time") {
  tg::Tensor a = param({0.0});
  CHECK_THROWS_AS(tg::optim::SGD({a}, {.clipnorm = 1.0, .clipvalue = 1.0}), tg::ValueError);
  CHECK_THROWS_AS(tg::optim::Adam({a}, {.clipnorm = -1.0}), tg::ValueError);
}
