// Every number an optimizer state or a checkpoint brings from a file is checked as strictly
// as the safetensors header: a step of inf or 1e20 (once converted to int64 with undefined
// behaviour, and resumed to "Final loss: -nan"), NaN moments, a negative second moment, a
// generator state with junk after it are refused, naming the entry and the value, and
// leave the model and the optimizer as they were.
#include <cmath>
#include <limits>
#include <string>

#include <tapegrad/nn/nn.hpp>

#include <test_util.hpp>

#include "helpers.hpp"

namespace tg = tapegrad;

using tg_test::contains;
using tg_test::message_of;
using tg_test::ScratchDir;

namespace {

// An Adam that took two steps on one parameter, and its state dict.
struct SteppedAdam {
  tg::Tensor w = tgtest::param({0.5, -1.0});
  tg::optim::Adam opt{tg::NamedTensors{{"w", w}}, {.lr = 0.1}};
  SteppedAdam() {
    for (int s = 0; s < 2; ++s) {
      tgtest::set_grad(w, {0.3, -0.2});
      opt.step();
    }
  }
};

tg::Tensor f64_scalar(double v) {
  return tg::scalar_tensor(v, tg::f64);
}

}  // namespace

TEST_CASE("checkpoint numbers: step must be a whole number in [0, 2^53]") {
  SteppedAdam a;
  const double inf = std::numeric_limits<double>::infinity();
  for (const double bad : {inf, 1e20, std::nan(""), -1.0, 2.5, 0x1p53 + 2}) {
    CAPTURE(bad);
    tg::optim::StateDict state = a.opt.state_dict();
    state["step"] = f64_scalar(bad);
    const std::string msg = message_of<tg::ValueError>([&] { a.opt.load_state_dict(state); });
    CHECK(contains(msg, "entry 'step' must be a whole number in [0, 2^53], got "));
    CHECK(contains(msg, fmt::format("got {}", bad)));
    CHECK(a.opt.iterations() == 2);  // untouched
  }
  tg::optim::StateDict state = a.opt.state_dict();
  state["step"] = f64_scalar(0x1p53);
  a.opt.load_state_dict(state);
  CHECK(a.opt.iterations() == (int64_t{1} << 53));
}

TEST_CASE("checkpoint numbers: lr must be finite and >= 0") {
  SteppedAdam a;
  for (const double bad : {std::numeric_limits<double>::infinity(), std::nan(""), -0.1}) {
    CAPTURE(bad);
    tg::optim::StateDict state = a.opt.state_dict();
    state["lr"] = f64_scalar(bad);
    CHECK(
        contains(message_of<tg::ValueError>([&] { a.opt.load_state_dict(state); }), "entry 'lr'"));
    CHECK(a.opt.lr() == 0.1);
  }
}

TEST_CASE("checkpoint numbers: optimizer slots must be finite, second moments >= 0") {
  SteppedAdam a;
  const tg::optim::StateDict good = a.opt.state_dict();
  struct Case {
    const char* key;
    double value;
    std::string message;
  };
  const double inf = std::numeric_limits<double>::infinity();
  for (const Case& c : {Case{"w.m", std::nan(""), "entry 'w.m' holds nan at element 1"},
                        Case{"w.m", -inf, "entry 'w.m' holds -inf at element 1"},
                        Case{"w.v", inf, "entry 'w.v' holds inf at element 1"},
                        Case{"w.v", -1e-3, "entry 'w.v' holds -0.001 at element 1"}}) {
    CAPTURE(c.message);
    tg::optim::StateDict state = good;
    std::vector<double> values = state.at(c.key).to_vector<double>();
    values[1] = c.value;
    state[c.key] = tg::from_vector(values, {2});
    const std::string msg = message_of<tg::ValueError>([&] { a.opt.load_state_dict(state); });
    CHECK_MESSAGE(contains(msg, c.message), msg);
    CHECK(contains(msg, "resume from an earlier checkpoint"));
  }
  // A first moment may be negative; the state as saved loads.
  tg::optim::StateDict negative_m = good;
  negative_m["w.m"] = tg::from_vector(std::vector<double>{-1.0, -2.0}, {2});
  a.opt.load_state_dict(negative_m);
  a.opt.load_state_dict(good);

  // SGD's momentum buffer and RMSprop's average of squares are checked alike.
  tg::Tensor w = tgtest::param({1.0});
  tg::optim::SGD sgd(tg::NamedTensors{{"w", w}}, {.lr = 0.1, .momentum = 0.9});
  tg::optim::StateDict sgd_state{{"step", f64_scalar(1)},
                                 {"lr", f64_scalar(0.1)},
                                 {"w.momentum", tg::from_vector(std::vector<double>{inf}, {1})}};
  CHECK(contains(message_of<tg::ValueError>([&] { sgd.load_state_dict(sgd_state); }),
                 "entry 'w.momentum' holds inf"));
  tg::optim::RMSprop rms(tg::NamedTensors{{"w", w}}, {.lr = 0.1});
  tg::optim::StateDict rms_state{{"step", f64_scalar(1)},
                                 {"lr", f64_scalar(0.1)},
                                 {"w.velocity", tg::from_vector(std::vector<double>{-2.0}, {1})}};
  CHECK(contains(message_of<tg::ValueError>([&] { rms.load_state_dict(rms_state); }),
                 "entry 'w.velocity' holds -2 at element 0"));
}

TEST_CASE("checkpoint numbers: a checkpoint file with step inf is refused, naming the file") {
  ScratchDir dir("tg-ckpt-numbers");
  const std::string path = dir / "run.ckpt";
  tg::manual_seed(1);
  tg::nn::Dense model(2, 1);
  tg::optim::Adam opt(model.parameters(), {.lr = 0.01});
  tg::nn::save_checkpoint(path, model, opt, {.epoch = 3});

  // Rewrite the file as a hostile or damaged one would be: same metadata, step = inf or 1e20.
  std::map<std::string, std::string> metadata;
  const std::map<std::string, tg::Tensor> good = tg::load_safetensors(path, &metadata);
  const std::vector<float> kernel_before = model.named_parameters()[0].second.to_vector<float>();
  for (const double bad : {std::numeric_limits<double>::infinity(), 1e20}) {
    CAPTURE(bad);
    std::map<std::string, tg::Tensor> tensors = good;
    tensors["optimizer.step"] = f64_scalar(bad);
    tg::save_safetensors(path, tensors, metadata);
    tg::optim::Adam fresh(model.parameters(), {.lr = 0.5});
    const std::string msg =
        message_of<tg::ValueError>([&] { tg::nn::load_checkpoint(path, model, fresh); });
    CHECK(contains(msg, "load_checkpoint: '" + path + "'"));
    CHECK(contains(msg, "entry 'step'"));
    CHECK(contains(msg, fmt::format("got {}", bad)));
    CHECK(fresh.iterations() == 0);
    CHECK(fresh.lr() == 0.5);
    CHECK(model.named_parameters()[0].second.to_vector<float>() == kernel_before);
  }
}

TEST_CASE("checkpoint numbers: the generator state must read back whole") {
  tg::Generator g(7);
  const std::string state = g.state();
  tg::Generator probe;
  probe.set_state(state);  // the state as written reads back
  CHECK(probe.uniform() == g.uniform());
  const std::string spare = state.substr(state.rfind(' ') + 1);
  const std::string head = state.substr(0, state.rfind(' ') + 1);
  for (const std::string& bad :
       {state + " 12", state + "junk", head + "nan", head + "inf", head + spare + "zz"}) {
    CAPTURE(bad.substr(bad.size() - 12));
    CHECK(contains(message_of<tg::ValueError>([&] { probe.set_state(bad); }),
                   "malformed generator state"));
  }

  ScratchDir dir("tg-ckpt-numbers");
  const std::string path = dir / "run.ckpt";
  tg::nn::Dense model(2, 1);
  tg::optim::SGD opt(model.parameters(), {.lr = 0.01});
  tg::nn::save_checkpoint(path, model, opt, {.epoch = 1});
  std::map<std::string, std::string> metadata;
  const std::map<std::string, tg::Tensor> tensors = tg::load_safetensors(path, &metadata);
  metadata["rng_state"] = head + "nan";
  tg::save_safetensors(path, tensors, metadata);
  const std::string msg = message_of<tg::IOError>([&] { tg::nn::read_checkpoint_info(path); });
  CHECK(contains(msg, "'" + path + "': metadata 'rng_state' is not a generator state"));
}
