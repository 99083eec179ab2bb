// Module::summary (Keras's model.summary() table, output shapes from a dummy batch),
// operator<< and fmt for modules.
#include <doctest/doctest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

namespace {

tg::nn::Sequential reference_model() {
  return tg::nn::Sequential{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
                            tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A user's model with its own forward: the layers are its children, called in its own way.
struct TwoHeads : tg::nn::Module {
  TwoHeads()
      : rnn(register_module("rnn", std::make_shared<tg::nn::GRU>(3, 4))),
        head(register_module("head", std::make_shared<tg::nn::Dense>(4, 2))),
        unused(register_module("unused", std::make_shared<tg::nn::Dense>(4, 1))) {}
  tg::Tensor forward(const tg::Tensor& x) override { return (*head)((*rnn)(x)); }
  std::string type_name() const override { return "TwoHeads"; }
  std::shared_ptr<tg::nn::GRU> rnn;
  std::shared_ptr<tg::nn::Dense> head, unused;
};

// A module that tells nothing about its input.
struct Doubler : tg::nn::Module {
  tg::Tensor forward(const tg::Tensor& x) override { return x * 2.0; }
  std::string type_name() const override { return "Doubler"; }
};

}  // namespace

TEST_CASE("summary: Keras's table for the reference model, time steps given") {
  tg::nn::Sequential model = reference_model();
  std::ostringstream out;
  model.summary(out, {10, 1});
  // 64 * (1 + 64 + 1) = 4224, 32 * (64 + 32 + 1) = 3104, 32 + 1 = 33; 7361 f32 = 28.75 KB.
  CHECK(out.str() ==
        "Model: SimpleRNN(64) -> SimpleRNN(32) -> Dense(1)\n"
        "Input: (None, 10, 1)\n"
        "_________________________________________________________________\n"
        "Layer (type)                 Output Shape              Param #\n"
        "=================================================================\n"
        "0 (SimpleRNN)                (None, 10, 64)            4224\n"
        "_________________________________________________________________\n"
        "1 (SimpleRNN)                (None, 32)                3104\n"
        "_________________________________________________________________\n"
        "2 (Dense)                    (None, 1)                 33\n"
        "=================================================================\n"
        "Total params: 7,361 (28.75 KB)\n"
        "Trainable params: 7,361 (28.75 KB)\n"
        "Non-trainable params: 0 (0.00 B)\n"
        "_________________________________________________________________\n");
  CHECK(tg::nn::summary(model, {10, 1}) == out.str());
}

TEST_CASE("summary: without an input shape, features from the first layer and time as None") {
  tg::nn::Sequential model = reference_model();
  const std::string text = tg::nn::summary(model);
  CHECK(contains(text, "Input: (None, None, 1)\n"));
  CHECK(contains(text, "0 (SimpleRNN)                (None, None, 64)          4224\n"));
  CHECK(contains(text, "1 (SimpleRNN)                (None, 32)                3104\n"));
}

TEST_CASE("summary: LSTM, GRU and Bidirectional parameter counts") {
  tg::manual_seed(0);
  tg::nn::Sequential model{tg::nn::LSTM(2, 8, {.return_sequences = true}),
                           tg::nn::GRU(8, 4, {.return_sequences = true}),
                           tg::nn::Bidirectional(std::make_shared<tg::nn::LSTM>(4, 3)),
                           tg::nn::Dense(6, 1, {.activation = tg::nn::Activation::sigmoid})};
  const std::string text = tg::nn::summary(model, {5, 2});
  CAPTURE(text);
  // LSTM: 4 gates * 8 * (2 + 8 + 1); GRU (Keras's reset_after, two biases): 3 * 4 * (8 + 4 + 2);
  // Bidirectional: two LSTM(4, 3) of 4 * 3 * (4 + 3 + 1), outputs concatenated.
  CHECK(contains(text, "0 (LSTM)                     (None, 5, 8)              352\n"));
  CHECK(contains(text, "1 (GRU)                      (None, 5, 4)              168\n"));
  CHECK(contains(text, "2 (Bidirectional)            (None, 6)                 192\n"));
  CHECK(contains(text, "3 (Dense)                    (None, 1)                 7\n"));
  CHECK(contains(text, "Total params: 719 (2.81 KB)\n"));
  CHECK(
      contains(text, "Model: LSTM(8) -> GRU(4) -> Bidirectional(LSTM(3)) -> Dense(1, sigmoid)\n"));
}

TEST_CASE("summary: parameters without requires_grad are non-trainable") {
  tg::nn::Sequential model = reference_model();
  auto& dense = dynamic_cast<tg::nn::Dense&>(model[2]);
  dense.kernel.requires_grad_(false);
  const std::string text = tg::nn::summary(model, {10, 1});
  CHECK(contains(text, "Total params: 7,361 (28.75 KB)\n"));
  CHECK(contains(text, "Trainable params: 7,329 (28.63 KB)\n"));
  CHECK(contains(text, "Non-trainable params: 32 (128.00 B)\n"));
  model.to(tg::f64);
  CHECK(contains(tg::nn::summary(model, {10, 1}), "Total params: 7,361 (57.51 KB)\n"));
}

TEST_CASE("summary: a user's model gets rows for the children its forward calls") {
  TwoHeads model;
  const std::string text = tg::nn::summary(model);
  CAPTURE(text);
  CHECK(contains(text, "Model: TwoHeads\nInput: (None, None, 3)\n"));
  CHECK(contains(text, "rnn (GRU)                    (None, 4)                 108\n"));
  CHECK(contains(text, "head (Dense)                 (None, 2)                 10\n"));
  CHECK(contains(text, "unused (Dense)               ?                         5\n"));
  CHECK(contains(text, "Total params: 123 "));
  // A layer alone is its own row.
  tg::nn::Dense dense(3, 2);
  CHECK(contains(tg::nn::summary(dense, {3}),
                 "Dense                        (None, 2)                 8\n"));
}

TEST_CASE("summary: the model is left as it was") {
  tg::manual_seed(1);
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 4, {.stateful = true}), tg::nn::Dropout(0.5),
                           tg::nn::Dense(4, 1)};
  model.train();
  model[2].eval();
  const tg::Tensor x = tg::rand({5, 3, 1});
  {
    tg::NoGradGuard no_grad;
    model(x);  // the stateful layer now carries a state for batch 5
  }
  auto& rnn = dynamic_cast<tg::nn::RNN&>(model[0]);
  const std::vector<float> carried = rnn.leftovers().carried.at(0).to_vector<float>();
  tg::manual_seed(7);
  const std::string text = tg::nn::summary(model, {3, 1});
  const float next_random = tg::rand({1}).item();
  tg::manual_seed(7);
  CHECK(next_random == tg::rand({1}).item());  // no dropout mask was drawn
  CHECK(contains(text, "1 (Dropout)                  (None, 4)                 0\n"));
  CHECK(model.is_training());
  CHECK(model[1].is_training());
  CHECK_FALSE(model[2].is_training());
  REQUIRE(rnn.leftovers().carried.size() == 1);
  CHECK(rnn.leftovers().carried[0].to_vector<float>() == carried);
  tg::NoGradGuard no_grad;
  CHECK(model(x).shape() == tg::Shape{5, 1});  // still the batch of 5 it carries a state for
}

TEST_CASE("summary: a model that tells no input size, or a bad shape, is answered in words") {
  Doubler doubler;
  CHECK_THROWS_WITH_AS(tg::nn::summary(doubler),
                       doctest::Contains("no layer of Doubler tells its input features; give "
                                         "the input shape"),
                       tg::ValueError);
  CHECK(contains(tg::nn::summary(doubler, {4}), "Doubler                      (None, 4)"));
  tg::nn::Sequential model = reference_model();
  CHECK_THROWS_WITH_AS(tg::nn::summary(model, {10, 0}),
                       doctest::Contains("input shape [10, 0] (without the batch dimension) must "
                                         "hold positive sizes"),
                       tg::ValueError);
}

TEST_CASE("operator<< and fmt print a module's one-line form") {
  tg::nn::Sequential model = reference_model();
  std::ostringstream out;
  out << model;
  CHECK(out.str() == "SimpleRNN(64) -> SimpleRNN(32) -> Dense(1)");
  CHECK(fmt::format("{}", model) == out.str());
  CHECK(fmt::format("[{:>16}]", tg::nn::Dense(4, 2, {.activation = tg::nn::Activation::tanh})) ==
        "[  Dense(2, tanh)]");
  CHECK(fmt::format("{}", model[1]) == "SimpleRNN(32)");
  CHECK(tg::nn::to_string(TwoHeads()) == "TwoHeads");
}
