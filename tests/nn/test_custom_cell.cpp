// A cell written outside the library, the way a researcher would: a minimal gated unit (MGU,
// Zhou et al. 2016) in ~30 lines, without an input projection (nn/mgu_cell.hpp). tg::nn::RNN
// unrolls it, its gradients check out in f64, and Adam trains it on a small task.
#include <doctest/doctest.h>

#include <nn/mgu_cell.hpp>
#include <nn/nn_test_util.hpp>
#include <test_util.hpp>

using namespace tg_test;

namespace {
void randomize(tg::nn::Module& m) {
  for (const tg::Tensor& p : m.parameters()) {
    tg::kernel::copy_into(p, tg::uniform(p.shape(), -0.9, 0.9, p.dtype()));
  }
}

}  // namespace

TEST_CASE("custom cell: registered like a built-in one, unrolled by RNN") {
  tg::manual_seed(1);
  auto cell = std::make_shared<MGUCell>(2, 3, tg::f64);
  tg::nn::RNN layer(cell, {.return_sequences = true});
  CHECK_FALSE(cell->has_input_projection());
  CHECK(layer.named_parameters().size() == 3);
  CHECK(layer.named_parameters()[1].first == "cell.recurrent_kernel");
  randomize(layer);
  const tg::Tensor x = uniform_f64({2, 4, 2});
  const tg::Tensor y = layer(x);
  REQUIRE(y.shape() == tg::Shape{2, 4, 3});
  // The unrolled output is step() applied in a loop from the zero state.
  tg::nn::State s = cell->initial_state(2);
  CHECK(s[0].dtype() == tg::f64);
  for (int64_t t = 0; t < 4; ++t) {
    s = cell->step(tg::select(x, 1, t), s);
    CHECK(max_abs_diff(tg::select(y, 1, t), s[0]) < 1e-14);
  }
  // go_backwards and return_state work on the step() path too.
  tg::nn::RNN back(cell, {.return_state = true, .go_backwards = true});
  const tg::Tensor yb = back(x);
  s = cell->initial_state(2);
  for (int64_t t = 3; t >= 0; --t) s = cell->step(tg::select(x, 1, t), s);
  CHECK(max_abs_diff(yb, s[0]) < 1e-14);
  CHECK(max_abs_diff(back.last_state()[0], s[0]) == 0.0);
  // A wrong feature size is reported with the layer and the time step.
  const std::string msg = message_of<tg::ShapeError>([&] { layer(uniform_f64({2, 4, 5})); });
  CAPTURE(msg);
  CHECK(contains(msg, "RNN"));
  CHECK(contains(msg, "time step 0"));
}

TEST_CASE("custom cell: gradients through RNN w.r.t. input and parameters, f64") {
  tg::manual_seed(2);
  for (const bool seq : {true, false}) {
    CAPTURE(seq);
    tg::nn::RNN layer(std::make_shared<MGUCell>(2, 3, tg::f64), {.return_sequences = seq});
    randomize(layer);
    check_gradients(layer, uniform_f64({2, 3, 2}), /*first_order_only=*/!seq);
  }
  // In a stack with a built-in layer.
  tg::nn::Sequential model{tg::nn::RNN(std::make_shared<MGUCell>(2, 2, tg::f64),
                                       {.return_sequences = true, .go_backwards = true}),
                           tg::nn::GRU(2, 2, {}, tg::f64), tg::nn::Dense(2, 1, {.dtype = tg::f64})};
  randomize(model);
  check_gradients(model, uniform_f64({2, 4, 2}), /*first_order_only=*/true);
}

TEST_CASE("custom cell: Adam trains it to predict the sum of a sequence") {
  tg::manual_seed(3);
  const int64_t n = 64;
  const int64_t T = 5;
  const tg::Tensor x = tg::uniform({n, T, 1}, -0.5, 0.5);
  const tg::Tensor y = tg::sum(x, {1});  // (n, 1)
  tg::nn::Sequential model{tg::nn::RNN(std::make_shared<MGUCell>(1, 8)), tg::nn::Dense(8, 1)};
  tg::optim::Adam opt(model.named_parameters(), {.lr = 0.02});
  const auto loss_of = [&] { return tg::mean(tg::square(model(x) - y)); };
  double initial = 0;
  {
    tg::NoGradGuard no_grad;
    initial = loss_of().item();
  }
  double last = initial;
  for (int step = 0; step < 200; ++step) {
    const tg::Tensor loss = loss_of();
    opt.zero_grad();
    loss.backward();
    opt.step();
    last = loss.item();
  }
  {
    tg::NoGradGuard no_grad;
    last = loss_of().item();
  }
  MESSAGE("MGU sum task: loss " << initial << " -> " << last);
  CHECK(std::isfinite(last));
  CHECK(last < 0.05 * initial);
  CHECK(last < 0.01);
}
