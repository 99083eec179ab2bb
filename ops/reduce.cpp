#include <tapegrad/ops/reduce.hpp>

#include <algorithm>

#include <tapegrad/autograd/record.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/ops/elementwise.hpp>
#include <tapegrad/ops/shape.hpp>

namespace tapegrad {
namespace {

// The reduced shape with the reduced axes kept as 1: what the gradient broadcasts from.
Shape keepdim_shape(const Shape& input, const Shape& axes) {
  Shape out = input;
  for (int64_t a : axes) out[a] = 1;
  return out;
}

Shape drop_axes(const Shape& input, const Shape& axes) {
  Shape out;
  for (int64_t d = 0; d < input.size(); ++d) {
    if (std::find(axes.begin(), axes.end(), d) == axes.end()) out.push_back(input[d]);
  }
  return out;
}

Shape axes_of(const Tensor& x, const std::vector<int64_t>& axes, const char* op) {
  const std::vector<int64_t> normalized = kernel::normalize_axes(axes, x.dim(), op);
  return Shape(normalized.begin(), normalized.end());
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  const Shape reduced = axes_of(x, axes, "sum");
  // d sum(x) = broadcast of the gradient over the reduced axes
  return record({.op = "sum", .inputs = {x}}, kernel::sum(x, reduced.vec(), keepdim),
                [reduced](const BackwardContext& c) -> Grads {
                  const Shape& in = c.input_shape(0);
                  return {broadcast_to(reshape(c.grad, keepdim_shape(in, reduced)), in)};
                });
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  const Shape reduced = axes_of(x, axes, "mean");
  int64_t count = 1;
  for (int64_t a : reduced) count *= x.shape()[a];
  // The mean of no elements is 0 / 0 = NaN, as in NumPy and PyTorch.
  return sum(x, axes, keepdim) / static_cast<double>(count);
}

Tensor max(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  const Shape reduced = axes_of(x, axes, "max");
  const Tensor kept = kernel::max(x, reduced.vec(), true);
  // d max(x) = g at the argmax (shared equally between ties), 0 elsewhere
  return record({.op = "max", .inputs = {x}, .save = {x, kept}},
                keepdim ? kept : kernel::reshape(kept, drop_axes(x.shape(), reduced)),
                [reduced](const BackwardContext& c) -> Grads {
                  const Tensor& x = c.saved(0);
                  const Tensor is_max = kernel::eq(x, c.saved(1));
                  const Tensor share =
                      kernel::div(is_max, kernel::sum(is_max, reduced.vec(), true));
                  return {reshape(c.grad, c.saved(1).shape()) * share};
                });
}

}  // namespace tapegrad
