// tg::nn::gradcheck: a module's gradients w.r.t. its inputs and every parameter in one call.
// A wrong gradient is reported by the parameter's dotted name and index, the module comes
// back bitwise unchanged (also after an error), and losses are checked through a wrapper.
#include <tuple>

#include <doctest/doctest.h>

#include <nn/nn_test_util.hpp>
#include <test_util.hpp>

using namespace tg_test;

namespace {

// h R with a backward that halves d/dR (d/dh is right): the bug a hand-written rule makes.
tg::Tensor matmul_wrong_rhs_grad(const tg::Tensor& h, const tg::Tensor& r) {
  static const tg::Function op(
      "matmul_wrong_rhs_grad",
      [](const tg::TensorList& in, tg::TensorList& save) {
        save.push_back(in[0]);
        save.push_back(in[1]);
        return tg::matmul(in[0], in[1]);
      },
      [](const tg::BackwardContext& c) -> tg::Grads {
        return {tg::matmul(c.grad, tg::transpose(c.saved(1), 0, 1)),
                0.5 * tg::matmul(tg::transpose(c.saved(0), 0, 1), c.grad)};
      });
  return op({h, r});
}

// x K with a backward that doubles d/dx.
tg::Tensor matmul_wrong_lhs_grad(const tg::Tensor& x, const tg::Tensor& k) {
  static const tg::Function op(
      "matmul_wrong_lhs_grad",
      [](const tg::TensorList& in, tg::TensorList& save) {
        save.push_back(in[0]);
        save.push_back(in[1]);
        return tg::matmul(in[0], in[1]);
      },
      [](const tg::BackwardContext& c) -> tg::Grads {
        return {2.0 * tg::matmul(c.grad, tg::transpose(c.saved(1), 0, 1)),
                tg::matmul(tg::transpose(c.saved(0), 0, 1), c.grad)};
      });
  return op({x, k});
}

// h_t = tanh(x K + h R), with one of the two products' gradient wrong.
struct WrongCell : tg::nn::Cell {
  enum class Bug { recurrent_kernel, input };
  WrongCell(int64_t in, int64_t units, Bug bug)
      : kernel(register_parameter("kernel", tg::nn::init::glorot_uniform({in, units}))),
        recurrent_kernel(
            register_parameter("recurrent_kernel", tg::nn::init::orthogonal({units, units}))),
        bug_(bug) {}
  int64_t units() const override { return recurrent_kernel.shape()[0]; }
  tg::nn::State step(const tg::Tensor& x, const tg::nn::State& s) override {
    if (bug_ == Bug::input) {
      return {tg::tanh(matmul_wrong_lhs_grad(x, kernel) + tg::matmul(s[0], recurrent_kernel))};
    }
    return {tg::tanh(tg::matmul(x, kernel) + matmul_wrong_rhs_grad(s[0], recurrent_kernel))};
  }
  tg::Tensor kernel, recurrent_kernel;
  Bug bug_;
};

// Each parameter's bytes, dtype and storage, to compare before and after a check.
struct Snapshot {
  std::vector<tg::Tensor> values;
  std::vector<tg::DType> dtypes;
  explicit Snapshot(const tg::nn::Module& m) {
    for (const tg::Tensor& p : m.parameters()) {
      values.push_back(p.detach().clone());
      dtypes.push_back(p.dtype());
    }
  }
  // Bitwise equal (compared as f64 after checking the dtype: f32 -> f64 is exact).
  void check_unchanged(const tg::nn::Module& m) const {
    const auto params = m.parameters();
    REQUIRE(params.size() == values.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      CAPTURE(i);
      CHECK(params[i].dtype() == dtypes[i]);
      CHECK(params[i].requires_grad());
      CHECK(params[i].is_leaf());
      CHECK(max_abs_diff(params[i], values[i]) == 0.0);
    }
  }
};

// A loss as a module of the prediction, the target fixed: how nn::gradcheck checks losses.
struct LossOf : tg::nn::Module {
  LossOf(std::shared_ptr<tg::nn::Loss> loss, tg::Tensor target)
      : loss_(std::move(loss)), target_(std::move(target)) {}
  tg::Tensor forward(const tg::Tensor& pred) override { return (*loss_)(pred, target_); }
  std::string type_name() const override { return loss_->name(); }
  std::shared_ptr<tg::nn::Loss> loss_;
  tg::Tensor target_;
};

// Random values with lo <= |v| < hi and a random sign: kept off the kinks at 0.
tg::Tensor away_from_zero(const tg::Shape& shape, double lo, double hi) {
  const tg::Tensor coin = tg::kernel::gt(tg::rand(shape, tg::f64), tg::scalar_tensor(0.5, tg::f64));
  const tg::Tensor sign = 2.0 * coin - 1.0;
  return (sign * uniform_f64(shape, lo, hi)).detach();
}

}  // namespace

TEST_CASE("nn::gradcheck: a correct layer passes, inputs and every parameter checked") {
  tg::manual_seed(1);
  tg::nn::LSTM layer(2, 3, {.return_sequences = true});  // f32: checked in f64 all the same
  const tg::GradcheckReport r = tg::nn::gradcheck(layer, {tg::randn({2, 3, 2})});
  INFO(r.message);
  CHECK(r.ok);
  CHECK(r.message == "ok");
  const tg::GradcheckReport second = tg::nn::gradgradcheck(layer, {tg::randn({2, 2, 2})});
  INFO(second.message);
  CHECK(second.ok);
}

TEST_CASE("nn::gradcheck: a wrong custom cell is caught, named by dotted name and index") {
  tg::manual_seed(2);
  tg::nn::RNN layer(std::make_shared<WrongCell>(2, 3, WrongCell::Bug::recurrent_kernel),
                    {.return_sequences = true});
  const tg::GradcheckReport r = tg::nn::gradcheck(layer, {tg::randn({2, 4, 2})});
  MESSAGE(r.message);
  CHECK_FALSE(r.ok);
  CHECK(r.input == 2);  // [x, cell.kernel, cell.recurrent_kernel]
  CHECK(contains(r.message,
                 fmt::format("cell.recurrent_kernel[{},{}] of RNN", r.element / 3, r.element % 3)));
  CHECK(r.analytic == doctest::Approx(0.5 * r.numeric).epsilon(1e-4));
  // Inside a Sequential the name is the full dotted path.
  tg::nn::Sequential model{tg::nn::Dense(2, 2), tg::nn::RNN(std::make_shared<WrongCell>(
                                                    2, 3, WrongCell::Bug::recurrent_kernel))};
  const tg::GradcheckReport s = tg::nn::gradcheck(model, {tg::randn({2, 4, 2})});
  CHECK_FALSE(s.ok);
  CHECK(contains(s.message, "gradcheck failed at 1.cell.recurrent_kernel["));
  CHECK(contains(s.message, "of Sequential"));
}

TEST_CASE("nn::gradcheck: a wrong input gradient names the input and its index") {
  tg::manual_seed(3);
  tg::nn::RNN layer(std::make_shared<WrongCell>(2, 3, WrongCell::Bug::input));
  const tg::GradcheckReport r = tg::nn::gradcheck(layer, {tg::randn({2, 4, 2})});
  CHECK_FALSE(r.ok);
  CHECK(r.input == 0);
  const std::string index =
      fmt::format("[{},{},{}]", r.element / 8, r.element / 2 % 4, r.element % 2);
  CHECK(contains(r.message, "gradcheck failed at input 0 " + index + " of RNN"));
  // Past full_jacobian_limit, projections still catch it but cannot name an element.
  const tg::GradcheckReport p =
      tg::nn::gradcheck(layer, {tg::randn({2, 4, 2})}, {.full_jacobian_limit = 0});
  CHECK_FALSE(p.ok);
  CHECK(p.input == -1);
  CHECK(contains(p.message, "random projection of the inputs and all parameters of RNN"));
  CHECK(contains(p.message, "full_jacobian_limit"));
}

TEST_CASE("nn::gradcheck: the module comes back bitwise unchanged, also after an error") {
  tg::manual_seed(4);
  tg::nn::Sequential model{tg::nn::GRU(2, 3, {.return_sequences = true}), tg::nn::Dense(3, 1)};
  // A gradient accumulated before the check stays as it was.
  tg::sum(model(tg::randn({2, 3, 2}))).backward();
  const tg::Tensor grad_before = model.parameters()[0].grad().clone();
  const Snapshot before(model);
  const auto storage = model.parameters()[0].impl().storage;
  CHECK(tg::nn::gradcheck(model, {tg::randn({2, 3, 2})}).ok);
  before.check_unchanged(model);
  CHECK(model.dtype() == tg::f32);
  CHECK(model.parameters()[0].impl().storage == storage);
  CHECK(max_abs_diff(model.parameters()[0].grad(), grad_before) == 0.0);
  // The module throws inside the check (wrong feature size): restored all the same.
  CHECK_THROWS_AS(tg::nn::gradcheck(model, {tg::randn({2, 3, 5})}), tg::ShapeError);
  before.check_unchanged(model);
  CHECK(model.dtype() == tg::f32);
  // Still trainable: gradients reach the module's own parameters.
  model.zero_grad();
  tg::sum(model(tg::randn({2, 3, 2}))).backward();
  for (const tg::Tensor& p : model.parameters()) CHECK(p.grad().defined());
}

TEST_CASE("nn::gradcheck: a function of several inputs, and the errors for bad calls") {
  tg::manual_seed(5);
  tg::nn::LSTMCell cell(2, 3);
  // The step w.r.t. x, h, c and the parameters: every output counts, c included.
  const tg::GradcheckReport r =
      tg::nn::gradcheck(cell,
                        [&](const auto& in) {
                          return tg::concat(cell.step(in[0], {in[1], in[2]}), 1);
                        },
                        {tg::randn({2, 2}), tg::randn({2, 3}), tg::randn({2, 3})});
  INFO(r.message);
  CHECK(r.ok);
  CHECK_THROWS_WITH_AS(tg::nn::gradcheck(cell, {tg::randn({2, 2}), tg::randn({2, 3})}),
                       doctest::Contains("nn::gradcheck(LSTMCell): a module takes one input, "
                                         "got 2"),
                       tg::ValueError);
  CHECK_THROWS_AS(tg::nn::gradcheck(cell, tg::DifferentiableFn{}, {tg::randn({2, 2})}),
                  tg::ValueError);
}

TEST_CASE("nn::gradcheck: every loss, through a module of the prediction") {
  tg::manual_seed(6);
  // |pred - target| in [0.2, 0.8]: away from MAE's kink at 0 and Huber's at delta = 1.
  const tg::Tensor target = uniform_f64({3, 4});
  const tg::Tensor pred = (target + away_from_zero({3, 4}, 0.2, 0.8)).detach();
  const tg::Tensor logits = away_from_zero({3, 4}, 0.3, 3.0);  // BCE's |x| kink at 0
  const tg::Tensor classes = tg::tensor({0.0, 3.0, 1.0});
  const std::vector<std::tuple<std::shared_ptr<tg::nn::Loss>, tg::Tensor, tg::Tensor>> cases{
      {std::make_shared<tg::nn::MSE>(), pred, target},
      {std::make_shared<tg::nn::MAE>(), pred, target},
      {std::make_shared<tg::nn::Huber>(0.5), pred, target},
      {std::make_shared<tg::nn::BCE>(), logits, tg::rand({3, 4}, tg::f64)},
      {std::make_shared<tg::nn::CrossEntropy>(), uniform_f64({3, 4}, -2, 2), classes}};
  for (const auto& [loss, p, t] : cases) {
    CAPTURE(loss->name());
    LossOf module(loss, t);
    check_gradients(module, p);
  }
}
