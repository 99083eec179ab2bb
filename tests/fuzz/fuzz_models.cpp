#include "fuzz_models.hpp"

namespace fuzz {

namespace tg = tapegrad;

tg::nn::Sequential reference_model() {
  tg::manual_seed(0);
  return tg::nn::Sequential{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
                            tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
}

tg::nn::Sequential checkpoint_model() {
  tg::manual_seed(0);
  return tg::nn::Sequential{tg::nn::SimpleRNN(1, 3), tg::nn::Dense(3, 1)};
}

std::vector<ConfigModel> config_models() {
  namespace nn = tg::nn;
  tg::manual_seed(0);
  std::vector<ConfigModel> out;
  out.push_back({std::make_shared<nn::Sequential>(checkpoint_model()), 1});
  out.push_back({std::make_shared<nn::Sequential>(
                     nn::LSTM(2, 3, {.return_sequences = true}, {.unit_forget_bias = false}),
                     nn::GRU(3, 2, {.go_backwards = true}, {.dropout = 0.25}),
                     nn::Dense(2, 1, {.activation = nn::Activation::sigmoid})),
                 2});
  out.push_back({std::make_shared<nn::Sequential>(
                     nn::Bidirectional(std::make_shared<nn::SimpleRNN>(
                                           2, 3, nn::RNNOptions{.return_sequences = true},
                                           nn::SimpleRNNCellOptions{.recurrent_dropout = 0.5}),
                                       {.merge = nn::MergeMode::sum}),
                     nn::Dropout(0.5), nn::RNN(std::make_shared<nn::LSTMCell>(3, 2)),
                     nn::Dense(2, 2, {.use_bias = false})),
                 2});
  auto f64 = std::make_shared<nn::Sequential>(
      nn::Dense(3, 2, {.activation = nn::Activation::relu}),
      nn::RNN(std::make_shared<nn::GRUCell>(2, 2), {.checkpoint_every = 2}));
  f64->to(tg::f64);
  out.push_back({f64, 3});
  return out;
}

const std::vector<std::string>& optimizer_names() {
  static const std::vector<std::string> names{"sgd", "gd", "adam", "adamw", "rmsprop"};
  return names;
}

std::unique_ptr<tg::optim::Optimizer> make_optimizer(const std::string& name,
                                                     const tg::nn::Module& model) {
  const tg::NamedTensors params = model.named_parameters();
  if (name == "sgd")
    return std::make_unique<tg::optim::SGD>(params, tg::optim::SGDOptions{.momentum = 0.9});
  if (name == "gd") return std::make_unique<tg::optim::GD>(params);
  if (name == "adam") return std::make_unique<tg::optim::Adam>(params);
  if (name == "adamw") return std::make_unique<tg::optim::AdamW>(params);
  if (name == "rmsprop") {
    return std::make_unique<tg::optim::RMSprop>(
        params, tg::optim::RMSpropOptions{.momentum = 0.9, .centered = true});
  }
  tg::throw_error<tg::ValueError>("fuzz::make_optimizer: unknown optimizer '{}'", name);
}

void train_one_step(tg::nn::Module& model, tg::optim::Optimizer& opt) {
  const tg::Tensor x = tg::from_vector(std::vector<float>{0.1f, 0.2f, 0.3f, 0.4f}, {2, 2, 1});
  const tg::Tensor y = tg::from_vector(std::vector<float>{0.5f, -0.5f}, {2, 1});
  tg::nn::MSE loss_fn;
  opt.zero_grad();
  loss_fn(model(x), y).backward();
  opt.step();
}

}  // namespace fuzz
