// The smallest useful tapegrad program: the reference Keras model
//   SimpleRNN(64, return_sequences) -> SimpleRNN(32) -> Dense(1), Adam, mean squared error
// fitted to random sequences. Replace the data and the model with your own.
#include <fmt/core.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

int main() {
  // Everything random (data, initial weights, batch order) comes from this one seed, so two
  // runs print the same losses.
  tg::manual_seed(0);
  const tg::Tensor X = tg::rand({100, 10, 1});  // 100 sequences of 10 steps of 1 feature
  const tg::Tensor y = tg::rand({100, 1});

  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
                           tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
  tg::nn::MSE loss_fn;
  tg::optim::Adam opt(model.parameters(), {.lr = 1e-3});

  // verbose = 2: one line per epoch (a progress bar, verbose = 1, suits a terminal better
  // than a log file).
  const tg::nn::History h =
      tg::nn::fit(model, loss_fn, opt, X, y, {.epochs = 20, .batch_size = 32, .verbose = 2});
  fmt::print("Final loss: {:.6g} after {} epochs\n", h["loss"].back(), h.epochs);
  return 0;
}
