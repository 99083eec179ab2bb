// tg::checkpoint on its own: a function recomputed in backward gives the gradients of the
// function called directly, for its inputs and for the tensors it closes over, draws the same
// random numbers in both passes, keeps none of its intermediates, and refuses create_graph.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <check_gradients.hpp>
#include <test_util.hpp>

using namespace tg_test;

namespace {

// Two inputs, two outputs, a parameter read from outside: a small recurrent block.
struct Block {
  tg::Tensor w = uniform_f64({3, 3}).requires_grad_(true);

  std::vector<tg::Tensor> operator()(const std::vector<tg::Tensor>& in) const {
    const tg::Tensor h = tg::tanh(tg::matmul(in[0], w) + in[1]);
    return {h, tg::sigmoid(h * in[1])};
  }
};

// The block through checkpoint, or called directly; one scalar of both outputs.
tg::Tensor loss_of(const Block& block, const tg::Tensor& x, const tg::Tensor& h,
                   bool checkpointed) {
  const std::vector<tg::Tensor> y = checkpointed ? tg::checkpoint(block, {x, h}) : block({x, h});
  return tg::sum(y[0] * y[0]) + tg::sum(y[1] * 3.0);
}

// The gradients of x, h and w.
std::vector<tg::Tensor> gradients(const Block& block, const tg::Tensor& x, const tg::Tensor& h,
                                  bool checkpointed) {
  return tg::grad({loss_of(block, x, h, checkpointed)}, {x, h, block.w});
}

// Drops about half of x's elements, scaled as dropout is, with a mask drawn inside.
tg::Tensor dropout_like(const tg::Tensor& x) {
  const tg::Tensor keep =
      tg::kernel::gt(tg::rand(x.shape(), x.dtype()), tg::full(x.shape(), 0.5, x.dtype()));
  return x * keep * 2.0;
}

double max_abs_diff(const tg::Tensor& a, const tg::Tensor& b) {
  return tg::max(tg::abs(a - b)).item();
}

}  // namespace

TEST_CASE("checkpoint: gradcheck of a checkpointed function (f64)") {
  tg::manual_seed(70);
  const Block block;
  // First order only: create_graph through a checkpoint is refused (below).
  check_gradients(
      [&](const std::vector<tg::Tensor>& in) {
        const std::vector<tg::Tensor> y = tg::checkpoint(block, in);
        return tg::concat({tg::reshape(y[0], {-1}), tg::reshape(y[1], {-1})}, 0);
      },
      {uniform_f64({2, 3}), uniform_f64({2, 3})}, /*first_order_only=*/true);
}

TEST_CASE("checkpoint: the gradients equal the function's called directly, a parameter's too") {
  tg::manual_seed(71);
  const Block block;
  const tg::Tensor x = uniform_f64({2, 3}).requires_grad_(true);
  const tg::Tensor h = uniform_f64({2, 3}).requires_grad_(true);
  const std::vector<tg::Tensor> direct = gradients(block, x, h, false);
  const std::vector<tg::Tensor> checkpointed = gradients(block, x, h, true);
  REQUIRE(checkpointed.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);  // x, h, then the parameter w that fn closes over
    CHECK(max_abs_diff(direct[i], checkpointed[i]) <= 1e-12);
  }
}

TEST_CASE("checkpoint: tensors fn closes over get their gradients, leaves and op outputs") {
  tg::manual_seed(72);
  const tg::Tensor leaf = uniform_f64({3}).requires_grad_(true);
  const tg::Tensor x = uniform_f64({2, 3}).requires_grad_(true);
  for (const bool through_op : {false, true}) {
    CAPTURE(through_op);
    const tg::Tensor gain = through_op ? tg::exp(leaf) : leaf;  // an op's output outside fn
    const auto fn = [&](const std::vector<tg::Tensor>& in) {
      return std::vector{tg::tanh(in[0] * gain)};
    };
    // gain's graph serves three passes.
    const tg::GradOptions keep{.retain_graph = true};
    const std::vector<tg::Tensor> expected = tg::grad({tg::sum(fn({x})[0])}, {x, leaf}, keep);
    // By grad, which captures the leaf's gradient, and by backward, which accumulates it.
    const std::vector<tg::Tensor> g =
        tg::grad({tg::sum(tg::checkpoint(fn, {x})[0])}, {x, leaf}, keep);
    CHECK(max_abs_diff(g[0], expected[0]) <= 1e-12);
    CHECK(max_abs_diff(g[1], expected[1]) <= 1e-12);
    const tg::Tensor before = leaf.grad().defined() ? leaf.grad().clone() : tg::zeros_like(leaf);
    tg::sum(tg::checkpoint(fn, {x})[0]).backward();
    CHECK(max_abs_diff(leaf.grad() - before, expected[1]) <= 1e-12);
  }
}

TEST_CASE("checkpoint: a function drawing random numbers gets the same gradient") {
  const tg::Tensor x = uniform_f64({4, 5}).requires_grad_(true);
  const auto fn = [](const std::vector<tg::Tensor>& in) {
    return std::vector{dropout_like(tg::tanh(in[0]))};
  };
  const auto gradient = [&](bool checkpointed) {
    tg::manual_seed(73);
    const tg::Tensor y = checkpointed ? tg::checkpoint(fn, {x})[0] : fn({x})[0];
    const tg::Tensor later = tg::rand({100});  // the generator moves on before backward
    const std::string before_backward = tg::default_generator().state();
    const tg::Tensor g = tg::grad({tg::sum(y * y)}, {x})[0];
    CHECK(tg::default_generator().state() == before_backward);  // left as it was
    return g;
  };
  const tg::Tensor direct = gradient(false);
  const tg::Tensor checkpointed = gradient(true);
  CHECK(max_abs_diff(direct, checkpointed) <= 1e-12);
  CHECK(tg::sum(tg::kernel::eq(direct, tg::zeros_like(direct))).item() > 0);  // some dropped
}

TEST_CASE("checkpoint: the forward pass keeps one record per call and the outputs' views") {
  tg::manual_seed(74);
  const tg::Tensor x = uniform_f64({2, 3}).requires_grad_(true);
  const auto long_chain = [](const std::vector<tg::Tensor>& in) {
    tg::Tensor y = in[0];
    for (int i = 0; i < 50; ++i) y = tg::tanh(y * 1.01);
    return std::vector{y, y * 2.0};
  };
  const std::size_t before = tg::Tape::current().size();
  const std::vector<tg::Tensor> y = tg::checkpoint(long_chain, {x});
  CHECK(tg::Tape::current().size() == before + 3);  // the call and its two outputs
  const tg::Tensor direct = long_chain({x})[0];
  CHECK(max_abs_diff(direct, y[0]) == 0.0);
}

TEST_CASE("checkpoint: retain_graph recomputes again; under no_grad it is fn itself") {
  tg::manual_seed(75);
  const Block block;
  const tg::Tensor x = uniform_f64({2, 3}).requires_grad_(true);
  const tg::Tensor h = uniform_f64({2, 3}).requires_grad_(true);
  const tg::Tensor loss = loss_of(block, x, h, true);
  loss.backward(/*retain_graph=*/true);
  const tg::Tensor once = x.grad().clone();
  loss.backward();
  CHECK(max_abs_diff(x.grad(), 2.0 * once) <= 1e-12);
  CHECK(max_abs_diff(block.w.grad(), 2.0 * gradients(block, x, h, false)[2]) <= 1e-12);

  tg::NoGradGuard no_grad;
  const std::vector<tg::Tensor> y = tg::checkpoint(block, {x, h});
  CHECK_FALSE(y[0].requires_grad());
}

TEST_CASE("checkpoint: create_graph is refused, naming checkpoint") {
  tg::manual_seed(76);
  const Block block;
  const tg::Tensor x = uniform_f64({2, 3}).requires_grad_(true);
  const tg::Tensor loss = loss_of(block, x, uniform_f64({2, 3}), true);
  CHECK_THROWS_WITH_AS(tg::grad({loss}, {x}, {.create_graph = true}),
                       doctest::Contains("checkpoint: create_graph is not supported through "
                                         "tg::checkpoint"),
                       tg::AutogradError);
}

TEST_CASE("checkpoint: a recompute that reads a tensor the forward pass did not is refused") {
  tg::manual_seed(77);
  const tg::Tensor w = uniform_f64({3}).requires_grad_(true);
  const tg::Tensor x = uniform_f64({3}).requires_grad_(true);
  bool recomputing = false;
  const auto fn = [&](const std::vector<tg::Tensor>& in) {
    const tg::Tensor y = recomputing ? in[0] * w : in[0] * 2.0;
    recomputing = true;
    return std::vector{y};
  };
  const tg::Tensor loss = tg::sum(tg::checkpoint(fn, {x}, {.name = "drifting"})[0]);
  CHECK_THROWS_WITH_AS(loss.backward(),
                       doctest::Contains("drifting: recomputing fn in backward, mul read a tensor "
                                         "that requires grad which the forward pass did not read"),
                       tg::AutogradError);
}

TEST_CASE("checkpoint: bad functions are named") {
  const tg::Tensor x = uniform_f64({3}).requires_grad_(true);
  CHECK_THROWS_WITH_AS(
      tg::checkpoint([](const std::vector<tg::Tensor>&) { return std::vector<tg::Tensor>{}; }, {x}),
      "checkpoint: fn returned no tensor", tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::checkpoint(
                           [](const std::vector<tg::Tensor>& in) {
                             return std::vector{in[0], in[0].to(tg::f32)};
                           },
                           {x}),
                       "checkpoint: fn's outputs must share one dtype; output 1 is f32, output 0 "
                       "f64",
                       tg::ValueError);
}
