// fma_peak: the machine's fp32 peak, the anchor of "x% of one core's peak" in the README's
// Performance section. A loop of independent fused multiply-adds on registers (no memory
// traffic), enough accumulators to keep every FMA unit busy through its latency, on 1 thread
// and on every core. The widest vectors the CPU has (AVX-512, else AVX2 + FMA), chosen at run
// time, so the program runs on any x86-64.
//
//   fma_peak [--seconds S]     prints one JSON line per thread count
//
// Each figure is the best of several timed runs of about S / 5 seconds (default S = 1): the
// peak is what the hardware can do, and a slower run only says the machine was busy.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

namespace {

// Accumulators per loop: two FMA units of latency 4 need 8 in flight; more hides the rest.
constexpr int kChains = 16;

template <std::size_t N>
float sum_of(const float (&lanes)[N]) {
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}

// The FMA loops return the sum of their accumulators so that the compiler keeps the work.
__attribute__((target("avx512f"))) float fma_loop_avx512(std::int64_t iterations) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(1e-3f * static_cast<float>(c));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_ps(sum, acc[c]);
  float lanes[16];  // not _mm512_reduce_add_ps: g++ 12 warns inside it (-Wuninitialized)
  _mm512_storeu_ps(lanes, sum);
  return sum_of(lanes);
}

// 12 accumulators: AVX2 has 16 registers, and a and b take two.
constexpr int kChainsAvx2 = 12;

__attribute__((target("avx2,fma"))) float fma_loop_avx2(std::int64_t iterations) {
  __m256 acc[kChainsAvx2];
  for (int c = 0; c < kChainsAvx2; ++c) acc[c] = _mm256_set1_ps(1e-3f * static_cast<float>(c));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChainsAvx2; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  __m256 sum = acc[0];
  for (int c = 1; c < kChainsAvx2; ++c) sum = _mm256_add_ps(sum, acc[c]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return sum_of(lanes);
}

struct Isa {
  const char* name;
  float (*loop)(std::int64_t);
  int flops_per_iteration;  // chains x lanes x 2 (a multiply and an add)
};

Isa widest_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {"avx512", fma_loop_avx512, kChains * 16 * 2};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return {"avx2", fma_loop_avx2, kChainsAvx2 * 8 * 2};
  }
  std::fprintf(stderr, "fma_peak: this CPU has neither AVX-512 nor AVX2 with FMA\n");
  std::exit(2);
}

// GFLOP/s of `threads` threads running the loop at once: the slowest thread's time counts.
double measure(const Isa& isa, int threads, std::int64_t iterations) {
  std::vector<double> seconds(threads);
  std::vector<float> sink(threads);
  {
    std::vector<std::jthread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const auto start = std::chrono::steady_clock::now();
        sink[t] = isa.loop(iterations);
        seconds[t] =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      });
    }
  }
  if (sink[0] == 12345.0f) std::puts("");  // the results are used
  const double slowest = *std::max_element(seconds.begin(), seconds.end());
  return static_cast<double>(iterations) * isa.flops_per_iteration * threads / slowest * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  double total_seconds = 1.0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      total_seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: fma_peak [--seconds S]\n");
      return 2;
    }
  }
  const Isa isa = widest_isa();
  // Calibrate: iterations for about a fifth of the time, from a short first run.
  const std::int64_t probe = 1 << 20;
  const double probe_gflops = measure(isa, 1, probe);
  const auto iterations =
      static_cast<std::int64_t>(probe_gflops * 1e9 * total_seconds / 5 / isa.flops_per_iteration);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<int> thread_counts{1};
  if (cores > 1) thread_counts.push_back(cores);
  for (int threads : thread_counts) {
    double best = 0;
    for (int run = 0; run < 5; ++run) best = std::max(best, measure(isa, threads, iterations));
    fmt::print(
        "{{\"impl\": \"fma-peak\", \"isa\": \"{}\", \"threads\": {}, \"gflops\": {:.1f}, "
        "\"gflops_per_thread\": {:.1f}}}\n",
        isa.name, threads, best, best / threads);
  }
  return 0;
}
