// Reductions. A reduction is an elementwise update of an output whose strides are 0 along
// the reduced axes, run on the shared strided loop. Two layouts that dominate training get a
// dense path: reducing trailing axes (a row sum, accumulated in double) and reducing leading
// axes (a bias gradient summed over the batch, a vectorized row-add).
#include <algorithm>
#include <limits>

#include <tapegrad/core/kernels.hpp>
#include <tapegrad/core/strided_loop.hpp>

namespace tapegrad::kernel {
namespace {

Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& axes, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < shape.size(); ++d) {
    const bool reduced = std::find(axes.begin(), axes.end(), d) != axes.end();
    if (!reduced) {
      out.push_back(shape[d]);
    } else if (keepdim) {
      out.push_back(1);
    }
  }
  return out;
}

bool is_block(const std::vector<int64_t>& axes, int64_t first, int64_t last) {
  if (static_cast<int64_t>(axes.size()) != last - first) return false;
  for (int64_t i = 0; i < last - first; ++i) {
    if (axes[i] != first + i) return false;
  }
  return true;
}

// combine(acc, v) folds one element in; init is the identity.
template <class Combine>
Tensor reduce(const Tensor& x, const std::vector<int64_t>& axes_in, bool keepdim, const char* op,
              double init, Combine combine) {
  const std::vector<int64_t> axes = normalize_axes(axes_in, x.dim(), op);
  const Shape kept = reduced_shape(x.shape(), axes, true);
  Tensor out = full(kept, init, x.dtype());
  const int64_t rank = x.dim();
  dispatch(x.dtype(), [&]<class T>(T) {
    T* o = out.data<T>();
    const int64_t outer = kept.numel();
    const int64_t inner = outer == 0 ? 0 : x.numel() / outer;
    if (x.is_contiguous() && is_block(axes, rank - axes.size(), rank)) {
      const T* in = x.data<T>();
      for (int64_t i = 0; i < outer; ++i) {
        double acc = init;
        for (int64_t j = 0; j < inner; ++j) acc = combine(acc, double(in[i * inner + j]));
        o[i] = static_cast<T>(acc);
      }
    } else if (x.is_contiguous() && is_block(axes, 0, axes.size())) {
      const T* in = x.data<T>();
      for (int64_t j = 0; j < inner; ++j) {
        for (int64_t i = 0; i < outer; ++i) o[i] = combine(o[i], in[j * outer + i]);
      }
    } else {
      Shape out_strides = out.strides();
      for (int64_t a : axes) out_strides[a] = 0;
      std::array<Shape, 2> strides{out_strides, x.strides()};
      detail::for_each_strided<T, 2>(x.shape(), strides, {o, x.data<T>()},
                                     [&](int64_t n, std::array<T*, 2> p, std::array<int64_t, 2> s) {
                                       for (int64_t i = 0; i < n; ++i)
                                         p[0][i * s[0]] = combine(p[0][i * s[0]], p[1][i * s[1]]);
                                     });
    }
  });
  return keepdim ? out : reshape(out, reduced_shape(x.shape(), axes, false));
}

}  // namespace

std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t rank,
                                    const char* op) {
  std::vector<int64_t> out;
  if (axes.empty()) {
    for (int64_t d = 0; d < rank; ++d) out.push_back(d);
    return out;
  }
  for (int64_t a : axes) out.push_back(normalize_axis(a, rank, op));
  std::sort(out.begin(), out.end());
  const auto repeated = std::adjacent_find(out.begin(), out.end());
  if (repeated != out.end()) {
    throw_error<ShapeError>("{}: axis {} appears more than once in axes [{}] (rank {})", op,
                            *repeated, fmt::join(axes, ","), rank);
  }
  return out;
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  return reduce(x, axes, keepdim, "sum", 0.0, [](auto acc, auto v) { return acc + v; });
}

Tensor max(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  if (x.numel() == 0)
    throw_error<ShapeError>("max: cannot reduce an empty tensor of shape {}", x.shape());
  return reduce(x, axes, keepdim, "max", -std::numeric_limits<double>::infinity(),
                [](auto acc, auto v) { return v > acc || v != v ? v : acc; });
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - shape.size();
  if (lead < 0) {
    throw_error<ShapeError>("sum_to: cannot reduce shape {} to the larger shape {}", x.shape(),
                            shape);
  }
  // `shape` must be one that broadcasts to x's shape; anything else is a caller's bug that a
  // reshape of the sum could silently hide ([2,3] -> [3,2]).
  for (int64_t d = 0; d < shape.size(); ++d) {
    if (shape[d] != 1 && shape[d] != x.shape()[lead + d]) {
      throw_error<ShapeError>("sum_to: shape {} does not broadcast to {}", shape, x.shape());
    }
  }
  std::vector<int64_t> axes;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead || (shape[d - lead] == 1 && x.shape()[d] != 1)) axes.push_back(d);
  }
  if (axes.empty()) return reshape(x, shape);
  return reshape(sum(x, axes, true), shape);
}

}  // namespace tapegrad::kernel
