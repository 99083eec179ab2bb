// Masking overhead: forward + backward of one layer over a padded batch with its mask, against
// the same batch without one (the goal: at most 1.2x). Not a test: run it by hand,
//   ./build/tools/bench_masking [reps] [SimpleRNN|LSTM|GRU]
// B=32, T=100, F=16, units 64, post-padded lengths drawn in [T/2, T]; the medians of `reps`
// timed runs per case (runs with and without the mask alternate), after one warm-up; one line
// per layer kind and go_backwards. On a shared machine, OPENBLAS_NUM_THREADS=1 and the cpu
// time ratio are the steadier figures.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
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

struct Seconds {
  double wall = 0, cpu = 0;  // cpu: of the process (all threads), robust to a loaded machine
};

// One forward + backward.
Seconds run_once(tg::nn::RNN& layer, const tg::Tensor& x, const tg::Tensor& mask) {
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  const tg::Tensor loss = tg::sum(layer.run(x, {}, mask).output);
  loss.backward();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return {took.count(), static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC};
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

struct Timing {
  Seconds plain, masked;  // medians
};

// Runs without and with the mask alternate, so that a load change on a shared machine hits
// both alike; run 0 of each warms the allocator up.
Timing time_pair(tg::nn::RNN& layer, const tg::Tensor& x, const tg::Tensor& mask, int reps) {
  std::vector<double> plain_wall, plain_cpu, masked_wall, masked_cpu;
  for (int r = 0; r <= reps; ++r) {
    const Seconds plain = run_once(layer, x, {});
    const Seconds masked = run_once(layer, x, mask);
    if (r == 0) continue;
    plain_wall.push_back(plain.wall);
    plain_cpu.push_back(plain.cpu);
    masked_wall.push_back(masked.wall);
    masked_cpu.push_back(masked.cpu);
  }
  return {{median(plain_wall), median(plain_cpu)}, {median(masked_wall), median(masked_cpu)}};
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
      const Timing t = time_pair(*layer, x, mask, reps);
      fmt::print(
          "{:<9} go_backwards={:<5}  no mask {:7.2f} ms   mask {:7.2f} ms   ratio {:.3f}   "
          "(cpu time ratio {:.3f})\n",
          kind, backwards, t.plain.wall * 1e3, t.masked.wall * 1e3, t.masked.wall / t.plain.wall,
          t.masked.cpu / t.plain.cpu);
    }
  }
}
