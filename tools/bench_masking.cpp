// Masking overhead: forward + backward of one layer over a padded batch with its mask, against
// the same batch without one (issue 12: at most 1.2x). Not a test: run it by hand,
//   ./build/tools/bench_masking [reps] [SimpleRNN|LSTM|GRU]
// B=32, T=100, F=16, units 64, post-padded lengths drawn in [T/2, T]; the median of `reps`
// timed runs per case, after one warm-up; one line per layer kind and go_backwards.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

namespace {

constexpr int64_t kBatch = 32, kSteps = 100, kFeatures = 16, kUnits = 64;

std::shared_ptr<tg::nn::RNN> make_layer(const std::string& kind, bool backwards) {
  const tg::nn::RNNOptions opts{.return_sequences = true, .go_backwards = backwards};
  if (kind == "LSTM") return std::make_shared<tg::nn::LSTM>(kFeatures, kUnits, opts);
  if (kind == "GRU") return std::make_shared<tg::nn::GRU>(kFeatures, kUnits, opts);
  return std::make_shared<tg::nn::SimpleRNN>(kFeatures, kUnits, opts);
}

tg::Tensor post_padding_mask() {
  std::vector<float> m;
  for (int64_t b = 0; b < kBatch; ++b) {
    const int64_t length = kSteps / 2 + std::rand() % (kSteps / 2 + 1);
    for (int64_t t = 0; t < kSteps; ++t) m.push_back(t < length ? 1.f : 0.f);
  }
  return tg::from_vector(m, {kBatch, kSteps});
}

// Median seconds of one forward + backward.
double time_it(tg::nn::RNN& layer, const tg::Tensor& x, const tg::Tensor& mask, int reps) {
  std::vector<double> seconds;
  for (int r = 0; r <= reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const tg::Tensor loss = tg::sum(layer.run(x, {}, mask).output);
    loss.backward();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    if (r > 0) seconds.push_back(took.count());  // run 0 warms the allocator up
  }
  std::nth_element(seconds.begin(), seconds.begin() + reps / 2, seconds.end());
  return seconds[static_cast<std::size_t>(reps / 2)];
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 21;
  const std::string only = argc > 2 ? argv[2] : "";  // one layer kind, e.g. under perf record
  tg::manual_seed(0);
  std::srand(0);
  const tg::Tensor x = tg::randn({kBatch, kSteps, kFeatures});
  const tg::Tensor mask = post_padding_mask();
  fmt::print("B={} T={} F={} units={}, forward+backward, median of {} runs\n", kBatch, kSteps,
             kFeatures, kUnits, reps);
  for (const std::string kind : {"SimpleRNN", "LSTM", "GRU"}) {
    if (!only.empty() && kind != only) continue;
    for (bool backwards : {false, true}) {
      auto layer = make_layer(kind, backwards);
      const double plain = time_it(*layer, x, {}, reps);
      const double masked = time_it(*layer, x, mask, reps);
      fmt::print("{:<9} go_backwards={:<5}  no mask {:7.2f} ms   mask {:7.2f} ms   ratio {:.3f}\n",
                 kind, backwards, plain * 1e3, masked * 1e3, masked / plain);
    }
  }
}
