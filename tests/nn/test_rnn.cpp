// tg::nn::RNN and the SimpleRNN/LSTM/GRU layers: gradients of the unrolled layers in f64,
// and the Keras options: return_sequences, go_backwards, initial state, stateful,
// return_state, truncated BPTT, and the errors for bad input.
#include <doctest/doctest.h>

#include <sstream>

#include <nn/nn_test_util.hpp>
#include <test_util.hpp>

using namespace tg_test;

namespace {

enum class Kind { rnn, lstm, gru };

const char* kind_name(Kind k) {
  return k == Kind::rnn ? "SimpleRNN" : k == Kind::lstm ? "LSTM" : "GRU";
}

std::shared_ptr<tg::nn::RNN> make_layer(Kind kind, int64_t in, int64_t units,
                                        tg::nn::RNNOptions opts = {}, tg::DType dtype = tg::f64) {
  switch (kind) {
    case Kind::rnn:
      return std::make_shared<tg::nn::SimpleRNN>(in, units, opts, dtype);
    case Kind::lstm:
      return std::make_shared<tg::nn::LSTM>(in, units, opts, dtype);
    case Kind::gru:
      return std::make_shared<tg::nn::GRU>(in, units, opts, dtype);
  }
  throw std::logic_error("unknown kind");
}

// Weights away from the initial zero biases, large enough that the state matters.
void randomize(tg::nn::Module& m) {
  for (const tg::Tensor& p : m.parameters()) {
    tg::kernel::copy_into(p, tg::uniform(p.shape(), -0.9, 0.9, p.dtype()));
  }
}

// Copies every parameter of `from` into `to` (same architecture).
void copy_parameters(const tg::nn::Module& from, const tg::nn::Module& to) {
  const auto a = from.parameters();
  const auto b = to.parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) tg::kernel::copy_into(b[i], a[i]);
}

// Two layers of one kind with different options and the same random weights: the first
// randomized, its parameters copied into the second.
std::pair<std::shared_ptr<tg::nn::RNN>, std::shared_ptr<tg::nn::RNN>> twin_layers(
    Kind kind, int64_t in, int64_t units, tg::nn::RNNOptions first, tg::nn::RNNOptions second) {
  auto a = make_layer(kind, in, units, first);
  auto b = make_layer(kind, in, units, second);
  randomize(*a);
  copy_parameters(*a, *b);
  return {a, b};
}

// x[:, t] for t = T-1 .. 0.
tg::Tensor reverse_time(const tg::Tensor& x) {
  std::vector<tg::Tensor> steps;
  for (int64_t t = x.shape()[1] - 1; t >= 0; --t) steps.push_back(tg::select(x, 1, t));
  return tg::stack(steps, 1);
}

constexpr Kind kKinds[] = {Kind::rnn, Kind::lstm, Kind::gru};

}  // namespace

TEST_CASE("RNN layers: gradients w.r.t. input and all parameters, f64") {
  for (const Kind kind : kKinds) {
    for (const bool seq : {false, true}) {
      for (const bool backwards : {false, true}) {
        CAPTURE(kind_name(kind));
        CAPTURE(seq);
        CAPTURE(backwards);
        tg::manual_seed(100);
        auto layer = make_layer(kind, 2, 3, {.return_sequences = seq, .go_backwards = backwards});
        randomize(*layer);
        const tg::Tensor x = uniform_f64({2, 4, 2});
        // Second order is checked once per kind (it is the expensive part).
        check_gradients(*layer, x, /*first_order_only=*/seq || backwards);
      }
    }
  }
}

TEST_CASE("RNN layers: gradients through a stacked Sequential, f64") {
  for (const Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    tg::manual_seed(101);
    tg::nn::Sequential model{make_layer(kind, 2, 3, {.return_sequences = true}),
                             make_layer(kind, 3, 2), tg::nn::Dense(2, 1, {.dtype = tg::f64})};
    randomize(model);
    check_gradients(model, uniform_f64({2, 3, 2}), kind != Kind::rnn);
  }
}

TEST_CASE("RNN: return_sequences shapes, last step equals the return_sequences=false output") {
  for (const Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    tg::manual_seed(102);
    const auto [seq, last] = twin_layers(kind, 3, 4, {.return_sequences = true}, {});
    const tg::Tensor x = uniform_f64({2, 5, 3});
    const tg::Tensor ys = (*seq)(x);
    const tg::Tensor y = (*last)(x);
    CHECK(ys.shape() == tg::Shape{2, 5, 4});
    CHECK(y.shape() == tg::Shape{2, 4});
    CHECK(max_abs_diff(tg::select(ys, 1, 4), y) == 0.0);
    // Each prefix of the sequence output is the output of the prefix of the input.
    const tg::Tensor y3 = (*last)(tg::slice(x, 1, 0, 3));
    CHECK(max_abs_diff(tg::select(ys, 1, 2), y3) < 1e-14);
  }
}

TEST_CASE("RNN: go_backwards equals running on the time-reversed input") {
  for (const Kind kind : kKinds) {
    for (const bool seq : {false, true}) {
      CAPTURE(kind_name(kind));
      CAPTURE(seq);
      tg::manual_seed(103);
      const auto [back, fwd] = twin_layers(
          kind, 2, 3, {.return_sequences = seq, .go_backwards = true}, {.return_sequences = seq});
      const tg::Tensor x = uniform_f64({2, 4, 2});
      const tg::Tensor a = (*back)(x);
      const tg::Tensor b = (*fwd)(reverse_time(x));
      CHECK(max_abs_diff(a, b) < 1e-14);
      // And it is not the forward reading (the test would pass vacuously otherwise).
      CHECK(max_abs_diff(a, (*fwd)(x)) > 1e-3);
    }
  }
}

TEST_CASE("RNN: the initial state passed to run() is used") {
  for (const Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    tg::manual_seed(104);
    auto layer = make_layer(kind, 2, 3, {.return_sequences = true});
    randomize(*layer);
    const tg::Tensor x = uniform_f64({2, 4, 2});
    tg::nn::State init;
    for (std::size_t i = 0; i < layer->cell().initial_state(2).size(); ++i) {
      init.push_back(uniform_f64({2, 3}));
    }
    const tg::nn::RNNOutput with = layer->run(x, init);
    const tg::nn::RNNOutput without = layer->run(x);
    CHECK(max_abs_diff(with.output, without.output) > 1e-3);
    // By hand: the first step from `init`, then the rest from its state.
    tg::nn::State s = layer->cell().step(tg::select(x, 1, 0), init);
    CHECK(max_abs_diff(tg::select(with.output, 1, 0), s[0]) < 1e-14);
    for (int64_t t = 1; t < 4; ++t) s = layer->cell().step(tg::select(x, 1, t), s);
    REQUIRE(with.state.size() == s.size());
    for (std::size_t i = 0; i < s.size(); ++i) CHECK(max_abs_diff(with.state[i], s[i]) < 1e-14);
    // An explicit zero state is the default one.
    const tg::nn::RNNOutput zero = layer->run(x, layer->cell().initial_state(2));
    CHECK(max_abs_diff(zero.output, without.output) == 0.0);
  }
}

TEST_CASE("RNN: gradients w.r.t. the initial state passed to run(), f64") {
  for (const Kind kind : {Kind::lstm, Kind::gru}) {
    CAPTURE(kind_name(kind));
    tg::manual_seed(112);
    auto layer = make_layer(kind, 2, 2, {.return_sequences = true});
    randomize(*layer);
    const std::size_t n_state = layer->cell().initial_state(2).size();
    std::vector<tg::Tensor> inputs{uniform_f64({2, 3, 2})};
    for (std::size_t i = 0; i < n_state; ++i) inputs.push_back(uniform_f64({2, 2}));
    const tg::DifferentiableFn fn = [&](const std::vector<tg::Tensor>& in) {
      return layer->run(in[0], tg::nn::State(in.begin() + 1, in.end())).output;
    };
    check_gradients(*layer, fn, inputs, /*first_order_only=*/true);
  }
}

TEST_CASE("RNN: an initial state of the wrong size or shape throws") {
  tg::manual_seed(105);
  tg::nn::LSTM lstm(2, 3, {}, tg::f64);
  const tg::Tensor x = uniform_f64({2, 4, 2});
  // LSTM needs {h, c}.
  CHECK_THROWS_AS(lstm.run(x, {uniform_f64({2, 3})}), tg::Error);
  CHECK_THROWS_AS(lstm.run(x, {uniform_f64({2, 3}), uniform_f64({2, 4})}), tg::ShapeError);
  CHECK_THROWS_AS(lstm.run(x, {uniform_f64({3, 3}), uniform_f64({3, 3})}), tg::ShapeError);
  tg::nn::GRU gru(2, 3, {}, tg::f64);
  CHECK_THROWS_AS(gru.run(x, {uniform_f64({2, 3}), uniform_f64({2, 3})}), tg::Error);
}

TEST_CASE("RNN: stateful carries the state across calls; reset_states restores") {
  for (const Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    tg::manual_seed(106);
    const auto [layer, plain] = twin_layers(kind, 2, 3, {.stateful = true}, {});
    const tg::Tensor x = uniform_f64({2, 3, 2});
    const tg::Tensor first = (*layer)(x);
    const tg::Tensor second = (*layer)(x);
    CHECK(max_abs_diff(first, second) > 1e-3);
    CHECK(max_abs_diff(first, (*plain)(x)) < 1e-14);
    // The second call continues the first: one call on the concatenated sequence.
    CHECK(max_abs_diff(second, (*plain)(tg::concat({x, x}, 1))) < 1e-12);
    // The carried state is detached: the second output does not reach the first call.
    layer->reset_states();
    const tg::Tensor again = (*layer)(x);
    CHECK(max_abs_diff(again, first) == 0.0);
    // A different batch size with a carried state is an error that says what to do.
    CHECK(contains(message_of<tg::ShapeError>([&] {
                     (*layer)(uniform_f64({3, 3, 2}));
                   }),
                   "reset_states"));
    layer->reset_states();
    CHECK((*layer)(uniform_f64({3, 3, 2})).shape() == tg::Shape{3, 3});
  }
}

TEST_CASE("RNN: stateful state is detached between calls") {
  tg::manual_seed(107);
  tg::nn::SimpleRNN layer(2, 3, {.stateful = true}, tg::f64);
  randomize(layer);
  const tg::Tensor x1 = uniform_f64({2, 3, 2}).requires_grad_(true);
  (void)layer(x1);
  const tg::Tensor x2 = uniform_f64({2, 3, 2}).requires_grad_(true);
  const tg::Tensor loss = tg::sum(layer(x2));
  loss.backward();
  CHECK(x2.grad().defined());
  CHECK_FALSE(x1.grad().defined());
}

TEST_CASE("RNN: return_state keeps the final state; h equals the output") {
  for (const Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    tg::manual_seed(108);
    auto layer = make_layer(kind, 2, 3, {.return_state = true});
    randomize(*layer);
    const tg::Tensor x = uniform_f64({2, 4, 2});
    const tg::Tensor y = (*layer)(x);
    const tg::nn::State& s = layer->last_state();
    REQUIRE(s.size() == (kind == Kind::lstm ? 2u : 1u));
    for (const tg::Tensor& t : s) CHECK(t.shape() == tg::Shape{2, 3});
    CHECK(max_abs_diff(s[0], y) == 0.0);
    if (kind == Kind::lstm) {
      // h = o * tanh(c): |h| < |tanh(c)|, and c is a different tensor.
      CHECK(max_abs_diff(s[1], s[0]) > 1e-3);
    }
    // With return_sequences, h is the last step of the sequence.
    auto seq = make_layer(kind, 2, 3, {.return_sequences = true, .return_state = true});
    copy_parameters(*layer, *seq);
    const tg::Tensor ys = (*seq)(x);
    CHECK(max_abs_diff(seq->last_state()[0], tg::select(ys, 1, 3)) == 0.0);
    // The state is part of the graph: it can be backpropagated.
    CHECK(seq->last_state()[0].requires_grad());
  }
}

TEST_CASE("RNN: truncated BPTT cuts the gradient every k steps") {
  for (const Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    tg::manual_seed(109);
    const int64_t T = 5;
    const int64_t k = 2;
    const auto [trunc, full] = twin_layers(kind, 2, 3, {.tbptt = k}, {});
    const tg::Tensor x_data = uniform_f64({2, T, 2});

    const auto gradients = [&](tg::nn::RNN& layer) {
      const tg::Tensor x = x_data.clone().requires_grad_(true);
      layer.zero_grad();
      const tg::Tensor y = layer(x);
      tg::sum(y * y).backward();  // depends on the last step only
      std::vector<tg::Tensor> g{x.grad()};
      for (const tg::Tensor& p : layer.parameters()) g.push_back(p.grad().clone());
      return std::make_pair(y, g);
    };
    const auto [y_trunc, g_trunc] = gradients(*trunc);
    const auto [y_full, g_full] = gradients(*full);
    // Truncation changes gradients only, never values.
    CHECK(max_abs_diff(y_trunc, y_full) == 0.0);

    // Windows are [0, 2), [2, 4), [4, 5): the last step's loss reaches only step 4's input.
    const tg::Tensor gx = g_trunc[0];
    for (int64_t t = 0; t < T; ++t) {
      CAPTURE(t);
      const tg::Tensor gt = tg::select(gx, 1, t);
      const tg::Tensor ft = tg::select(g_full[0], 1, t);
      if (t < 4) {
        CHECK(max_abs_diff(gt, tg::zeros_like(gt)) == 0.0);
        CHECK(max_abs_diff(ft, tg::zeros_like(ft)) > 1e-6);  // full BPTT does reach it
      } else {
        CHECK(max_abs_diff(gt, ft) < 1e-14);
      }
    }
    // The parameter gradients differ from full BPTT...
    double param_diff = 0;
    for (std::size_t i = 1; i < g_trunc.size(); ++i) {
      param_diff = std::max(param_diff, max_abs_diff(g_trunc[i], g_full[i]));
    }
    CHECK(param_diff > 1e-6);

    // ...and are exactly those of full BPTT over the last window, started from the
    // (constant) state the first steps reach.
    tg::nn::State s4;
    {
      tg::NoGradGuard no_grad;
      s4 = full->run(tg::slice(x_data, 1, 0, 4)).state;
    }
    full->zero_grad();
    const tg::Tensor tail = full->run(tg::slice(x_data, 1, 4, T), s4).output;
    tg::sum(tail * tail).backward();
    const auto params = full->parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
      CHECK(max_abs_diff(params[i].grad(), g_trunc[i + 1]) < 1e-12);
    }
  }
}

TEST_CASE("RNN: tbptt with a sequence loss, and gradcheck sees the truncation") {
  tg::manual_seed(110);
  auto trunc = make_layer(Kind::gru, 2, 2, {.return_sequences = true, .tbptt = 2});
  randomize(*trunc);
  // tbptt >= T is full BPTT: the gradients are the true ones.
  check_gradients(*trunc, uniform_f64({2, 2, 2}));
  // tbptt < T: the analytic gradient is not the derivative of the function any more, and
  // gradcheck must say so (otherwise truncation would not be happening).
  CHECK_FALSE(tg::nn::gradcheck(*trunc, {uniform_f64({2, 4, 2})}).ok);
  // With a loss on every step, step t's input gets the gradient of the outputs of its own
  // window only: outputs t' >= t in the same window of 2.
  auto full = make_layer(Kind::gru, 2, 2, {.return_sequences = true});
  copy_parameters(*trunc, *full);
  const tg::Tensor x = uniform_f64({2, 4, 2}).requires_grad_(true);
  const tg::Tensor y = (*trunc)(x);
  tg::sum(y).backward();
  for (int64_t window = 0; window < 2; ++window) {
    tg::Tensor xw = tg::slice(x.detach(), 1, 2 * window, 2 * window + 2).clone();
    xw.requires_grad_(true);

    tg::nn::State start;
    {
      tg::NoGradGuard no_grad;
      start = window == 0 ? full->cell().initial_state(2)
                          : full->run(tg::slice(x.detach(), 1, 0, 2)).state;
    }
    tg::sum(full->run(xw, start).output).backward();
    CHECK(max_abs_diff(tg::slice(x.grad(), 1, 2 * window, 2 * window + 2), xw.grad()) < 1e-14);
  }
}

TEST_CASE("RNN: bad input shapes throw ShapeError naming layer, parameter and shape") {
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 4, {.return_sequences = true}),
                           tg::nn::SimpleRNN(4, 2), tg::nn::Dense(2, 1)};
  {
    const std::string msg = message_of<tg::ShapeError>([&] { model(tg::rand({2, 5, 3})); });
    CAPTURE(msg);
    CHECK(contains(msg, "0:SimpleRNN"));
    CHECK(contains(msg, "kernel"));
    CHECK(contains(msg, fmt::format("{}", tg::Shape{1, 4})));
    // The user's input shape, not an internal reshaped one.
    CHECK(contains(msg, fmt::format("{}", tg::Shape{2, 5, 3})));
  }
  for (const Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    auto layer = make_layer(kind, 2, 3, {}, tg::f32);
    const std::string msg = message_of<tg::ShapeError>([&] { (*layer)(tg::rand({2, 4, 5})); });
    CHECK(contains(msg, kind_name(kind)));
    CHECK(contains(msg, "kernel"));
    CHECK_THROWS_AS((*layer)(tg::rand({2, 4})), tg::ShapeError);
    CHECK_THROWS_AS((*layer)(tg::rand({2, 4, 2, 1})), tg::ShapeError);
    CHECK_THROWS_AS((*layer)(tg::rand({2, 0, 2})), tg::ShapeError);
  }
  // A bad input leaves the layer usable.
  CHECK(model(tg::rand({2, 5, 1})).shape() == tg::Shape{2, 1});
  CHECK_THROWS_AS(tg::nn::RNN(nullptr), tg::ValueError);
  CHECK_THROWS_AS(tg::nn::SimpleRNN(2, 3, {.tbptt = -1}), tg::ValueError);
}

TEST_CASE("RNN: the tape shows the module scope and the time step of each record") {
  tg::manual_seed(111);
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 4, {.return_sequences = true}),
                           tg::nn::SimpleRNN(4, 2), tg::nn::Dense(2, 1)};
  const tg::Tensor y = model(tg::rand({2, 5, 1}));
  std::ostringstream ss;
  tg::Tape::current().print(ss);
  const std::string tape = ss.str();
  CHECK(contains(tape, "Sequential/0:SimpleRNN [step 3]"));
  CHECK(contains(tape, "Sequential/1:SimpleRNN [step 4]"));
  CHECK(contains(tape, "Sequential/0:SimpleRNN/input_projection"));
  CHECK(contains(tape, "Sequential/2:Dense"));
  CHECK_FALSE(contains(tape, "0:SimpleRNN [step 5]"));  // 5 steps: 0..4
  CHECK_FALSE(contains(tape, "/t3"));                   // steps are fields, not scope names
  (void)y;
}
