// Small f32 GEMMs through libxsmm: a kernel JIT-compiled for each shape the first time it is
// met (AVX-512 or AVX2, by the CPU's features) and found again in libxsmm's registry. At the
// per-time-step shapes of the recurrent layers (32x64x64) it takes 1.2 us where OpenBLAS
// 0.3.21, which does not know recent CPUs and runs its AVX2 Haswell kernels, takes 3.2 us
// (tools/bench/bench_gemm.cpp). A kernel runs on the calling thread; core/blas.cpp splits
// large products over the threads before they get here.
#include "small_gemm.hpp"

#include <array>
#include <string>
#include <vector>

#include <libxsmm.h>

#include <tapegrad/core/kernels.hpp>

#include "gemm_switch.hpp"

namespace tapegrad::kernel::detail {
namespace {

GemmSwitch& path() {
  static GemmSwitch path("TAPEGRAD_SMALL_GEMM");
  return path;
}

// What selects a kernel: libxsmm's (column-major) shape, strides, flags and beta.
struct KernelKey {
  int64_t m, n, k, lda, ldb, ldc;
  int flags;
  float beta;
  bool operator==(const KernelKey&) const = default;
};

libxsmm_smmfunction dispatch(const KernelKey& key) {
  const libxsmm_blasint lda = key.lda, ldb = key.ldb, ldc = key.ldc;
  const float alpha = 1;
  return libxsmm_smmdispatch(key.m, key.n, key.k, &lda, &ldb, &ldc, &alpha, &key.beta, &key.flags,
                             nullptr);
}

// The kernels this thread used last, found by a linear search. libxsmm's own registry is a
// hash over the whole descriptor, which took a quarter of a recurrent step's GEMM time; a
// recurrent layer issues a handful of shapes over and over, so a few slots hit almost
// always. A shape libxsmm has no kernel for is remembered too (as nullptr).
libxsmm_smmfunction cached_kernel(const KernelKey& key) {
  struct Slot {
    KernelKey key;
    libxsmm_smmfunction kernel;
  };
  constexpr std::size_t kSlots = 16;
  thread_local std::array<Slot, kSlots> slots{};
  thread_local std::size_t used = 0, next = 0;
  for (std::size_t i = 0; i < used; ++i) {
    if (slots[i].key == key) return slots[i].kernel;
  }
  const Slot slot{key, dispatch(key)};
  if (used < kSlots) {
    slots[used++] = slot;
  } else {
    slots[next] = slot;  // the oldest entry: round robin
    next = (next + 1) % kSlots;
  }
  return slot.kernel;
}

}  // namespace

void set_small_gemm_enabled(bool on) {
  path().set(on);
}

bool small_gemm_enabled() {
  return path().on();
}

std::string small_gemm_library() {
  if (!small_gemm_enabled()) return "libxsmm off";
  return std::string("libxsmm ") + LIBXSMM_VERSION + " (" + libxsmm_get_target_arch() + ")";
}

bool small_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (!small_gemm_enabled()) return false;
  if (!all_fit_int({m, n, k, lda, ldb, ldc})) return false;
  if (trans_b) {
    // libxsmm has no kernel for a transposed right operand (row-major; its left one): B is
    // transposed into a buffer of this thread first, which costs far less than the product
    // at the shapes it serves (dZ @ U^T of a recurrent step). Larger B: OpenBLAS.
    if (n * k > kTransposedRightAtMost) return false;
    thread_local std::vector<float> transposed;
    transposed.resize(static_cast<std::size_t>(n * k));
    libxsmm_otrans(transposed.data(), b, sizeof(float), k, n, ldb, n);
    b = transposed.data();
    ldb = n;
  }
  // Column-major, libxsmm computes C^T = B^T op(A)^T: B comes first, and A's transpose is
  // its second operand's.
  const int flags = trans_a ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE;
  const libxsmm_smmfunction kernel = cached_kernel({n, m, k, ldb, lda, ldc, flags, beta});
  if (kernel == nullptr) return false;  // a shape or CPU libxsmm has no kernel for
  kernel(b, a, c);
  return true;
}

}  // namespace tapegrad::kernel::detail
