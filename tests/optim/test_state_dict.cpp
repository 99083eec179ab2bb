// state_dict / load_state_dict: resuming from a checkpoint gives the same parameters as
// never stopping; bad state dicts are rejected with the offending entry named.
#include "helpers.hpp"

namespace tg = tapegrad;

namespace {

// Parameters named like a model's, f32.
tg::NamedTensors make_params() {
  return {{"0.kernel", tg::from_vector<float>({0.5f, -1.0f, 2.0f, 0.25f}, {2, 2})},
          {"0.bias", tg::from_vector<float>({0.1f, -0.2f}, {2})}};
}

tg::NamedTensors clone_params(const tg::NamedTensors& params) {
  tg::NamedTensors out;
  for (const auto& [name, t] : params) out.emplace_back(name, t.clone());
  return out;
}

// A gradient that depends on the current weights, so trajectories diverge on any error:
// g = w^2 - 0.3 + 0.1 * step.
void set_grads(const tg::NamedTensors& params, int step) {
  for (const auto& [name, p] : params) {
    std::vector<float> g = p.to_vector<float>();
    for (float& x : g) x = x * x - 0.3f + 0.1f * static_cast<float>(step);
    p.set_grad(tg::from_vector(g, p.shape()));
  }
}

template <class Opt, class Options>
void check_resume(Options options) {
  const tg::NamedTensors straight = make_params();
  Opt a(straight, options);
  for (int s = 0; s < 6; ++s) {
    set_grads(straight, s);
    a.step();
  }

  const tg::NamedTensors first = make_params();
  Opt b(first, options);
  for (int s = 0; s < 3; ++s) {
    set_grads(first, s);
    b.step();
  }
  const tg::optim::StateDict checkpoint = b.state_dict();
  const tg::NamedTensors resumed = clone_params(first);
  set_grads(first, 99);
  b.step();  // the checkpoint is a copy: stepping on must not change it

  Opt c(resumed, options);
  c.load_state_dict(checkpoint);
  CHECK(c.iterations() == 3);
  for (int s = 3; s < 6; ++s) {
    set_grads(resumed, s);
    c.step();
  }
  for (std::size_t i = 0; i < straight.size(); ++i) {
    CAPTURE(straight[i].first);
    CHECK(straight[i].second.to_vector<float>() == resumed[i].second.to_vector<float>());
  }
}

}  // namespace

TEST_CASE("state_dict round trip: Adam (amsgrad), SGD (momentum), RMSprop (centered)") {
  check_resume<tg::optim::Adam>(tg::optim::AdamOptions{.lr = 0.05, .amsgrad = true});
  check_resume<tg::optim::SGD>(tg::optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
  check_resume<tg::optim::RMSprop>(
      tg::optim::RMSpropOptions{.lr = 0.01, .momentum = 0.5, .centered = true});
}

TEST_CASE("state_dict holds step, lr and named slots") {
  const tg::NamedTensors params = make_params();
  tg::optim::Adam opt(params, {.lr = 0.01});
  set_grads(params, 0);
  opt.step();
  const tg::optim::StateDict state = opt.state_dict();
  std::vector<std::string> keys;
  for (const auto& [key, value] : state) keys.push_back(key);
  CHECK(keys ==
        std::vector<std::string>{"0.bias.m", "0.bias.v", "0.kernel.m", "0.kernel.v", "lr", "step"});
  CHECK(state.at("step").item() == 1.0);
  CHECK(state.at("lr").item() == doctest::Approx(0.01));
  CHECK(state.at("0.kernel.m").shape() == tg::Shape{2, 2});
}

TEST_CASE("load_state_dict restores lr") {
  const tg::NamedTensors params = make_params();
  tg::optim::SGD a(params, {.lr = 0.3});
  tg::optim::SGD b(params, {.lr = 0.1});
  b.load_state_dict(a.state_dict());
  CHECK(b.lr() == doctest::Approx(0.3));
}

TEST_CASE("load_state_dict rejects bad entries, naming them, and changes nothing") {
  const tg::NamedTensors params = make_params();
  tg::optim::Adam opt(params, {.lr = 0.01});
  set_grads(params, 0);
  opt.step();
  const tg::optim::StateDict good = opt.state_dict();

  auto with = [&](const std::string& key, const tg::Tensor& value) {
    tg::optim::StateDict s = good;
    s[key] = value;
    return s;
  };
  auto without = [&](const std::string& key) {
    tg::optim::StateDict s = good;
    s.erase(key);
    return s;
  };

  CHECK_THROWS_WITH_AS(opt.load_state_dict(without("step")), doctest::Contains("'step'"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(opt.load_state_dict(with("1.kernel.m", tg::zeros({2, 2}))),
                       doctest::Contains("'1.kernel.m'"), tg::ValueError);
  CHECK_THROWS_WITH_AS(opt.load_state_dict(with("0.kernel.vhat", tg::zeros({2, 2}))),
                       doctest::Contains("'0.kernel.vhat'"), tg::ValueError);
  CHECK_THROWS_WITH_AS(opt.load_state_dict(with("0.kernel.m", tg::zeros({4}))),
                       doctest::Contains("'0.kernel.m'"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(opt.load_state_dict(with("0.bias.v", tg::zeros({2}, tg::f64))),
                       doctest::Contains("'0.bias.v'"), tg::DTypeError);
  CHECK_THROWS_WITH_AS(opt.load_state_dict(without("0.bias.v")), doctest::Contains("'0.bias.v'"),
                       tg::ValueError);
  CHECK_THROWS_AS(opt.load_state_dict(with("step", tg::scalar_tensor(1.5, tg::f64))),
                  tg::ValueError);
  CHECK_THROWS_AS(opt.load_state_dict(with("step", tg::zeros({2}, tg::f64))), tg::ShapeError);

  // None of the failures touched the state.
  const tg::optim::StateDict after = opt.state_dict();
  CHECK(opt.iterations() == 1);
  CHECK(after.at("0.kernel.m").to_vector<float>() == good.at("0.kernel.m").to_vector<float>());

  // A fresh optimizer (no state yet) accepts the state of one that has stepped.
  tg::optim::Adam fresh(make_params(), {.lr = 0.01});
  fresh.load_state_dict(good);
  CHECK(fresh.iterations() == 1);
}
