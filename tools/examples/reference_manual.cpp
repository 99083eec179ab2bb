// The reference Keras model, trained by a hand-written loop instead of tg::nn::fit.
//
//   tapegrad run tools/examples/reference_manual.cpp -- --epochs 100 --clip-norm 1
//
// The loop is what fit() does inside, spelled out, plus one thing fit leaves to the
// optimizer's options: clipping the global gradient norm between backward() and step()
// (torch.nn.utils.clip_grad_norm_). Write the loop yourself when a step needs something fit
// does not offer: clipping, several losses, a gradient you inspect or change, a schedule of
// your own. The same seed gives the same data, weights and batch orders as reference_fit,
// so with --clip-norm 0 (no clipping) the two print the same losses.
#include <cstdint>

#include <fmt/core.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

int main(int argc, char** argv) {
  int epochs = 100;
  std::uint64_t seed = 0;
  double clip_norm = 1.0;
  tg::tools::ScriptArgs args("reference_manual",
                             "The reference Keras model, trained by a hand-written loop that "
                             "clips the gradient norm.");
  args.option("--epochs", epochs, "epochs to train").range(1, 1000000);
  args.option("--seed", seed, "seed of the data, the initial weights and the batch order");
  args.option("--clip-norm", clip_norm, "largest global gradient norm, 0 for no clipping")
      .value_name("C")
      .range(0.0, 1e30);
  if (const auto exit_code = args.parse(argc, argv)) return *exit_code;

  // Seed, data, model, optimizer, in the order reference_fit uses, so both start alike.
  tg::manual_seed(seed);
  const tg::Tensor X = tg::rand({100, 10, 1});  // (batch, time, features), U[0, 1)
  const tg::Tensor y = tg::rand({100, 1});
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
                           tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
  tg::nn::MSE loss_fn;
  tg::optim::Adam opt(model.parameters(), {.lr = 1e-3});

  for (int epoch = 1; epoch <= epochs; ++epoch) {
    // batches() draws this epoch's permutation when it is called, from the default
    // generator, as fit does: one call per epoch, a new order each time.
    double loss_sum = 0;
    int64_t samples = 0;
    int clipped = 0, steps = 0;
    for (auto [xb, yb] : tg::data::batches(X, y, {.batch_size = 32, .shuffle = true})) {
      const tg::Tensor loss = loss_fn(model(xb), yb);
      // Gradients accumulate (grad +=) across backward calls; clear them first.
      opt.zero_grad();
      loss.backward();
      if (clip_norm > 0) {
        // Returns the norm before clipping: how often it exceeds the limit tells whether
        // the limit shapes training or only guards against a rare spike.
        const double norm = tg::optim::clip_grad_norm(model.parameters(), clip_norm);
        if (norm > clip_norm) ++clipped;
      }
      opt.step();
      ++steps;
      // Weighted by batch size, so the short last batch (100 = 32 + 32 + 32 + 4) counts for
      // its 4 samples only: the mean over samples, as Keras and fit() report it.
      loss_sum += loss.item() * static_cast<double>(xb.shape()[0]);
      samples += xb.shape()[0];
    }
    fmt::print("epoch {:>3}/{}  loss {:.6g}  clipped {}/{} steps\n", epoch, epochs,
               loss_sum / static_cast<double>(samples), clipped, steps);
  }
  return 0;
}
