// Large f32 matrix products through oneDNN's dnnl_sgemm (core/large_gemm.cpp), tried by
// core/blas.cpp before libxsmm and OpenBLAS for the shapes it serves best. Internal to core.
#pragma once

#include <cstdint>
#include <string>

namespace tapegrad::kernel::detail {

// Whether oneDNN computes op(A) (m x k) op(B) (k x n): the large products (weight gradients
// over a block of steps, an LSTM(512)'s steps) and transposed right operands too large for
// libxsmm's path. The smaller products of a time step stay with libxsmm, whose kernels made
// for the exact shape are faster there.
bool prefers_large_gemm(bool trans_b, int64_t m, int64_t n, int64_t k);

// Row-major C (m x n) = op(A) op(B) + beta C on the calling thread: returns false, with C
// untouched, when the path is off or the sizes exceed oneDNN's int indices.
bool large_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// On by default; TAPEGRAD_LARGE_GEMM=0 in the environment, or this, turns it off (libxsmm
// and OpenBLAS then compute every product).
void set_large_gemm_enabled(bool on);
bool large_gemm_enabled();

// "oneDNN VERSION (ISA)", the instruction set its kernels run, or "oneDNN off".
std::string large_gemm_library();

}  // namespace tapegrad::kernel::detail
