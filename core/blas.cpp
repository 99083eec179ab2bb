// Matrix products through OpenBLAS; f32 ones through JIT kernels where those serve: oneDNN's
// for large products (core/large_gemm.cpp), libxsmm's made for their shape for small ones
// (core/small_gemm.cpp). A 2-D operand whose rows or columns are contiguous
// is passed as it lies, with a transpose flag when it is a transposed view; only operands
// with no contiguous axis are copied first.
#include <algorithm>
#include <atomic>

#include <cblas.h>

#include <tapegrad/core/denormal.hpp>
#include <tapegrad/core/kernels.hpp>

#include "large_gemm.hpp"
#include "parallel.hpp"
#include "small_gemm.hpp"

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

// One GEMM, or one band of one: out (m, n), rows ldc apart, = op(a) (m, k) @ op(b) (k, n),
// plus out itself when `accumulate`. Pointers are to bytes, so bands are offsets of them.
struct Gemm {
  DType dtype;
  CBLAS_TRANSPOSE trans_a, trans_b;
  int64_t m, n, k;
  const char* a;
  int64_t lda;
  const char* b;
  int64_t ldb;
  bool accumulate;
  char* out;
  int64_t ldc;

  int64_t bytes(int64_t elements) const {
    return elements * static_cast<int64_t>(element_size(dtype));
  }
  // Rows [r, r + rows) of out: op(a)'s rows r..., which are a's columns when it is transposed.
  Gemm row_band(int64_t r, int64_t rows) const {
    Gemm g = *this;
    g.m = rows;
    g.a += bytes(trans_a == CblasNoTrans ? r * lda : r);
    g.out += bytes(r * ldc);
    return g;
  }
  // Columns [j, j + cols) of out: op(b)'s columns j..., which are b's rows when transposed.
  Gemm column_band(int64_t j, int64_t cols) const {
    Gemm g = *this;
    g.n = cols;
    g.b += bytes(trans_b == CblasNoTrans ? j : j * ldb);
    g.out += bytes(j);
    return g;
  }

  // On the calling thread: f32 products by the JIT kernels of oneDNN (large ones) or libxsmm
  // (small ones) where they serve, else BLAS (which runs on its caller alone: tapegrad splits
  // products over the threads itself).
  void run() const {
    if (dtype == f32) {
      const float beta = accumulate ? 1.0f : 0.0f;
      const auto* fa = reinterpret_cast<const float*>(a);
      const auto* fb = reinterpret_cast<const float*>(b);
      auto* fc = reinterpret_cast<float*>(out);
      const bool ta = trans_a == CblasTrans, tb = trans_b == CblasTrans;
      if (detail::prefers_large_gemm(tb, m, n, k) &&
          detail::large_sgemm(ta, tb, m, n, k, fa, lda, fb, ldb, beta, fc, ldc)) {
        return;
      }
      if (detail::small_sgemm(ta, tb, m, n, k, fa, lda, fb, ldb, beta, fc, ldc)) return;
      cblas_sgemm(CblasRowMajor, trans_a, trans_b, m, n, k, 1.0f, fa, lda, fb, ldb, beta, fc, ldc);
    } else {
      cblas_dgemm(CblasRowMajor, trans_a, trans_b, m, n, k, 1.0, reinterpret_cast<const double*>(a),
                  lda, reinterpret_cast<const double*>(b), ldb, accumulate ? 1.0 : 0.0,
                  reinterpret_cast<double*>(out), ldc);
    }
  }
};

// When a product is split over the threads. Measured on AMD Zen 5, f32, 2 threads against 1,
// back to back: 64x256x256 1.7x, 128x2048x512 2.0x, 3200x256x32 1.3x; 32x64x64 gains
// nothing, and a depth of 16 lost (6400x384x16 took 1.35x as long, its bands bound by
// writing out). Smaller products did not pay inside training: split, GRU(128)'s 32x384x128
// steps (1.23x alone) made its epoch 1.45x slower on 2 threads (the worker spinning between
// steps slowed the caller's elementwise work), and the reference model's 320x64x32 input
// gradients, met now and then, found the worker asleep (waking it costs tens of
// microseconds in a virtual machine).
constexpr int64_t kSplitFrom = int64_t{64} * 256 * 256;  // multiply-adds
constexpr int64_t kSplitDepthFrom = 32;                  // k
constexpr int64_t kMinBand = 8;                          // rows or columns per band

int bands_for(const Gemm& g) {
  const int threads = num_threads();
  if (threads <= 1 || g.k < kSplitDepthFrom || g.m * g.n * g.k < kSplitFrom) return 1;
  return static_cast<int>(std::min<int64_t>(threads, std::max(g.m, g.n) / kMinBand));
}

// `g` in bands of rows (or of columns, when it has fewer rows than columns), one per thread.
// Each element is summed over k in the same order whichever band computes it.
void run_split(const Gemm& g) {
  const int bands = bands_for(g);
  if (bands <= 1) {
    g.run();
    return;
  }
  const bool by_rows = g.m >= g.n;
  const int64_t extent = by_rows ? g.m : g.n;
  auto run_band = [&](int i) {
    const int64_t begin = extent * i / bands, end = extent * (i + 1) / bands;
    (by_rows ? g.row_band(begin, end - begin) : g.column_band(begin, end - begin)).run();
  };
  detail::run_parts(bands, run_band);
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
  run_split({.dtype = a.dtype(),
             .trans_a = pa.trans,
             .trans_b = pb.trans,
             .m = m,
             .n = n,
             .k = k,
             .a = static_cast<const char*>(pa.data),
             .lda = pa.ld,
             .b = static_cast<const char*>(pb.data),
             .ldb = pb.ld,
             .accumulate = accumulate,
             .out = static_cast<char*>(out),
             .ldc = ldc});
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

namespace {

// tapegrad splits products over the threads itself (run_split), choosing per product whether
// a second thread pays, so OpenBLAS runs each call on its caller. Left to its own pool,
// OpenBLAS's idle workers spin in sched_yield for a while after every call, taking the cores
// tapegrad's workers need. Its thread count at load (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS,
// else the cores) becomes tapegrad's.
int take_over_blas_threads() {
  const int n = openblas_get_num_threads();
  openblas_set_num_threads(1);
  return n;
}

std::atomic<int>& thread_budget() {
  static std::atomic<int> threads{take_over_blas_threads()};
  return threads;
}

// Taken over when the library loads, before any product.
[[maybe_unused]] const int initial_threads = thread_budget().load();

}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw_error<ValueError>("set_num_threads: need at least 1 thread, got {}", n);
  thread_budget().store(n, std::memory_order_relaxed);
}

int num_threads() {
  return thread_budget().load(std::memory_order_relaxed);
}

}  // namespace tapegrad::kernel
