// Large f32 GEMMs through oneDNN's dnnl_sgemm, whose JIT kernels are chosen by the CPU's
// features (AVX-512 here, AVX2 or SSE4.1 elsewhere). Debian 12's OpenBLAS 0.3.21 does not know
// recent CPUs and runs its AVX2 Haswell kernels; libxsmm's kernels, made for small products,
// lose their lead as the depth grows. Measured on AMD Zen 5, one thread (bench_gemm):
// the weight gradient of config B (256x256x3200, A transposed) 166 GFLOP/s against libxsmm's 92
// and OpenBLAS's 94, an LSTM(512) step's 128x2048x512 182 against 128 and 95, its
// 128x512x2048 with B transposed (too large for libxsmm's copy) 149 against OpenBLAS's 93.
//
// oneDNN runs on OpenMP; tapegrad splits products over its own threads (core/blas.cpp) and
// calls oneDNN on each with one OpenMP thread, so the two never stack their threads.
#include "large_gemm.hpp"

#include <fmt/format.h>
#include <oneapi/dnnl/dnnl.h>

#include "gemm_switch.hpp"

// OpenMP's one call needed here, declared rather than taken from <omp.h>, which is the
// compiler's own header (clang's builds have none for GCC's libgomp).
extern "C" void omp_set_num_threads(int threads);

namespace tapegrad::kernel::detail {
namespace {

// From this many multiply-adds a product goes to oneDNN (bench_gemm, Zen 5, one thread): B's
// 64x256x256 step (4.2M) and its 3200x256x32 input projection (26M) stay with libxsmm, faster
// there (194 and 190 GFLOP/s against 188 and 173); from 134M on oneDNN leads everywhere
// measured: 256x256x2048 (B's input weight gradient) 170 against 98, an LSTM(512) step's
// 512x2048x128 weight gradient 197 against 117, its 2048x2048x128 input projection 198
// against 135.
constexpr int64_t kFromMultiplyAdds = int64_t{1} << 25;

GemmSwitch& path() {
  static GemmSwitch path("TAPEGRAD_LARGE_GEMM");
  return path;
}

// One OpenMP thread for oneDNN on this thread, set once per thread (the setting is a
// thread's own): the parallelism is tapegrad's bands.
void single_openmp_thread() {
  thread_local const bool set = [] {
    omp_set_num_threads(1);
    return true;
  }();
  (void)set;
}

const char* isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41:
      return "sse41";
    case dnnl_cpu_isa_avx:
      return "avx";
    case dnnl_cpu_isa_avx2:
      return "avx2";
    case dnnl_cpu_isa_avx2_vnni:
      return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core:
      return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

}  // namespace

bool prefers_large_gemm(bool trans_b, int64_t m, int64_t n, int64_t k) {
  // A transposed right operand larger than libxsmm's copy takes goes to oneDNN whatever the
  // size: OpenBLAS is the only other path.
  if (trans_b && n * k > kTransposedRightAtMost) return true;
  return m * n * k >= kFromMultiplyAdds;
}

void set_large_gemm_enabled(bool on) {
  path().set(on);
}

bool large_gemm_enabled() {
  return path().on();
}

std::string large_gemm_library() {
  if (!large_gemm_enabled()) return "oneDNN off";
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("oneDNN {}.{}.{} ({})", v->major, v->minor, v->patch,
                     isa_name(dnnl_get_effective_cpu_isa()));
}

bool large_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (!large_gemm_enabled()) return false;
  if (!all_fit_int({m, n, k, lda, ldb, ldc})) return false;
  single_openmp_thread();
  return dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, beta,
                    c, ldc) == dnnl_success;
}

}  // namespace tapegrad::kernel::detail
