// The one loop every elementwise and reduction kernel runs on.
//
// for_each_strided walks N operands of a common shape, each with its own strides (a stride
// of 0 repeats an element: that is how broadcasting and reduction outputs are expressed).
// Dimensions that are contiguous in every operand are merged first, so a dense tensor of any
// rank becomes one flat loop, and the innermost loop is handed to `inner` with its length and
// per-operand strides, where the kernel can take a vectorizable fast path.
#pragma once

#include <array>
#include <cstdint>

#include <tapegrad/core/shape.hpp>

namespace tapegrad::detail {

template <std::size_t N>
struct StridedLayout {
  Shape shape;
  std::array<Shape, N> strides;
};

// Drops extent-1 dimensions and merges neighbours that are contiguous in every operand.
template <std::size_t N>
StridedLayout<N> coalesce(const Shape& shape, const std::array<Shape, N>& strides) {
  StridedLayout<N> out;
  for (int64_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool mergeable = !out.shape.empty();
    for (std::size_t k = 0; k < N && mergeable; ++k) {
      mergeable = out.strides[k].back() == strides[k][d] * shape[d];
    }
    if (mergeable) {
      out.shape[out.shape.size() - 1] *= shape[d];
      for (std::size_t k = 0; k < N; ++k) {
        out.strides[k][out.strides[k].size() - 1] = strides[k][d];
      }
    } else {
      out.shape.push_back(shape[d]);
      for (std::size_t k = 0; k < N; ++k) out.strides[k].push_back(strides[k][d]);
    }
  }
  if (out.shape.empty()) {  // a single element
    out.shape.push_back(1);
    for (std::size_t k = 0; k < N; ++k) out.strides[k].push_back(1);
  }
  return out;
}

// inner(n, ptrs, inner_strides) processes one run of the innermost dimension.
template <class T, std::size_t N, class Inner>
void for_each_strided(const Shape& shape, const std::array<Shape, N>& strides,
                      std::array<T*, N> base, Inner&& inner) {
  if (shape.numel() == 0) return;
  const StridedLayout<N> layout = coalesce(shape, strides);
  const int64_t rank = layout.shape.size();
  const int64_t n = layout.shape[rank - 1];
  std::array<int64_t, N> inner_strides;
  for (std::size_t k = 0; k < N; ++k) inner_strides[k] = layout.strides[k][rank - 1];

  Shape index = Shape::filled(rank - 1, 0);
  std::array<T*, N> ptrs = base;
  while (true) {
    inner(n, ptrs, inner_strides);
    // Odometer step over the outer dimensions.
    int64_t d = rank - 2;
    for (; d >= 0; --d) {
      for (std::size_t k = 0; k < N; ++k) ptrs[k] += layout.strides[k][d];
      if (++index[d] < layout.shape[d]) break;
      for (std::size_t k = 0; k < N; ++k) ptrs[k] -= layout.strides[k][d] * layout.shape[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

// Strides of `strides`/`shape` seen through a broadcast to `target` (0 where repeated).
inline Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& target) {
  Shape out = Shape::filled(target.size(), 0);
  const int64_t lead = target.size() - shape.size();
  for (int64_t i = 0; i < shape.size(); ++i) {
    out[lead + i] = shape[i] == 1 ? 0 : strides[i];
  }
  return out;
}

}  // namespace tapegrad::detail
