// Dense numerical kernels: no autograd, no tape.
//
// ops/ builds every differentiable op from these. Each kernel checks dtypes and shapes,
// allocates its result from the caching allocator and returns it; results are contiguous
// unless the function is a view (the "views" block), which shares the input's storage.
// Binary and ternary kernels broadcast like NumPy.
#pragma once

#include <cstdint>
#include <vector>

#include <tapegrad/core/tensor.hpp>

namespace tapegrad::kernel {

// Elementwise, one input.
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor pow(const Tensor& x, double exponent);

// Elementwise, two inputs, broadcasting.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
// The backward formulas of tanh and sigmoid from their output y, one pass each instead of
// three: grad * (1 - y^2) and grad * y * (1 - y), rounded as those expressions are.
Tensor tanh_backward(const Tensor& grad, const Tensor& y);
Tensor sigmoid_backward(const Tensor& grad, const Tensor& y);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// Comparisons give 1 or 0 in the inputs' dtype.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
// cond != 0 ? a : b, broadcasting all three.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Scalar forms: the scalar takes the tensor's dtype.
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor rsub(double s, const Tensor& a);  // s - a
Tensor rdiv(double s, const Tensor& a);  // s / a

// In place: dst (any strides) = src broadcast to dst's shape. Bumps dst's version.
void copy_into(const Tensor& dst, const Tensor& src);
void fill(const Tensor& dst, double value);
// dst += src (src broadcast to dst's shape), in place. Bumps dst's version.
void add_into(const Tensor& dst, const Tensor& src);

// Reductions over `axes` (empty = all axes); keepdim keeps them with extent 1.
Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim);
Tensor max(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim);
// Reduces a broadcast result back to `shape` by summing the broadcast axes.
Tensor sum_to(const Tensor& x, const Shape& shape);
// Sorted, non-negative axes; empty input means all axes. An axis named twice (0 and -rank
// included) throws ShapeError naming `op`, as NumPy does.
std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t rank, const char* op);

// Views: share storage with the input.
Tensor transpose(const Tensor& x, int64_t axis0, int64_t axis1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& order);
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop, int64_t step = 1);
// A stop for slice() that takes `count` elements from start in steps of `step`, for rules
// that know a slice's length: start + count * step can overflow where the last index + 1,
// start + (count - 1) * step + 1, lies on the axis.
inline int64_t slice_stop(int64_t start, int64_t count, int64_t step) {
  return count == 0 ? start : start + (count - 1) * step + 1;
}
Tensor select(const Tensor& x, int64_t axis, int64_t index);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor unsqueeze(const Tensor& x, int64_t axis);
// A view when x is contiguous, a copy otherwise. One extent may be -1 (inferred).
Tensor reshape(const Tensor& x, const Shape& shape);
// The shape with a -1 entry resolved; throws ShapeError when numel differs.
Shape infer_reshape(const Shape& from, const Shape& to, const char* op);

// Joins along an existing axis.
Tensor concat(const std::vector<Tensor>& xs, int64_t axis);

// Gathers and scatters along one axis by a list of indices (PyTorch's index_select and
// index_add; core/index.cpp). index_select: out[..., k, ...] = x[..., index[k], ...], the
// axis of extent index.size(). index_add: a copy of x with source[..., k, ...] added into
// x[..., index[k], ...] (repeated indices add up). Indices lie in [0, extent) of the axis,
// else ShapeError naming the op, the bad index, its position and the shape.
Tensor index_select(const Tensor& x, int64_t axis, const std::vector<int64_t>& index);
Tensor index_add(const Tensor& x, int64_t axis, const std::vector<int64_t>& index,
                 const Tensor& source);

// Fused gate arithmetic of the built-in cells (core/recurrent_kernels.cpp; the ops of
// ops/recurrent.hpp say what each computes). Outputs stack their parts along a leading axis
// of blocks, each (batch, units) and contiguous.
// LSTM: z (B, 4u) pre-activations in gate order i, f, c, o; c_prev (B, u). Returns
// (6, B, u): h, c, then the activated gates i, f, g, o.
Tensor lstm_gates(const Tensor& z, const Tensor& c_prev);
// dy: the gradient of lstm_gates' output y. Returns (B, 5u): dz in columns [0, 4u), dc_prev
// in [4u, 5u).
Tensor lstm_gates_backward(const Tensor& dy, const Tensor& y, const Tensor& c_prev);
// GRU (Keras reset_after): p, mh (B, 3u) input and recurrent projections in gate order z, r, n;
// h (B, u). Returns (4, B, u): h', then z, r, n.
Tensor gru_gates(const Tensor& p, const Tensor& mh, const Tensor& h);
// Returns (B, 7u): dp in columns [0, 3u), dmh in [3u, 6u), dh in [6u, 7u).
Tensor gru_gates_backward(const Tensor& dy, const Tensor& y, const Tensor& mh, const Tensor& h);

// Matrix products through BLAS. 2-D x 2-D; (..., M, K) x (K, N) folds the leading axes into
// M; (B, M, K) x (B, K, N) runs one GEMM per batch. Transposed views are handed to BLAS as
// transpose flags, not copied.
Tensor matmul(const Tensor& a, const Tensor& b);
// c + a @ b for a (M, K) or (..., M, K) and b (K, N), c broadcasting to the result: one
// GEMM accumulating onto a copy of c.
Tensor addmm(const Tensor& c, const Tensor& a, const Tensor& b);
// out (M, N) += a (M, K) @ b (K, N) in one GEMM; out's rows must be contiguous.
void matmul_add_into(const Tensor& out, const Tensor& a, const Tensor& b);
// The threads a matrix product may use: tapegrad splits large products over that many
// (core/parallel), OpenBLAS itself running on one. The default is OpenBLAS's (the cores, or
// OPENBLAS_NUM_THREADS / OMP_NUM_THREADS when set).
void set_num_threads(int n);
int num_threads();

}  // namespace tapegrad::kernel

namespace tapegrad {
using kernel::num_threads;
using kernel::set_num_threads;
}  // namespace tapegrad
