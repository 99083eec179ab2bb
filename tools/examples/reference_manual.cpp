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
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/core.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

namespace {

constexpr const char* kUsage =
    "usage: reference_manual [--epochs N] [--seed N] [--clip-norm C]\n"
    "  --epochs N      epochs to train (default 100)\n"
    "  --seed N        seed of the data, the initial weights and the batch order (default 0)\n"
    "  --clip-norm C   largest global gradient norm, 0 for no clipping (default 1)\n";

struct Args {
  int epochs = 100;
  std::uint64_t seed = 0;
  double clip_norm = 1.0;
  bool help = false;
};

// The whole of `text` as a number in [lo, hi], or nothing: "12x", "" and "-1" for a count
// are mistakes to report, not to read as 12 or 0.
template <class T>
std::optional<T> parse_number(std::string_view text, T lo, T hi) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !(value >= lo && value <= hi)) {
    return std::nullopt;
  }
  return value;
}

// Reads --flag VALUE pairs. On a mistake, prints what was wrong and the usage and returns
// nothing, so main can exit with 2 (the usual code for bad command-line use).
std::optional<Args> parse_args(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      args.help = true;
      return args;
    }
    if (i + 1 >= argc) {
      fmt::print(stderr, "reference_manual: {} needs a value\n{}", flag, kUsage);
      return std::nullopt;
    }
    const std::string_view value = argv[i + 1];
    bool ok = false;
    if (flag == "--epochs") {
      const auto n = parse_number<int>(value, 1, 1000000);
      if (n) args.epochs = *n, ok = true;
    } else if (flag == "--seed") {
      const auto n = parse_number<std::uint64_t>(value, 0, UINT64_MAX);
      if (n) args.seed = *n, ok = true;
    } else if (flag == "--clip-norm") {
      const auto c = parse_number<double>(value, 0.0, 1e30);
      if (c) args.clip_norm = *c, ok = true;
    } else {
      fmt::print(stderr, "reference_manual: unknown argument '{}'\n{}", flag, kUsage);
      return std::nullopt;
    }
    if (!ok) {
      fmt::print(stderr, "reference_manual: bad value '{}' for {}\n{}", value, flag, kUsage);
      return std::nullopt;
    }
  }
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Args> args = parse_args(argc, argv);
  if (!args) return 2;
  if (args->help) {
    fmt::print("{}", kUsage);
    return 0;
  }

  // Seed, data, model, optimizer, in the order reference_fit uses, so both start alike.
  tg::manual_seed(args->seed);
  const tg::Tensor X = tg::rand({100, 10, 1});  // (batch, time, features), U[0, 1)
  const tg::Tensor y = tg::rand({100, 1});
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
                           tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
  tg::nn::MSE loss_fn;
  tg::optim::Adam opt(model.parameters(), {.lr = 1e-3});

  for (int epoch = 1; epoch <= args->epochs; ++epoch) {
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
      if (args->clip_norm > 0) {
        // Returns the norm before clipping: how often it exceeds the limit tells whether
        // the limit shapes training or only guards against a rare spike.
        const double norm = tg::optim::clip_grad_norm(model.parameters(), args->clip_norm);
        if (norm > args->clip_norm) ++clipped;
      }
      opt.step();
      ++steps;
      // Weighted by batch size, so the short last batch (100 = 32 + 32 + 32 + 4) counts for
      // its 4 samples only: the mean over samples, as Keras and fit() report it.
      loss_sum += loss.item() * static_cast<double>(xb.shape()[0]);
      samples += xb.shape()[0];
    }
    fmt::print("epoch {:>3}/{}  loss {:.6g}  clipped {}/{} steps\n", epoch, args->epochs,
               loss_sum / static_cast<double>(samples), clipped, steps);
  }
  return 0;
}
