// Sizes of zero: a layer of 0 units or features is a ValueError naming the layer and the
// argument, an initializer of a zero-size shape gives an empty tensor (they divided by zero,
// SIGFPE), and a batch of 0 samples runs through every recurrent layer to empty outputs of
// the right shape, as in PyTorch.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;
namespace nn = tapegrad::nn;

using tg_test::message_of;

TEST_CASE("zero extents: initializers return empty tensors of the zero-size shape") {
  using Init = std::function<tg::Tensor(const tg::Shape&)>;
  const std::vector<std::pair<const char*, Init>> inits = {
      {"glorot_uniform", [](const tg::Shape& s) { return nn::init::glorot_uniform(s); }},
      {"orthogonal", [](const tg::Shape& s) { return nn::init::orthogonal(s); }},
      {"uniform", [](const tg::Shape& s) { return nn::init::uniform(s); }},
      {"normal", [](const tg::Shape& s) { return nn::init::normal(s); }},
      {"zeros", [](const tg::Shape& s) { return nn::init::zeros(s); }},
      {"ones", [](const tg::Shape& s) { return nn::init::ones(s); }}};
  for (const auto& [name, init] : inits) {
    for (const tg::Shape& shape : {tg::Shape{0, 4}, tg::Shape{4, 0}, tg::Shape{0, 0}}) {
      CAPTURE(name);
      CAPTURE(shape);
      const tg::Tensor t = init(shape);
      CHECK(t.shape() == shape);
      CHECK(t.numel() == 0);
    }
  }
  // glorot_uniform of a higher-rank kernel with a zero receptive field.
  CHECK(nn::init::glorot_uniform({0, 3, 4}).shape() == tg::Shape{0, 3, 4});
  CHECK(nn::init::glorot_uniform({3, 0, 4}, tg::f64).dtype() == tg::f64);
  // Non-empty shapes are unchanged: same limit as before.
  const auto w = nn::init::glorot_uniform({6, 4}).to_vector<float>();
  for (float v : w) CHECK(std::abs(v) <= std::sqrt(6.0 / 10.0));
}

TEST_CASE("zero extents: orthogonal rejects negative extents with a ShapeError") {
  CHECK(tg_test::contains(message_of<tg::ShapeError>([] {
                            nn::init::orthogonal({-1, 4});
                          }),
                          "orthogonal"));
}

TEST_CASE("zero extents: layers reject units or features <= 0, naming layer and argument") {
  using Make = std::function<void(int64_t, int64_t)>;
  const std::vector<std::pair<std::string, Make>> layers = {
      {"Dense", [](int64_t in, int64_t u) { nn::Dense(in, u); }},
      {"SimpleRNN", [](int64_t in, int64_t u) { nn::SimpleRNN(in, u); }},
      {"LSTM", [](int64_t in, int64_t u) { nn::LSTM(in, u); }},
      {"GRU", [](int64_t in, int64_t u) { nn::GRU(in, u); }},
      {"SimpleRNNCell", [](int64_t in, int64_t u) { nn::SimpleRNNCell(in, u); }},
      {"LSTMCell", [](int64_t in, int64_t u) { nn::LSTMCell(in, u); }},
      {"GRUCell", [](int64_t in, int64_t u) { nn::GRUCell(in, u); }}};
  for (const auto& [name, make] : layers) {
    CAPTURE(name);
    CHECK(message_of<tg::ValueError>([&] { make(1, 0); }) ==
          name + ": units must be positive, got 0");
    CHECK(message_of<tg::ValueError>([&] { make(0, 1); }) ==
          name + ": in_features must be positive, got 0");
    CHECK(message_of<tg::ValueError>([&] { make(2, -3); }) ==
          name + ": units must be positive, got -3");
    CHECK_NOTHROW(make(1, 1));
  }
  // gates * units past int64 is an error, not a wrapped bias shape.
  CHECK_THROWS_AS(nn::LSTMCell(1, std::numeric_limits<int64_t>::max() / 2), tg::ValueError);
}

TEST_CASE("zero extents: a batch of 0 runs every recurrent layer to empty outputs") {
  tg::manual_seed(3);
  const tg::Tensor x = tg::zeros({0, 5, 2});
  std::vector<std::pair<const char*, std::function<std::shared_ptr<nn::RNN>(nn::RNNOptions)>>>
      layers = {
          {"SimpleRNN", [](nn::RNNOptions o) { return std::make_shared<nn::SimpleRNN>(2, 3, o); }},
          {"LSTM", [](nn::RNNOptions o) { return std::make_shared<nn::LSTM>(2, 3, o); }},
          {"GRU", [](nn::RNNOptions o) { return std::make_shared<nn::GRU>(2, 3, o); }}};
  for (const auto& [name, make] : layers) {
    CAPTURE(name);
    CHECK((*make({}))(x).shape() == tg::Shape{0, 3});
    CHECK((*make({.return_sequences = true}))(x).shape() == tg::Shape{0, 5, 3});
    const nn::RNNOutput out = make({.go_backwards = true})->run(x);
    CHECK(out.output.shape() == tg::Shape{0, 3});
    for (const tg::Tensor& s : out.state) CHECK(s.shape() == tg::Shape{0, 3});
  }
  // Through a model and back: the sum over no samples is 0, every parameter's gradient 0.
  nn::Sequential model{nn::LSTM(2, 4), nn::Dense(4, 1)};
  const tg::Tensor y = model(x);
  CHECK(y.shape() == tg::Shape{0, 1});
  tg::sum(y).backward();
  for (const tg::Tensor& p : model.parameters()) {
    REQUIRE(p.grad().defined());
    for (float g : p.grad().to_vector<float>()) CHECK(g == 0.0f);
  }
}
