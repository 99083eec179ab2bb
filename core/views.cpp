// Shape kernels. All but concat return views that share the input's storage; only reshape
// of non-contiguous data has to copy.
#include <algorithm>
#include <numeric>

#include <tapegrad/core/kernels.hpp>

namespace tapegrad::kernel {

Tensor transpose(const Tensor& x, int64_t axis0, int64_t axis1) {
  const int64_t a = normalize_axis(axis0, x.dim(), "transpose");
  const int64_t b = normalize_axis(axis1, x.dim(), "transpose");
  Shape shape = x.shape();
  Shape strides = x.strides();
  std::swap(shape[a], shape[b]);
  std::swap(strides[a], strides[b]);
  return make_view(x, shape, strides, x.offset());
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& order) {
  std::vector<int64_t> sorted;
  for (int64_t a : order) sorted.push_back(normalize_axis(a, x.dim(), "permute"));
  std::vector<int64_t> normalized = sorted;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(x.dim());
  std::iota(identity.begin(), identity.end(), 0);
  if (sorted != identity) {
    throw_error<ShapeError>("permute: order [{}] is not a permutation of the {} axes of shape {}",
                            fmt::join(order, ","), x.dim(), x.shape());
  }
  Shape shape;
  Shape strides;
  for (int64_t a : normalized) {
    shape.push_back(x.shape()[a]);
    strides.push_back(x.strides()[a]);
  }
  return make_view(x, shape, strides, x.offset());
}

Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop, int64_t step) {
  const int64_t a = normalize_axis(axis, x.dim(), "slice");
  const int64_t n = x.shape()[a];
  if (step <= 0) throw_error<ValueError>("slice: step must be positive, got {}", step);
  // Python slice semantics: negative bounds count from the end, out-of-range ones clamp.
  auto wrap = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  start = wrap(start);
  stop = std::max(wrap(stop), start);
  Shape shape = x.shape();
  Shape strides = x.strides();
  // ceil((stop - start) / step) without the overflow of stop - start + step - 1.
  shape[a] = stop == start ? 0 : (stop - start - 1) / step + 1;
  // One element or none never uses the stride; keeping it spares stride * step the overflow
  // of a step far beyond the axis (slice(x, 1, 0, 3, INT64_MAX)).
  if (shape[a] > 1) strides[a] *= step;
  return make_view(x, shape, strides, x.offset() + start * x.strides()[a]);
}

Tensor select(const Tensor& x, int64_t axis, int64_t index) {
  const int64_t a = normalize_axis(axis, x.dim(), "select");
  const int64_t n = x.shape()[a];
  if (index < -n || index >= n) {
    throw_error<ShapeError>("select: index {} is out of range for axis {} of shape {}", index, a,
                            x.shape());
  }
  if (index < 0) index += n;
  Shape shape = x.shape();
  Shape strides = x.strides();
  shape.erase(a);
  strides.erase(a);
  return make_view(x, shape, strides, x.offset() + index * x.strides()[a]);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  check_shape(shape, "broadcast_to");
  const Shape joint = broadcast_shapes(x.shape(), shape, "broadcast_to");
  if (!(joint == shape)) {
    throw_error<ShapeError>("broadcast_to: shape {} cannot be broadcast to {}", x.shape(), shape);
  }
  Shape strides = Shape::filled(shape.size(), 0);
  const int64_t lead = shape.size() - x.dim();
  for (int64_t d = 0; d < x.dim(); ++d) {
    strides[lead + d] = x.shape()[d] == 1 ? 0 : x.strides()[d];
  }
  return make_view(x, shape, strides, x.offset());
}

Tensor unsqueeze(const Tensor& x, int64_t axis) {
  const int64_t a = normalize_axis(axis, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape();
  Shape strides = x.strides();
  shape.insert(a, 1);
  strides.insert(a, a < x.dim() ? x.strides()[a] * x.shape()[a] : 1);
  return make_view(x, shape, strides, x.offset());
}

Shape infer_reshape(const Shape& from, const Shape& to, const char* op) {
  const auto* inferred = std::find(to.begin(), to.end(), int64_t{-1});
  // The target with its -1 (if any) as 1: the known extents, checked as a shape.
  Shape out = to;
  if (inferred != to.end()) out[inferred - to.begin()] = 1;
  if (std::any_of(out.begin(), out.end(), [](int64_t d) { return d < 0; })) {
    throw_error<ShapeError>("{}: invalid target shape {} (one -1 at most, no other negatives)", op,
                            to);
  }
  check_shape(out, op);
  if (inferred != to.end()) {
    const int64_t known = out.numel();
    if (known == 0) {
      throw_error<ShapeError>("{}: cannot infer the -1 in {} for {}: other extents multiply to 0",
                              op, to, from);
    }
    out[inferred - to.begin()] = from.numel() / known;
  }
  if (out.numel() != from.numel()) {
    throw_error<ShapeError>("{}: cannot reshape {} ({} elements) into {}", op, from, from.numel(),
                            to);
  }
  return out;
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  const Shape target = infer_reshape(x.shape(), shape, "reshape");
  const Tensor dense = x.contiguous();
  return make_view(dense, target, contiguous_strides(target), dense.offset());
}

Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  if (xs.empty()) throw ValueError("concat: needs at least one tensor");
  const int64_t a = normalize_axis(axis, xs[0].dim(), "concat");
  // Every input must equal the first outside axis a; compare with a zeroed there.
  Shape reference = xs[0].shape();
  reference[a] = 0;
  Shape shape = reference;
  for (const Tensor& x : xs) {
    check_same_dtype("concat", xs[0], x);
    Shape probe = x.shape();
    if (probe.size() == shape.size()) probe[a] = 0;
    if (!(probe == reference)) {
      throw_error<ShapeError>("concat: shapes {} and {} differ outside axis {}", xs[0].shape(),
                              x.shape(), a);
    }
    if (__builtin_add_overflow(shape[a], x.shape()[a], &shape[a])) {
      throw_error<ShapeError>(
          "concat: the extents along axis {} of {} inputs of shapes like {} "
          "add up past INT64_MAX",
          a, xs.size(), x.shape());
    }
  }
  Tensor out = empty(shape, xs[0].dtype());
  int64_t start = 0;
  for (const Tensor& x : xs) {
    copy_into(slice(out, a, start, start + x.shape()[a]), x);
    start += x.shape()[a];
  }
  return out;
}

}  // namespace tapegrad::kernel
