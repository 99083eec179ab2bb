// Checkpointing through time (the goal: peak memory at most 1/10 of full BPTT, time at most
// 1.6x): forward + backward of sum(output) through one layer with full BPTT against
// RNNOptions::checkpoint_every = k. Not a test: run it by hand, in a Release build,
//   ./build/tools/bench_checkpoint [reps] [k] [SimpleRNN|LSTM]
// B=8, T=10,000, F=8, units 64, f32, k=100 by default. Per layer kind and mode it prints
// the allocator's peak bytes above what was in use before the forward (tensor data, tape
// records and their bookkeeping: everything the caching allocator hands out), the process's
// peak RSS over the same forward + backward (Linux: /proc/self/clear_refs resets VmHWM), and
// the median time of `reps` runs after one warm-up.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

namespace {

constexpr int64_t kBatch = 8, kSteps = 10000, kFeatures = 8, kUnits = 64;

std::shared_ptr<tg::nn::RNN> make_layer(const std::string& kind, int64_t every) {
  const tg::nn::RNNOptions opts{.checkpoint_every = every};
  if (kind == "LSTM") return std::make_shared<tg::nn::LSTM>(kFeatures, kUnits, opts);
  return std::make_shared<tg::nn::SimpleRNN>(kFeatures, kUnits, opts);
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Seconds of the forward and of the backward of sum(output).
std::pair<double, double> forward_backward(tg::nn::RNN& layer, const tg::Tensor& x) {
  const auto start = Clock::now();
  const tg::Tensor loss = tg::sum(layer(x));
  const double forward = seconds_since(start);
  const auto backward_start = Clock::now();
  loss.backward();
  return {forward, seconds_since(backward_start)};
}

// The process's peak resident set since the last reset, in bytes (0 where unknown).
std::size_t peak_rss() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// Returns the freed memory to the system and restarts the peak RSS from the current RSS.
void reset_peak_rss() {
  tg::empty_cache();
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
}

struct Measurement {
  double forward = 0;          // median seconds
  double backward = 0;         // median seconds, checkpointed: with the recompute
  double total = 0;            // median seconds of forward + backward
  std::size_t peak_bytes = 0;  // allocator, above the bytes in use before the forward
  std::size_t peak_rss = 0;    // process, above the RSS before the forward
};

Measurement measure(tg::nn::RNN& layer, const tg::Tensor& x, int reps) {
  Measurement m;
  reset_peak_rss();
  const std::size_t rss_before = peak_rss();
  const std::size_t in_use = tg::memory_stats().bytes_in_use;
  tg::reset_peak_memory();
  forward_backward(layer, x);
  m.peak_bytes = tg::memory_stats().peak_bytes - in_use;
  m.peak_rss = peak_rss() - rss_before;

  std::vector<double> forward, backward, total;
  for (int r = 0; r <= reps; ++r) {
    layer.zero_grad();
    const auto [f, b] = forward_backward(layer, x);
    if (r == 0) continue;  // run 0 warms the allocator up
    forward.push_back(f);
    backward.push_back(b);
    total.push_back(f + b);
  }
  m.forward = median(forward);
  m.backward = median(backward);
  m.total = median(total);
  return m;
}

double mib(std::size_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const int64_t every = argc > 2 ? std::max(1, std::atoi(argv[2])) : 100;
  tg::manual_seed(0);
  const tg::Tensor x = tg::randn({kBatch, kSteps, kFeatures});
  fmt::print("B={} T={} F={} units={} f32, forward+backward of sum(h_T), median of {} runs\n",
             kBatch, kSteps, kFeatures, kUnits, reps);
  const std::string only = argc > 3 ? argv[3] : "";  // one layer kind, e.g. under perf
  for (const char* kind : {"SimpleRNN", "LSTM"}) {
    if (!only.empty() && only != kind) continue;
    auto full_layer = make_layer(kind, 0);
    auto checkpointed_layer = make_layer(kind, every);
    const Measurement full = measure(*full_layer, x, reps);
    const Measurement checkpointed = measure(*checkpointed_layer, x, reps);
    const std::string label = fmt::format("k={}", every);
    for (const auto& [name, m] :
         {std::pair{std::string("full BPTT"), full}, std::pair{label, checkpointed}}) {
      fmt::print(
          "{:<9} {:<10} peak {:8.2f} MiB   peak RSS +{:8.2f} MiB   {:8.1f} ms (forward {:.1f}, "
          "backward {:.1f})\n",
          kind, name, mib(m.peak_bytes), mib(m.peak_rss), m.total * 1e3, m.forward * 1e3,
          m.backward * 1e3);
    }
    fmt::print("{:<9} ratios     peak {:.4f}   peak RSS {:.4f}   time {:.3f}\n", kind,
               static_cast<double>(checkpointed.peak_bytes) / static_cast<double>(full.peak_bytes),
               static_cast<double>(checkpointed.peak_rss) / static_cast<double>(full.peak_rss),
               checkpointed.total / full.total);
  }
}
