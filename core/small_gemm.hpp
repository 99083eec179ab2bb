// Small matrix products by JIT kernels made for their shape (core/small_gemm.cpp), tried
// before OpenBLAS by core/blas.cpp. Internal to core.
#pragma once

#include <cstdint>
#include <string>

namespace tapegrad::kernel::detail {

// Row-major C (m x n) = op(A) op(B) + beta C, when a kernel serves the shape: returns false,
// with C untouched, when the caller must use BLAS (a transposed B larger than 256 x 256, no
// kernel for this shape or CPU, or the path turned off). Runs on the calling thread.
bool small_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// On by default; TAPEGRAD_SMALL_GEMM=0 in the environment, or this, turns it off (OpenBLAS
// then computes every product).
void set_small_gemm_enabled(bool on);
bool small_gemm_enabled();

// "libxsmm VERSION (ARCH)", the instruction set its kernels are made for, or "libxsmm off"
// (benchmarks print it beside OpenBLAS's configuration).
std::string small_gemm_library();

}  // namespace tapegrad::kernel::detail
