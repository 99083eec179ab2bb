#include <tapegrad/nn/init.hpp>

#include <algorithm>
#include <cmath>

#include <tapegrad/core/random.hpp>

namespace tapegrad::nn::init {
namespace {

// Householder-free QR by modified Gram-Schmidt in double: columns of `a` (rows x cols,
// rows >= cols, column-major here) become orthonormal; returns diag(R)'s signs applied, so
// the result is the Q of the unique QR with positive diagonal, as Keras's sign fix gives.
void orthonormalize_columns(double* a, int64_t rows, int64_t cols) {
  for (int64_t j = 0; j < cols; ++j) {
    double* col = &a[j * rows];
    // Two passes ("twice is enough"): one pass of Gram-Schmidt leaves Q^T Q - I at
    // eps * cond(A), ~1e-11 for a 256 x 256 normal matrix; the second brings it to ~eps.
    // It only removes rounding error, so Q is still the QR factor with diag(R) > 0.
    for (int pass = 0; pass < 2; ++pass) {
      for (int64_t k = 0; k < j; ++k) {
        const double* q = &a[k * rows];
        double dot = 0;
        for (int64_t i = 0; i < rows; ++i) dot += q[i] * col[i];
        for (int64_t i = 0; i < rows; ++i) col[i] -= dot * q[i];
      }
    }
    double norm = 0;
    for (int64_t i = 0; i < rows; ++i) norm += col[i] * col[i];
    norm = std::sqrt(norm);
    for (int64_t i = 0; i < rows; ++i) col[i] /= norm;
  }
}

}  // namespace

Tensor glorot_uniform(const Shape& shape, DType dtype) {
  if (shape.size() < 2) {
    throw_error<ShapeError>("glorot_uniform: needs a kernel of rank >= 2, got {}", shape);
  }
  // Nothing to draw, and the fans below may be 0: an empty kernel, as Keras and PyTorch give.
  if (shape.numel() == 0) return tapegrad::zeros(shape, dtype);
  // Keras: fan_in = shape[-2] * receptive field, fan_out = shape[-1] * receptive field.
  const int64_t receptive = shape.numel() / (shape[shape.size() - 2] * shape.back());
  const double fan_in = static_cast<double>(shape[shape.size() - 2] * receptive);
  const double fan_out = static_cast<double>(shape.back() * receptive);
  const double limit = std::sqrt(6.0 / (fan_in + fan_out));
  return tapegrad::uniform(shape, -limit, limit, dtype);
}

Tensor orthogonal(const Shape& shape, double gain, DType dtype) {
  if (shape.size() != 2) throw_error<ShapeError>("orthogonal: needs a matrix, got {}", shape);
  check_shape(shape, "orthogonal");
  const int64_t rows = shape[0];
  const int64_t cols = shape[1];
  // Orthonormalize the longer side's vectors: a (n x m) matrix with n >= m. Tensors, not
  // vectors, hold the work: they check the shape and report a failed allocation.
  const int64_t n = std::max(rows, cols);
  const int64_t m = std::min(rows, cols);
  Tensor work = empty({m, n}, f64);
  double* a = work.data<double>();
  Generator& gen = default_generator();
  for (int64_t k = 0; k < m * n; ++k) a[k] = gen.normal();
  // Gram-Schmidt yields Q with R's diagonal positive: the sign correction Keras applies.
  orthonormalize_columns(a, n, m);
  Tensor out = empty(shape, f64);
  double* o = out.data<double>();
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      // a holds m columns of length n; rows >= cols: out = Q, else out = Q^T.
      o[i * cols + j] = gain * (rows >= cols ? a[j * n + i] : a[i * n + j]);
    }
  }
  return out.to(dtype);
}

Tensor uniform(const Shape& shape, double lo, double hi, DType dtype) {
  return tapegrad::uniform(shape, lo, hi, dtype);
}
Tensor normal(const Shape& shape, double mean, double stddev, DType dtype) {
  return tapegrad::normal(shape, mean, stddev, dtype);
}
Tensor zeros(const Shape& shape, DType dtype) {
  return tapegrad::zeros(shape, dtype);
}
Tensor ones(const Shape& shape, DType dtype) {
  return tapegrad::ones(shape, dtype);
}

}  // namespace tapegrad::nn::init
