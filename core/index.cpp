// index_select / index_add: the axis is viewed as the middle of (outer, extent, inner) of a
// contiguous tensor, so every index moves one run of `inner` contiguous elements.
#include <algorithm>

#include <fmt/format.h>

#include <tapegrad/core/kernels.hpp>

namespace tapegrad::kernel {
namespace {

struct AxisLayout {
  int64_t outer = 1;   // elements before the axis
  int64_t extent = 0;  // the axis
  int64_t inner = 1;   // elements after it, contiguous
};

AxisLayout axis_layout(const Shape& shape, int64_t axis) {
  AxisLayout l;
  l.extent = shape[axis];
  for (int64_t d = 0; d < axis; ++d) l.outer *= shape[d];
  for (int64_t d = axis + 1; d < shape.size(); ++d) l.inner *= shape[d];
  return l;
}

void check_indices(const char* op, const Shape& shape, int64_t axis,
                   const std::vector<int64_t>& index) {
  const int64_t extent = shape[axis];
  const auto bad = std::find_if(index.begin(), index.end(),
                                [extent](int64_t i) { return i < 0 || i >= extent; });
  if (bad == index.end()) return;
  throw_error<ShapeError>(
      "{}: index {} (at position {} of the index) is out of range for axis {} of shape {}; "
      "indices must lie in [0, {})",
      op, *bad, bad - index.begin(), axis, shape, extent);
}

// x's shape with `axis` of extent `n`.
Shape with_extent(const Shape& shape, int64_t axis, int64_t n) {
  Shape out = shape;
  out[axis] = n;
  return out;
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t axis, const std::vector<int64_t>& index) {
  const int64_t a = normalize_axis(axis, x.dim(), "index_select");
  check_indices("index_select", x.shape(), a, index);
  const auto count = static_cast<int64_t>(index.size());
  Tensor out = empty(with_extent(x.shape(), a, count), x.dtype());
  const Tensor dense = x.contiguous();
  const AxisLayout l = axis_layout(x.shape(), a);
  dispatch(x.dtype(), [&]<class T>(T) {
    const T* in = dense.data<T>();
    T* o = out.data<T>();
    for (int64_t b = 0; b < l.outer; ++b) {
      for (int64_t k = 0; k < count; ++k) {
        const T* from = in + (b * l.extent + index[k]) * l.inner;
        std::copy(from, from + l.inner, o + (b * count + k) * l.inner);
      }
    }
  });
  return out;
}

Tensor index_add(const Tensor& x, int64_t axis, const std::vector<int64_t>& index,
                 const Tensor& source) {
  const int64_t a = normalize_axis(axis, x.dim(), "index_add");
  check_same_dtype("index_add", x, source);
  const auto count = static_cast<int64_t>(index.size());
  const Shape expected = with_extent(x.shape(), a, count);
  if (!(source.shape() == expected)) {
    throw_error<ShapeError>(
        "index_add: source has shape {}, expected {} (the input's shape {} with axis {} of "
        "extent {}, the index's length)",
        source.shape(), expected, x.shape(), a, count);
  }
  check_indices("index_add", x.shape(), a, index);
  Tensor out = x.clone();  // dense
  const Tensor src = source.contiguous();
  const AxisLayout l = axis_layout(x.shape(), a);
  dispatch(x.dtype(), [&]<class T>(T) {
    const T* s = src.data<T>();
    T* o = out.data<T>();
    for (int64_t b = 0; b < l.outer; ++b) {
      for (int64_t k = 0; k < count; ++k) {
        T* to = o + (b * l.extent + index[k]) * l.inner;
        const T* from = s + (b * count + k) * l.inner;
        for (int64_t i = 0; i < l.inner; ++i) to[i] += from[i];
      }
    }
  });
  return out;
}

}  // namespace tapegrad::kernel
