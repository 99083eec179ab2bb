// bench_core: how close core's kernels come to the machine.
//
//   elementwise add / mul / tanh on 1M floats, in GB/s, next to a plain memcpy of the same
//   size (the memory bandwidth those kernels can at best reach);
//   tg::kernel::matmul against a direct cblas_sgemm on the same buffers, at 4x4x4 (the fixed
//   per-call cost alone, with little arithmetic to add noise), 32x64x64 (where per-call
//   overhead shows) and 512x512x512 (where it must vanish), as time per call, the absolute
//   overhead in microseconds and the relative overhead.
//
// Each figure is the median of several timed batches; a batch repeats the call enough times
// to run for ~20 ms (thread CPU time with one BLAS thread, see now_seconds). The runs of the two
// matmul variants are interleaved batch by batch so that noise from other processes hits both
// alike. OpenBLAS runs on one thread unless
// --threads N is given, so the comparison is not at the mercy of a busy second core.
//
// usage: bench_core [--threads N] [--quick]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include <cblas.h>
#include <fmt/core.h>

#include <tapegrad/core/core.hpp>
#include <tapegrad/core/vmath.hpp>

namespace tg = tapegrad;
namespace k = tapegrad::kernel;

namespace {

// With one BLAS thread every call runs on this thread, so its CPU time is the cost of the
// call, and time the scheduler gives to other processes (the machine is shared) is not
// counted. With more threads only wall time is meaningful.
bool g_thread_clock = true;

double now_seconds() {
  timespec ts{};
  clock_gettime(g_thread_clock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double seconds_since(double t0) {
  return now_seconds() - t0;
}

// Calls per batch so that a batch takes about `target` seconds.
int64_t calibrate(const std::function<void()>& fn, double target) {
  int64_t reps = 1;
  while (true) {
    const double t0 = now_seconds();
    for (int64_t i = 0; i < reps; ++i) fn();
    const double t = seconds_since(t0);
    if (t > target / 4 || reps > (int64_t{1} << 30)) {
      return std::max<int64_t>(1, static_cast<int64_t>(reps * target / std::max(t, 1e-9)));
    }
    reps *= 4;
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median seconds per call of each function, batches interleaved.
std::vector<double> time_per_call(const std::vector<std::function<void()>>& fns, int batches,
                                  double batch_seconds) {
  std::vector<int64_t> reps;
  for (const auto& fn : fns) {
    fn();  // warm-up: caches, allocator, BLAS buffers
    reps.push_back(calibrate(fn, batch_seconds));
  }
  std::vector<std::vector<double>> samples(fns.size());
  for (int b = 0; b < batches; ++b) {
    for (std::size_t f = 0; f < fns.size(); ++f) {
      const double t0 = now_seconds();
      for (int64_t i = 0; i < reps[f]; ++i) fns[f]();
      samples[f].push_back(seconds_since(t0) / static_cast<double>(reps[f]));
    }
  }
  std::vector<double> out;
  for (auto& s : samples) out.push_back(median(s));
  return out;
}

// Keeps results alive so the compiler cannot drop the work.
volatile float g_sink = 0;

void bench_elementwise(int batches, double batch_seconds) {
  constexpr int64_t n = 1 << 20;
  const std::size_t bytes = n * sizeof(float);
  tg::manual_seed(0);
  const tg::Tensor a = tg::rand({n});
  const tg::Tensor b = tg::rand({n});
  std::vector<float> src(n, 1.5f), dst(n);

  const std::vector<double> t =
      time_per_call({[&] {
                       std::memcpy(dst.data(), src.data(), bytes);
                       g_sink = dst[n / 2];
                     },
                     [&] { g_sink = k::add(a, b).data<float>()[n / 2]; },
                     [&] { g_sink = k::mul(a, b).data<float>()[n / 2]; },
                     [&] { g_sink = k::tanh(a).data<float>()[n / 2]; },
                     [&] { g_sink = k::sigmoid(a).data<float>()[n / 2]; }},
                    batches, batch_seconds);

  // Bytes that must cross the memory bus: every input read once, the output written once.
  const double mb = static_cast<double>(bytes);
  struct Row {
    const char* name;
    double traffic;
  };
  const Row rows[] = {{"memcpy (read+write)", 2 * mb},
                      {"kernel::add  (2 reads+write)", 3 * mb},
                      {"kernel::mul  (2 reads+write)", 3 * mb},
                      {"kernel::tanh (read+write)", 2 * mb},
                      {"kernel::sigmoid (read+write)", 2 * mb}};
  const double copy_gbs = rows[0].traffic / t[0] / 1e9;
  fmt::print("Elementwise on 1M f32 ({} MiB per operand), vmath vectorized: {}\n", bytes >> 20,
             tg::vmath::vectorized() ? "yes (AVX2 libmvec)" : "no (scalar libm)");
  fmt::print("{:<30} {:>12} {:>10} {:>12}\n", "op", "time/call", "GB/s", "% of memcpy");
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    const double gbs = rows[i].traffic / t[i] / 1e9;
    fmt::print("{:<30} {:>9.1f} us {:>10.2f} {:>11.0f}%\n", rows[i].name, t[i] * 1e6, gbs,
               100.0 * gbs / copy_gbs);
  }
  fmt::print("\n");
}

void bench_matmul(int64_t m, int64_t kk, int64_t n, int batches, double batch_seconds) {
  tg::manual_seed(1);
  const tg::Tensor a = tg::rand({m, kk});
  const tg::Tensor b = tg::rand({kk, n});
  tg::Tensor c = tg::empty({m, n});
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* pc = c.data<float>();

  const std::vector<double> t =
      time_per_call({[&] {
                       cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, kk, 1.0f, pa,
                                   kk, pb, n, 0.0f, pc, n);
                       g_sink = pc[0];
                     },
                     [&] { g_sink = k::matmul(a, b).data<float>()[0]; }},
                    batches, batch_seconds);
  // Sanity: both compute the same product.
  const tg::Tensor ours = k::matmul(a, b);
  float max_diff = 0;
  for (int64_t i = 0; i < m * n; ++i) {
    max_diff = std::max(max_diff, std::abs(ours.data<float>()[i] - pc[i]));
  }
  const double overhead = t[1] - t[0];
  const double gflops = 2.0 * m * n * kk / t[1] / 1e9;
  fmt::print("{:<14} {:>12.2f} us {:>12.2f} us {:>10.3f} us {:>9.2f}% {:>9.1f} {:>10.1e}\n",
             fmt::format("{}x{}x{}", m, kk, n), t[0] * 1e6, t[1] * 1e6, overhead * 1e6,
             100.0 * overhead / t[0], gflops, max_diff);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (arg == "--quick") {
      quick = true;
    } else {
      fmt::print(stderr, "usage: {} [--threads N] [--quick]\n", argv[0]);
      return 2;
    }
  }
  tg::set_num_threads(threads);
  g_thread_clock = threads == 1;
  const int batches = quick ? 3 : 15;
  const double batch_seconds = quick ? 0.005 : 0.02;

  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  fmt::print(
      "bench_core: {} OpenBLAS thread(s) ({}; OPENBLAS_CORETYPE={}), {} clock, median of "
      "{} batches of ~{} ms\n\n",
      tg::num_threads(), openblas_get_config(), coretype ? coretype : "(auto)",
      g_thread_clock ? "thread CPU" : "wall", batches, batch_seconds * 1e3);
  bench_elementwise(batches, batch_seconds);

  fmt::print(
      "matmul (f32, row-major, A (M,K) @ B (K,N)); goals: <0.5 us extra at 32x64x64, "
      "<5% at 512^3\n");
  fmt::print("{:<14} {:>15} {:>15} {:>13} {:>10} {:>9} {:>10}\n", "MxKxN", "cblas_sgemm",
             "kernel::matmul", "overhead", "overhead", "GFLOP/s", "max|diff|");
  bench_matmul(4, 4, 4, batches, batch_seconds);  // almost no arithmetic: the fixed cost alone
  bench_matmul(32, 64, 64, batches, batch_seconds);
  bench_matmul(512, 512, 512, batches, std::max(batch_seconds, 0.1));
  return 0;
}
