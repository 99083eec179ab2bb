#include <string>
#include <vector>

#include <check_gradients.hpp>

using namespace tg_test;

namespace {

// y = sum(tanh(tanh(x * w_early) * w_late)): w_late's only reader runs before w_early's in
// backward, so w_late's gradient is complete first.
struct TwoLayers {
  tg::Tensor x = tg::tensor({0.5, -1.0});
  tg::Tensor w_early = tg::tensor({0.3, 0.7}).requires_grad_();
  tg::Tensor w_late = tg::tensor({-0.2, 0.9}).requires_grad_();
  tg::Tensor loss() const { return tg::sum(tg::tanh(tg::tanh(x * w_early) * w_late)); }
};

}  // namespace

TEST_CASE("post-accumulate hooks fire in the middle of backward, in the predicted order") {
  TwoLayers m;
  std::vector<std::string> events;
  std::vector<const tg::AutogradMeta*> predicted;
  tg::HookHandle late = tg::register_post_accumulate_grad_hook(m.w_late, [&](const tg::Tensor& g) {
    events.push_back("late");
    predicted = tg::backward_leaf_order();
    // w_early is still being computed: its .grad() is not there yet.
    CHECK_FALSE(m.w_early.grad().defined());
    CHECK(g.data<double>() == m.w_late.grad().data<double>());
    tg::queue_backward_callback([&] { events.push_back("done"); });
  });
  tg::HookHandle early = tg::register_post_accumulate_grad_hook(
      m.w_early, [&](const tg::Tensor&) { events.push_back("early"); });
  m.loss().backward();
  CHECK(events == std::vector<std::string>{"late", "early", "done"});
  CHECK(predicted == std::vector<const tg::AutogradMeta*>{tg::autograd_meta(m.w_late),
                                                          tg::autograd_meta(m.w_early)});
}

TEST_CASE("post-accumulate hooks see the same gradients as backward without them") {
  TwoLayers plain;
  plain.loss().backward();
  TwoLayers hooked;
  tg::Tensor seen;
  tg::HookHandle h = tg::register_post_accumulate_grad_hook(
      hooked.w_early, [&](const tg::Tensor& g) { seen = g.clone(); });
  hooked.loss().backward();
  CHECK(seen.to_vector<double>() == plain.w_early.grad().to_vector<double>());
  CHECK(hooked.w_late.grad().to_vector<double>() == plain.w_late.grad().to_vector<double>());
}

TEST_CASE("a removed post-accumulate hook does not fire; grad() fires none") {
  TwoLayers m;
  int calls = 0;
  {
    tg::HookHandle h =
        tg::register_post_accumulate_grad_hook(m.w_early, [&](const tg::Tensor&) { ++calls; });
    tg::grad({m.loss()}, {m.w_early});  // grad() leaves .grad() alone: no accumulation
    CHECK(calls == 0);
    m.loss().backward();
    CHECK(calls == 1);
  }
  m.loss().backward();
  CHECK(calls == 1);
  CHECK(tg::autograd_meta(m.w_early)->post_accumulate_hooks.empty());
}

TEST_CASE("a leaf no gradient reaches fires no post-accumulate hook") {
  tg::Tensor used = tg::tensor({1.0}).requires_grad_();
  tg::Tensor unused = tg::tensor({1.0}).requires_grad_();
  int calls = 0;
  tg::HookHandle h =
      tg::register_post_accumulate_grad_hook(unused, [&](const tg::Tensor&) { ++calls; });
  tg::sum(used * 2.0).backward();
  CHECK(calls == 0);
}

TEST_CASE("post-accumulate hooks and backward callbacks refuse what they cannot serve") {
  tg::Tensor w = tg::tensor({1.0}).requires_grad_();
  CHECK_THROWS_WITH_AS(tg::register_post_accumulate_grad_hook(w * 2.0, [](const tg::Tensor&) {}),
                       doctest::Contains("is not a leaf that requires grad"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(tg::queue_backward_callback([] {}),
                       doctest::Contains("no backward pass is running"), tg::AutogradError);
  CHECK_THROWS_AS(tg::backward_leaf_order(), tg::AutogradError);
}
