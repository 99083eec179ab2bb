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
    "usage: reference_fit [--epochs N] [--seed N] [--verbose 0|1|2]\n"
    "  --epochs N     epochs to train (default 100)\n"
    "  --seed N       seed of the data, the initial weights and the batch order (default 0)\n"
    "  --verbose V    0 silent, 1 progress bar, 2 one line per epoch (default 1)\n";

struct Args {
  int epochs = 100;
  std::uint64_t seed = 0;
  int verbose = 1;
  bool help = false;
};

// The whole of `text` as a number in [lo, hi], or nothing: "12x", "" and "-1" for a count
// are mistakes to report, not to read as 12 or 0.
template <class T>
std::optional<T> parse_number(std::string_view text, T lo, T hi) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < lo || value > hi) {
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
      fmt::print(stderr, "reference_fit: {} needs a value\n{}", flag, kUsage);
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
    } else if (flag == "--verbose") {
      const auto n = parse_number<int>(value, 0, 2);
      if (n) args.verbose = *n, ok = true;
    } else {
      fmt::print(stderr, "reference_fit: unknown argument '{}'\n{}", flag, kUsage);
      return std::nullopt;
    }
    if (!ok) {
      fmt::print(stderr, "reference_fit: bad value '{}' for {}\n{}", value, flag, kUsage);
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

  // Seed, data, model, optimizer, in this order: every random draw after the seed depends
  // on the ones before it, so reordering these lines changes the numbers.
  tg::manual_seed(args->seed);
  const tg::Tensor X = tg::rand({100, 10, 1});  // (batch, time, features), U[0, 1)
  const tg::Tensor y = tg::rand({100, 1});
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
                           tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
  tg::nn::MSE loss_fn;
  tg::optim::Adam opt(model.parameters(), {.lr = 1e-3});  // Keras's Adam: eps = 1e-7

  const tg::nn::History h =
      tg::nn::fit(model, loss_fn, opt, X, y,
                  {.epochs = args->epochs, .batch_size = 32, .verbose = args->verbose});

  // y is noise, so a falling loss here means memorising 100 samples, not learning a rule:
  // the point is the training loop, not the model.
  fmt::print("Final loss: {:.6g} after {} epochs\n", h["loss"].back(), h.epochs);
  return 0;
}
