// The reference Keras model, trained the short way: tg::nn::fit.
//
//   SimpleRNN(64, return_sequences) -> SimpleRNN(32) -> Dense(1), Adam (lr 1e-3), MSE,
//   100 random sequences of 10 steps, batch 32
//
//   tapegrad run tools/examples/reference_fit.cpp -- --epochs 100 --seed 0
//
// fit() is Keras's model.fit: a fresh shuffle per epoch, batches, zero_grad / forward /
// loss / backward / step per batch, a progress display, and a History of the losses. With
// the defaults this prints the same final loss as `tapegrad train` (0.0314365), because
// both draw the data, the weights and the batch orders from the same seed in the same order.
#include <cstdint>

#include <fmt/core.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

int main(int argc, char** argv) {
  int epochs = 100;
  std::uint64_t seed = 0;
  int verbose = 1;
  tg::tools::ScriptArgs args("reference_fit",
                             "The reference Keras model, trained with tg::nn::fit.");
  args.option("--epochs", epochs, "epochs to train").range(1, 1000000);
  args.option("--seed", seed, "seed of the data, the initial weights and the batch order");
  args.option("--verbose", verbose, "0 silent, 1 progress bar, 2 one line per epoch")
      .value_name("0|1|2")
      .range(0, 2);
  if (const auto exit_code = args.parse(argc, argv)) return *exit_code;

  // Seed, data, model, optimizer, in this order: every random draw after the seed depends
  // on the ones before it, so reordering these lines changes the numbers.
  tg::manual_seed(seed);
  const tg::Tensor X = tg::rand({100, 10, 1});  // (batch, time, features), U[0, 1)
  const tg::Tensor y = tg::rand({100, 1});
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
                           tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
  tg::nn::MSE loss_fn;
  tg::optim::Adam opt(model.parameters(), {.lr = 1e-3});  // Keras's Adam: eps = 1e-7
  model.summary({10, 1});  // Keras's table: each layer's output shape and parameters

  const tg::nn::History h = tg::nn::fit(model, loss_fn, opt, X, y,
                                        {.epochs = epochs, .batch_size = 32, .verbose = verbose});

  // y is noise, so a falling loss here means memorising 100 samples, not learning a rule:
  // the point is the training loop, not the model.
  fmt::print("Final loss: {:.6g} after {} epochs\n", h["loss"].back(), h.epochs);
  return 0;
}
