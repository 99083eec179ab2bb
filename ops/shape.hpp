// Shape ops: views and joins. Views (reshape of contiguous data, transpose, permute, slice,
// select, unsqueeze, broadcast_to) share the input's storage; their gradients are the inverse
// view, or for slice/select the gradient embedded into zeros of the input's shape.
#pragma once

#include <vector>

#include <tapegrad/autograd/primitives.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

Tensor reshape(const Tensor& x, const Shape& shape);
Tensor transpose(const Tensor& x, int64_t axis0, int64_t axis1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& order);
// Elements start, start+step, ... < stop along axis (Python slice semantics).
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop, int64_t step = 1);
// Index `index` of `axis`, removing the axis.
Tensor select(const Tensor& x, int64_t axis, int64_t index);
Tensor unsqueeze(const Tensor& x, int64_t axis);
Tensor concat(const std::vector<Tensor>& xs, int64_t axis = 0);
Tensor stack(const std::vector<Tensor>& xs, int64_t axis = 0);
// `sections` equal parts along axis.
std::vector<Tensor> split(const Tensor& x, int64_t sections, int64_t axis = 0);
// Parts of the given sizes along axis.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis = 0);
// Zeros of `shape` with x written into the slice (axis, start::step); the gradient of slice.
Tensor embed_slice(const Tensor& x, const Shape& shape, int64_t axis, int64_t start, int64_t step);

}  // namespace tapegrad
