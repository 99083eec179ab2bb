// ParamList, zero_grad, skipping parameters without gradients, gradient checks.
#include "helpers.hpp"

#include <tapegrad/autograd/grad_mode.hpp>

namespace tg = tapegrad;
using tgtest::check_values;
using tgtest::param;
using tgtest::set_grad;

TEST_CASE("ParamList names unnamed tensors by index and keeps given names") {
  tg::Tensor a = param({1.0}), b = param({2.0});
  tg::optim::ParamList by_index(std::vector<tg::Tensor>{a, b});
  REQUIRE(by_index.size() == 2);
  CHECK(by_index.name(0) == "0");
  CHECK(by_index.name(1) == "1");
  CHECK(by_index.tensor(1).shares_storage_with(b));

  tg::optim::ParamList named(tg::NamedTensors{{"dense.kernel", a}, {"dense.bias", b}});
  CHECK(named.name(1) == "dense.bias");
  CHECK(named.find("dense.kernel") == 0);
  CHECK(named.find("nope") == named.size());
}

TEST_CASE("ParamList rejects duplicate names, undefined and non-contiguous tensors") {
  tg::Tensor a = param({1.0});
  CHECK_THROWS_WITH_AS(tg::optim::ParamList(tg::NamedTensors{{"w", a}, {"w", a}}),
                       doctest::Contains("'w'"), tg::ValueError);
  CHECK_THROWS_AS(tg::optim::ParamList({tg::Tensor()}), tg::ValueError);
  tg::Tensor m = tg::zeros({2, 3}, tg::f64);
  CHECK_THROWS_WITH_AS(
      tg::optim::ParamList(tg::NamedTensors{{"t", tg::kernel::transpose(m, 0, 1)}}),
      doctest::Contains("contiguous"), tg::ValueError);
}

TEST_CASE("zero_grad sets gradients to none, and step then changes nothing") {
  tg::Tensor a = param({1.0, 2.0});
  tg::optim::SGD opt({a}, {.lr = 0.1});
  set_grad(a, {1.0, 1.0});
  opt.zero_grad();
  CHECK_FALSE(a.grad().defined());
  const auto version = a.version();
  opt.step();
  check_values(a, {1.0, 2.0});
  CHECK(a.version() == version);
}

TEST_CASE("step skips parameters without a gradient, bumps the version of the others") {
  tg::Tensor a = param({1.0}), b = param({2.0});
  tg::optim::Adam opt(tg::NamedTensors{{"a", a}, {"b", b}}, {.lr = 0.1});
  set_grad(a, {1.0});
  const auto version = a.version();
  opt.step();
  CHECK(a.item() < 1.0);
  CHECK(b.item() == 2.0);
  CHECK(a.version() > version);
  const auto state = opt.state_dict();
  CHECK(state.count("a.m") == 1);
  CHECK(state.count("b.m") == 0);  // b has never been updated: no state yet
}

TEST_CASE("step records nothing and restores grad mode") {
  tg::Tensor a = param({1.0});
  tg::optim::SGD opt({a}, {.lr = 0.1});
  set_grad(a, {1.0});
  opt.step();
  CHECK(tg::GradMode::enabled());
  CHECK(a.is_leaf());
}

TEST_CASE("a gradient of the wrong shape or dtype throws before any parameter moves") {
  tg::Tensor a = param({1.0}), b = param({2.0, 3.0});
  tg::optim::SGD opt(tg::NamedTensors{{"a", a}, {"b", b}}, {.lr = 0.1});
  set_grad(a, {1.0});
  b.set_grad(tg::tensor({1.f, 1.f}));  // f32 gradient for an f64 parameter
  CHECK_THROWS_WITH_AS(opt.step(), doctest::Contains("'b'"), tg::DTypeError);
  CHECK(a.item() == 1.0);
  CHECK(opt.iterations() == 0);
}

TEST_CASE("set_lr changes the step size") {
  tg::Tensor a = param({1.0});
  tg::optim::GD opt({a});
  CHECK(opt.lr() == 0.01);
  opt.set_lr(0.5);
  set_grad(a, {1.0});
  opt.step();
  CHECK(a.item() == doctest::Approx(0.5));
  CHECK_THROWS_AS(opt.set_lr(-0.1), tg::ValueError);
}

namespace {
// Stand-ins for Module::parameters() and Module::named_parameters(), which return by value.
std::vector<tg::Tensor> parameters_of(const tg::Tensor& a) {
  return {a};
}
tg::NamedTensors named_parameters_of(const tg::Tensor& a) {
  return {{"dense.kernel", a}};
}
}  // namespace

TEST_CASE("optimizers take parameters() and named_parameters() results directly") {
  tg::Tensor a = param({1.0});
  tg::optim::Adam by_index(parameters_of(a), {.lr = 1e-3});
  tg::optim::Adam by_name(named_parameters_of(a), {.lr = 1e-3});
  CHECK(by_index.params().name(0) == "0");
  CHECK(by_name.params().name(0) == "dense.kernel");
  CHECK(by_name.params().tensor(0).shares_storage_with(a));
}
