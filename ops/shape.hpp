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
// PyTorch's index_select: the slices index[0], index[1], ... of `axis`, in that order (an
// index may repeat or be left out), so the axis gets extent index.size(). It gathers: e.g.
// (B*T, F) rows in a new order. Indices must lie in [0, extent) (no negative ones, as in
// PyTorch); ShapeError names the op, the bad index, its position and the shape.
// Gradient: index_add of g into zeros of x's shape (a scatter-add; repeated indices add up).
Tensor index_select(const Tensor& x, int64_t axis, const std::vector<int64_t>& index);
// PyTorch's index_add: x with source's slice k added into slice index[k] of `axis`; source
// has x's shape except that axis, of extent index.size(). Gradient: g for x,
// index_select(g, axis, index) for source.
Tensor index_add(const Tensor& x, int64_t axis, const std::vector<int64_t>& index,
                 const Tensor& source);
// Zeros of `shape` with x written into the slice (axis, start::step); the gradient of slice.
Tensor embed_slice(const Tensor& x, const Shape& shape, int64_t axis, int64_t start, int64_t step);

}  // namespace tapegrad
