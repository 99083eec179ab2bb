// Matrix products through OpenBLAS, small f32 ones through JIT kernels made for their shape
// (core/small_gemm.cpp) where one serves. A 2-D operand whose rows or columns are contiguous
// is passed as it lies, with a transpose flag when it is a transposed view; only operands
// with no contiguous axis are copied first.
#include <algorithm>

#include <cblas.h>

#include <tapegrad/core/denormal.hpp>
#include <tapegrad/core/kernels.hpp>

#include "small_gemm.hpp"

// OpenBLAS's own thread pool (pthreads builds; weak, so other BLAS builds link without them).
extern "C" int blas_thread_shutdown_(void) __attribute__((weak));
extern "C" int blas_thread_init(void) __attribute__((weak));

namespace tapegrad::kernel {
namespace {

// How a 2-D view is handed to BLAS (row-major convention). Built for every GEMM, so it holds
// a raw pointer rather than a Tensor handle (no reference-count traffic); `copy` owns the
// dense copy of a view BLAS cannot take as it lies, and is empty otherwise.
struct BlasOperand {
  const void* data;
  CBLAS_TRANSPOSE trans;
  int64_t ld;
  Tensor copy;
};

BlasOperand as_blas_operand(const Tensor& m) {
  const int64_t rows = m.shape()[0];
  const int64_t cols = m.shape()[1];
  const int64_t s0 = m.strides()[0];
  const int64_t s1 = m.strides()[1];
  const auto* base = static_cast<const char*>(m.impl().storage->data()) +
                     m.offset() * static_cast<int64_t>(element_size(m.dtype()));
  if ((s1 == 1 || cols == 1) && s0 >= std::max<int64_t>(cols, 1)) {
    return {base, CblasNoTrans, s0, Tensor()};
  }
  if ((s0 == 1 || rows == 1) && s1 >= std::max<int64_t>(rows, 1)) {
    return {base, CblasTrans, s1, Tensor()};
  }
  Tensor dense = m.clone();
  const void* data = dense.impl().storage->data();
  return {data, CblasNoTrans, std::max<int64_t>(cols, 1), std::move(dense)};
}

// out (M, N), rows ldc apart, = a (M, K) @ b (K, N), plus out itself when `accumulate`.
// Takes the output as a pointer so the callers need no view objects for it: at RNN sizes
// (32x64x64) the GEMM itself takes ~2 us and every allocation or atomic around it shows.
void gemm_into(const Tensor& a, const Tensor& b, void* out, int64_t ldc, bool accumulate = false) {
  const int64_t m = a.shape()[0];
  const int64_t k = a.shape()[1];
  const int64_t n = b.shape()[1];
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (accumulate) return;
    dispatch(a.dtype(), [&]<class T>(T) {
      for (int64_t i = 0; i < m; ++i) std::fill_n(static_cast<T*>(out) + i * ldc, n, T(0));
    });
    return;
  }
  const BlasOperand pa = as_blas_operand(a);
  const BlasOperand pb = as_blas_operand(b);
  if (a.dtype() == f32) {
    const float beta = accumulate ? 1.0f : 0.0f;
    if (detail::small_sgemm(pa.trans == CblasTrans, pb.trans == CblasTrans, m, n, k,
                            static_cast<const float*>(pa.data), pa.ld,
                            static_cast<const float*>(pb.data), pb.ld, beta,
                            static_cast<float*>(out), ldc)) {
      return;
    }
    cblas_sgemm(CblasRowMajor, pa.trans, pb.trans, m, n, k, 1.0f,
                static_cast<const float*>(pa.data), pa.ld, static_cast<const float*>(pb.data),
                pb.ld, beta, static_cast<float*>(out), ldc);
  } else {
    cblas_dgemm(CblasRowMajor, pa.trans, pb.trans, m, n, k, 1.0,
                static_cast<const double*>(pa.data), pa.ld, static_cast<const double*>(pb.data),
                pb.ld, accumulate ? 1.0 : 0.0, static_cast<double*>(out), ldc);
  }
}

[[noreturn]] void throw_mismatch(const Tensor& a, const Tensor& b, int64_t ka, int64_t kb) {
  throw_error<ShapeError>(
      "matmul: shapes {} and {} cannot be multiplied (inner dimensions {} and {} differ)",
      a.shape(), b.shape(), ka, kb);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_same_dtype("matmul", a, b);
  if (a.dim() < 2 || b.dim() < 2 || b.dim() > 3 || (b.dim() == 3 && a.dim() != 3)) {
    throw_error<ShapeError>(
        "matmul: shapes {} and {} are not supported (expected (M,K)@(K,N), (...,M,K)@(K,N) or "
        "(B,M,K)@(B,K,N))",
        a.shape(), b.shape());
  }
  const int64_t ka = a.shape().back();
  const int64_t kb = b.shape()[b.dim() - 2];
  if (ka != kb) throw_mismatch(a, b, ka, kb);

  if (b.dim() == 2) {
    // (..., M, K) @ (K, N): fold the leading axes into the rows of one GEMM.
    Shape out_shape = a.shape();
    out_shape[out_shape.size() - 1] = b.shape()[1];
    Tensor out = empty(out_shape, a.dtype());
    void* po = out.impl().storage->data();
    if (a.dim() == 2) {
      gemm_into(a, b, po, b.shape()[1]);
    } else {
      gemm_into(reshape(a, {-1, ka}), b, po, b.shape()[1]);
    }
    return out;
  }
  if (a.shape()[0] != b.shape()[0]) {
    throw_error<ShapeError>("matmul: batch sizes of shapes {} and {} differ ({} vs {})", a.shape(),
                            b.shape(), a.shape()[0], b.shape()[0]);
  }
  Tensor out = empty({a.shape()[0], a.shape()[1], b.shape()[2]}, a.dtype());
  auto* po = static_cast<char*>(out.impl().storage->data());
  const int64_t batch_bytes = out.strides()[0] * static_cast<int64_t>(element_size(out.dtype()));
  for (int64_t i = 0; i < a.shape()[0]; ++i) {
    gemm_into(select(a, 0, i), select(b, 0, i), po + i * batch_bytes, b.shape()[2]);
  }
  return out;
}

void matmul_add_into(const Tensor& out, const Tensor& a, const Tensor& b) {
  check_same_dtype("matmul_add_into", a, b);
  check_same_dtype("matmul_add_into", out, a);
  if (a.dim() != 2 || b.dim() != 2 || out.dim() != 2 || a.shape()[1] != b.shape()[0] ||
      out.shape()[0] != a.shape()[0] || out.shape()[1] != b.shape()[1]) {
    throw_error<ShapeError>("matmul_add_into: cannot add {} @ {} into {}", a.shape(), b.shape(),
                            out.shape());
  }
  if (out.strides()[1] != 1 && out.shape()[1] > 1) {
    throw_error<ValueError>("matmul_add_into: the output's rows must be contiguous (strides {})",
                            out.strides());
  }
  auto* po = static_cast<char*>(out.impl().storage->data()) +
             out.offset() * static_cast<int64_t>(element_size(out.dtype()));
  gemm_into(a, b, po, std::max<int64_t>(out.strides()[0], out.shape()[1]), /*accumulate=*/true);
}

Tensor addmm(const Tensor& c, const Tensor& a, const Tensor& b) {
  check_same_dtype("addmm", a, b);
  check_same_dtype("addmm", c, a);
  if (a.dim() < 2 || b.dim() != 2) {
    throw_error<ShapeError>(
        "addmm: shapes {} and {} are not supported (expected (M,K)@(K,N) or (...,M,K)@(K,N))",
        a.shape(), b.shape());
  }
  const int64_t k = a.shape().back();
  if (k != b.shape()[0]) throw_mismatch(a, b, k, b.shape()[0]);
  Shape out_shape = a.shape();
  out_shape[out_shape.size() - 1] = b.shape()[1];
  if (!(broadcast_shapes(c.shape(), out_shape, "addmm") == out_shape)) {
    throw_error<ShapeError>("addmm: the added tensor of shape {} does not broadcast to {}",
                            c.shape(), out_shape);
  }
  // The GEMM accumulates onto c's values: no separate pass to add them, and no zero-fill.
  Tensor out = empty(out_shape, a.dtype());
  copy_into(out, broadcast_to(c, out_shape));
  matmul_add_into(reshape(out, {-1, b.shape()[1]}), reshape(a, {-1, k}), b);
  return out;
}

void set_num_threads(int n) {
  if (n < 1) throw_error<ValueError>("set_num_threads: need at least 1 thread, got {}", n);
  openblas_set_num_threads(n);
  // New workers took the calling thread's floating-point mode: give them tapegrad's.
  sync_blas_workers_with_flush_denormal();
}

bool restart_blas_workers() {
  if (blas_thread_shutdown_ == nullptr || blas_thread_init == nullptr) return false;
  blas_thread_shutdown_();
  blas_thread_init();
  return true;
}

int num_threads() {
  return openblas_get_num_threads();
}

}  // namespace tapegrad::kernel
