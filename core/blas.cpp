// Matrix products through OpenBLAS. A 2-D operand whose rows or columns are contiguous is
// passed as it lies, with a transpose flag when it is a transposed view; only operands with
// no contiguous axis are copied first.
#include <cblas.h>

#include <tapegrad/core/kernels.hpp>

namespace tapegrad::kernel {
namespace {

// How a 2-D view is handed to BLAS (row-major convention).
struct BlasOperand {
  Tensor t;  // the view, or a dense copy of it
  CBLAS_TRANSPOSE trans;
  int64_t ld;
};

BlasOperand as_blas_operand(const Tensor& m) {
  const int64_t rows = m.shape()[0];
  const int64_t cols = m.shape()[1];
  const int64_t s0 = m.strides()[0];
  const int64_t s1 = m.strides()[1];
  if ((s1 == 1 || cols == 1) && s0 >= std::max<int64_t>(cols, 1)) return {m, CblasNoTrans, s0};
  if ((s0 == 1 || rows == 1) && s1 >= std::max<int64_t>(rows, 1)) return {m, CblasTrans, s1};
  const Tensor dense = m.clone();
  return {dense, CblasNoTrans, std::max<int64_t>(cols, 1)};
}

// out (M, N), row-major dense = a (M, K) @ b (K, N).
void gemm_into(const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t m = a.shape()[0];
  const int64_t k = a.shape()[1];
  const int64_t n = b.shape()[1];
  if (m == 0 || n == 0) return;
  if (k == 0) {
    fill(out, 0.0);
    return;
  }
  const BlasOperand pa = as_blas_operand(a);
  const BlasOperand pb = as_blas_operand(b);
  const auto ldc = static_cast<blasint>(out.strides()[0]);
  if (a.dtype() == f32) {
    cblas_sgemm(CblasRowMajor, pa.trans, pb.trans, m, n, k, 1.0f, pa.t.data<float>(), pa.ld,
                pb.t.data<float>(), pb.ld, 0.0f, out.data<float>(), ldc);
  } else {
    cblas_dgemm(CblasRowMajor, pa.trans, pb.trans, m, n, k, 1.0, pa.t.data<double>(), pa.ld,
                pb.t.data<double>(), pb.ld, 0.0, out.data<double>(), ldc);
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
    const Tensor a2 = a.dim() == 2 ? a : reshape(a, {-1, ka});
    Tensor out = empty(out_shape, a.dtype());
    gemm_into(a2, b, reshape(out, {a2.shape()[0], b.shape()[1]}));
    return out;
  }
  if (a.shape()[0] != b.shape()[0]) {
    throw_error<ShapeError>("matmul: batch sizes of shapes {} and {} differ ({} vs {})", a.shape(),
                            b.shape(), a.shape()[0], b.shape()[0]);
  }
  Tensor out = empty({a.shape()[0], a.shape()[1], b.shape()[2]}, a.dtype());
  for (int64_t i = 0; i < a.shape()[0]; ++i) {
    gemm_into(select(a, 0, i), select(b, 0, i), select(out, 0, i));
  }
  return out;
}

void set_num_threads(int n) {
  if (n < 1) throw_error<ValueError>("set_num_threads: need at least 1 thread, got {}", n);
  openblas_set_num_threads(n);
}

int num_threads() { return openblas_get_num_threads(); }

}  // namespace tapegrad::kernel
