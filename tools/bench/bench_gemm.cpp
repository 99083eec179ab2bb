// bench_gemm: the GEMMs the recurrent layers issue, in each library that offers them, side by
// side: OpenBLAS's cblas_sgemm (what tapegrad calls today), oneDNN's dnnl_sgemm (JIT kernels
// chosen by the CPU's features) and libxsmm (JIT small matrix multiplications, dispatched
// once per shape). Issue 23 chooses tapegrad's GEMM by these figures.
//
// The shapes are those of tools/bench/configs.sh: per time step (batch x units x units, as
// h @ U, dH @ U^T), the weight gradient over every step at once (H^T @ dZ) and the input
// projection, for configs A (the reference model), B (SimpleRNN 256) and C (LSTM 512).
//
// Each figure is the median over timed batches of ~20 ms (thread CPU time on one thread), the
// libraries interleaved batch by batch so that noise from other processes hits all alike;
// JIT and first-call costs are paid before the timing. Row-major, C = op(A) op(B), beta 0.
//
//   bench_gemm [--threads N] [--quick]    a table, then one JSON line per (shape, library)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include <cblas.h>
#include <fmt/core.h>
#include <omp.h>

#include <libxsmm.h>
#include <oneapi/dnnl/dnnl.h>

namespace {

struct Shape {
  const char* config;
  const char* what;
  bool trans_a, trans_b;
  int m, n, k;
};

// clang-format off
const std::vector<Shape> kShapes = {
    {"A", "h @ U (64)",          false, false,  32,   64,   64},
    {"A", "dZ @ U^T (64)",       false, true,   32,   64,   64},
    {"A", "h @ U (32)",          false, false,  32,   32,   32},
    {"A", "h1 @ W2",             false, false,  32,   32,   64},
    {"A", "dZ2 @ W2^T",          false, true,   32,   64,   32},
    {"A", "H^T @ dZ (64, T 10)", true,  false,  64,   64,  320},
    {"A", "H^T @ dZ (32, T 10)", true,  false,  32,   32,  320},
    {"B", "h @ U",               false, false,  64,  256,  256},
    {"B", "dZ @ U^T",            false, true,   64,  256,  256},
    {"B", "X @ W (T 50)",        false, false, 3200, 256,   32},
    {"B", "H^T @ dZ (T 50)",     true,  false, 256,  256, 3200},
    {"B", "h^T @ dz (a step)",   true,  false, 256,  256,   64},
    {"B", "X^T @ dP (32 steps)", true,  false, 256,  256, 2048},
    {"C", "h @ U (4 gates)",     false, false, 128, 2048,  512},
    {"C", "dZ @ U^T",            false, true,  128,  512, 2048},
    {"C", "h^T @ dz (a step)",   true,  false, 512, 2048,  128},
    {"C", "X @ W (16 steps)",    false, false, 2048, 2048, 128},
};
// clang-format on

double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double wall_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Buffers {
  std::vector<float> a, b, c;
  explicit Buffers(const Shape& s)
      : a(static_cast<std::size_t>(s.m) * s.k),
        b(static_cast<std::size_t>(s.k) * s.n),
        c(static_cast<std::size_t>(s.m) * s.n) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((i * 7919) % 97) / 97.0f;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>((i * 104729) % 89) / 89.0f;
  }
  // Leading dimensions of the stored (row-major) matrices: A is m x k, or k x m transposed.
  static int lda(const Shape& s) { return s.trans_a ? s.m : s.k; }
  static int ldb(const Shape& s) { return s.trans_b ? s.k : s.n; }
};

using Call = std::function<void()>;

Call openblas_call(const Shape& s, Buffers& buf) {
  return [&s, &buf] {
    cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans,
                s.trans_b ? CblasTrans : CblasNoTrans, s.m, s.n, s.k, 1.0f, buf.a.data(),
                Buffers::lda(s), buf.b.data(), Buffers::ldb(s), 0.0f, buf.c.data(), s.n);
  };
}

Call onednn_call(const Shape& s, Buffers& buf) {
  return [&s, &buf] {
    dnnl_sgemm(s.trans_a ? 'T' : 'N', s.trans_b ? 'T' : 'N', s.m, s.n, s.k, 1.0f, buf.a.data(),
               Buffers::lda(s), buf.b.data(), Buffers::ldb(s), 0.0f, buf.c.data(), s.n);
  };
}

// libxsmm is column-major: row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T,
// so B comes first and each operand's transpose flag goes with it. Empty when libxsmm has no
// kernel for the shape (its JIT does not cover every transpose).
Call libxsmm_call(const Shape& s, Buffers& buf) {
  const int flags =
      (s.trans_b ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) | (s.trans_a ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
  const libxsmm_blasint lda = Buffers::ldb(s), ldb = Buffers::lda(s), ldc = s.n;
  const float alpha = 1, beta = 0;
  const libxsmm_smmfunction kernel =
      libxsmm_smmdispatch(s.n, s.m, s.k, &lda, &ldb, &ldc, &alpha, &beta, &flags, nullptr);
  if (kernel == nullptr) return {};
  return [kernel, &buf] { kernel(buf.b.data(), buf.a.data(), buf.c.data()); };
}

// The largest relative difference of `c` from `reference`.
double max_relative_difference(const std::vector<float>& c, const std::vector<float>& reference) {
  double worst = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    const double scale = std::max(1.0, std::abs(static_cast<double>(reference[i])));
    worst = std::max(worst, std::abs(static_cast<double>(c[i]) - reference[i]) / scale);
  }
  return worst;
}

struct Library {
  const char* name;
  Call (*make)(const Shape&, Buffers&);
};

const Library kLibraries[] = {
    {"openblas", openblas_call}, {"onednn", onednn_call}, {"libxsmm", libxsmm_call}};

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: bench_gemm [--threads N] [--quick]\n");
      return 2;
    }
  }
  openblas_set_num_threads(threads);
  omp_set_num_threads(threads);  // oneDNN's threads
  libxsmm_init();
  const auto now = threads == 1 ? thread_seconds : wall_seconds;
  const int batches = quick ? 3 : 9;
  const double batch_seconds = quick ? 0.005 : 0.02;

  fmt::print("{:<7}{:<22}{:>16}  {:>14}{:>14}{:>14}   GFLOP/s\n", "config", "shape", "m x n x k",
             "openblas ns", "onednn ns", "libxsmm ns");
  std::vector<std::string> json;
  for (const Shape& s : kShapes) {
    Buffers reference_buffers(s);
    openblas_call(s, reference_buffers)();
    std::vector<Buffers> buffers(std::size(kLibraries), Buffers(s));
    std::vector<Call> calls;
    std::vector<long> repeats;
    std::vector<std::vector<double>> ns(std::size(kLibraries));
    for (std::size_t l = 0; l < std::size(kLibraries); ++l) {
      calls.push_back(kLibraries[l].make(s, buffers[l]));
      if (!calls.back()) {
        repeats.push_back(0);
        continue;
      }
      calls.back()();  // JIT, first touch
      if (max_relative_difference(buffers[l].c, reference_buffers.c) > 1e-4) {
        std::fprintf(stderr, "bench_gemm: %s gives another product for %s\n", kLibraries[l].name,
                     s.what);
        return 1;
      }
      const double start = now();
      long n = 0;
      while (now() - start < batch_seconds / 4) {
        calls.back()();
        ++n;
      }
      repeats.push_back(std::max(1L, n * 4));
    }
    for (int batch = 0; batch < batches; ++batch) {
      for (std::size_t l = 0; l < calls.size(); ++l) {
        if (!calls[l]) continue;
        const double start = now();
        for (long r = 0; r < repeats[l]; ++r) calls[l]();
        ns[l].push_back((now() - start) / static_cast<double>(repeats[l]) * 1e9);
      }
    }
    const double flops = 2.0 * s.m * s.n * s.k;
    std::string cells, rates;
    for (std::size_t l = 0; l < calls.size(); ++l) {
      if (ns[l].empty()) {
        cells += fmt::format("{:>14}", "n/a");
        rates += fmt::format("{:>8}", "n/a");
        continue;
      }
      std::sort(ns[l].begin(), ns[l].end());
      const double median = ns[l][ns[l].size() / 2];
      cells += fmt::format("{:>14.0f}", median);
      rates += fmt::format("{:>8.1f}", flops / median);
      json.push_back(fmt::format(
          "{{\"impl\": \"{}\", \"config\": \"{}\", \"shape\": \"{}\", \"m\": {}, \"n\": {}, "
          "\"k\": {}, \"trans_a\": {}, \"trans_b\": {}, \"threads\": {}, \"ns_median\": {:.0f}, "
          "\"gflops\": {:.1f}}}",
          kLibraries[l].name, s.config, s.what, s.m, s.n, s.k, s.trans_a, s.trans_b, threads,
          median, flops / median));
    }
    const std::string dims =
        fmt::format("{}{}x{}x{}{}", s.trans_a ? "T " : "", s.m, s.n, s.k, s.trans_b ? " T" : "");
    fmt::print("{:<7}{:<22}{:>16}  {}{}\n", s.config, s.what, dims, cells, rates);
  }
  fmt::print("oneDNN ISA {}, OpenBLAS core {}, threads {}\n",
             static_cast<int>(dnnl_get_effective_cpu_isa()), openblas_get_corename(), threads);
  for (const std::string& line : json) fmt::print("{}\n", line);
  libxsmm_finalize();
  return 0;
}
