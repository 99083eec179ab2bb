#include <tapegrad/ops/shape.hpp>

#include <algorithm>

#include <tapegrad/autograd/record.hpp>
#include <tapegrad/core/kernels.hpp>

namespace tapegrad {

Tensor reshape(const Tensor& x, const Shape& shape) {
  // d reshape(x) = reshape(g, shape of x)
  return record(
      {.op = "reshape", .inputs = {x}}, kernel::reshape(x, shape),
      [](const BackwardContext& c) -> Grads { return {reshape(c.grad, c.input_shape(0))}; });
}

Tensor transpose(const Tensor& x, int64_t axis0, int64_t axis1) {
  // d transpose(x) = transpose(g) (a swap is its own inverse)
  return record({.op = "transpose", .inputs = {x}}, kernel::transpose(x, axis0, axis1),
                [axis0, axis1](const BackwardContext& c) -> Grads {
                  return {transpose(c.grad, axis0, axis1)};
                });
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& order) {
  Tensor out = kernel::permute(x, order);
  Shape inverse = Shape::filled(x.dim(), 0);
  for (int64_t i = 0; i < x.dim(); ++i) inverse[normalize_axis(order[i], x.dim(), "permute")] = i;
  // d permute(x) = permute(g, inverse order)
  return record(
      {.op = "permute", .inputs = {x}}, std::move(out),
      [inverse](const BackwardContext& c) -> Grads { return {permute(c.grad, inverse.vec())}; });
}

Tensor embed_slice(const Tensor& x, const Shape& shape, int64_t axis, int64_t start, int64_t step) {
  Tensor out = zeros(shape, x.dtype());
  const int64_t stop = kernel::slice_stop(start, x.shape()[axis], step);
  kernel::copy_into(kernel::slice(out, axis, start, stop, step), x);
  // d embed_slice(x) = the slice of g that x was written to
  return record({.op = "embed_slice", .inputs = {x}}, std::move(out),
                [axis, start, step](const BackwardContext& c) -> Grads {
                  const int64_t n = c.input_shape(0)[axis];
                  return {slice(c.grad, axis, start, kernel::slice_stop(start, n, step), step)};
                });
}

namespace {

// A slice gradient written with ops, for a recorded backward pass: embedded into zeros.
Tensor embedded(const InputGradient& g, const Shape& input_shape) {
  return embed_slice(g.values, input_shape, g.axis, g.start, g.step);
}

}  // namespace

Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop, int64_t step) {
  Tensor out = kernel::slice(x, axis, start, stop, step);
  const int64_t a = normalize_axis(axis, x.dim(), "slice");
  const int64_t n = x.shape()[a];
  const int64_t first = std::clamp<int64_t>(start < 0 ? start + n : start, 0, n);
  // d slice(x) = g embedded into zeros of x's shape (the engine adds it into that slice)
  return record({.op = "slice", .inputs = {x}}, std::move(out),
                [a, first, step](const BackwardContext& c) -> Grads {
                  return {InputGradient::slice(c.grad, a, first, step, embedded)};
                });
}

Tensor select(const Tensor& x, int64_t axis, int64_t index) {
  const int64_t a = normalize_axis(axis, x.dim(), "select");
  Tensor out = kernel::select(x, a, index);
  const int64_t i = index < 0 ? index + x.shape()[a] : index;
  // d select(x) = g embedded at the selected index
  return record({.op = "select", .inputs = {x}}, std::move(out),
                [a, i](const BackwardContext& c) -> Grads {
                  return {InputGradient::slice(unsqueeze(c.grad, a), a, i, 1, embedded)};
                });
}

Tensor index_select(const Tensor& x, int64_t axis, const std::vector<int64_t>& index) {
  Tensor out = kernel::index_select(x, axis, index);
  const int64_t a = normalize_axis(axis, x.dim(), "index_select");
  // d index_select(x) = g scattered back to the gathered positions, summed where repeated
  return record({.op = "index_select", .inputs = {x}}, std::move(out),
                [a, index](const BackwardContext& c) -> Grads {
                  return {index_add(zeros(c.input_shape(0), c.grad.dtype()), a, index, c.grad)};
                });
}

Tensor index_add(const Tensor& x, int64_t axis, const std::vector<int64_t>& index,
                 const Tensor& source) {
  Tensor out = kernel::index_add(x, axis, index, source);
  const int64_t a = normalize_axis(axis, x.dim(), "index_add");
  // d index_add(x, s) = dx + the slices index[k] of g for ds
  return record(
      {.op = "index_add", .inputs = {x, source}}, std::move(out),
      [a, index](const BackwardContext& c) -> Grads {
        return {c.grad, c.needs_input_grad(1) ? index_select(c.grad, a, index) : Tensor()};
      });
}

Tensor unsqueeze(const Tensor& x, int64_t axis) {
  // d unsqueeze(x) = g without the new axis
  return record(
      {.op = "unsqueeze", .inputs = {x}}, kernel::unsqueeze(x, axis),
      [](const BackwardContext& c) -> Grads { return {reshape(c.grad, c.input_shape(0))}; });
}

Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  Tensor out = kernel::concat(xs, axis);
  const int64_t a = normalize_axis(axis, xs[0].dim(), "concat");
  // d concat(xs) = the slices of g each input was copied to
  return record(
      {.op = "concat", .inputs = xs}, std::move(out), [a](const BackwardContext& c) -> Grads {
        Grads grads;
        int64_t start = 0;
        for (std::size_t i = 0; i < c.input_count(); ++i) {
          const int64_t n = c.input_shape(i)[a];
          grads.push_back(c.needs_input_grad(i) ? slice(c.grad, a, start, start + n) : Tensor());
          start += n;
        }
        return grads;
      });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t axis) {
  if (xs.empty()) throw ValueError("stack: needs at least one tensor");
  const int64_t a = normalize_axis(axis, xs[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  expanded.reserve(xs.size());
  for (const Tensor& x : xs) {
    if (!(x.shape() == xs[0].shape())) {
      throw_error<ShapeError>("stack: all shapes must match, got {} and {}", xs[0].shape(),
                              x.shape());
    }
    expanded.push_back(unsqueeze(x, a));
  }
  return concat(expanded, a);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis) {
  const int64_t a = normalize_axis(axis, x.dim(), "split");
  // Sizes >= 0 that add up to the extent: then no running start below overflows or wraps.
  int64_t total = 0;
  for (int64_t n : sizes) {
    if (n < 0 || __builtin_add_overflow(total, n, &total)) {
      throw_error<ShapeError>("split: sizes [{}] must be >= 0 and add up to axis {} of shape {}",
                              fmt::join(sizes, ","), a, x.shape());
    }
  }
  if (total != x.shape()[a]) {
    throw_error<ShapeError>("split: sizes [{}] add up to {}, but axis {} of shape {} has {}",
                            fmt::join(sizes, ","), total, a, x.shape(), x.shape()[a]);
  }
  std::vector<Tensor> parts;
  int64_t start = 0;
  for (int64_t n : sizes) {
    parts.push_back(slice(x, a, start, start + n));
    start += n;
  }
  return parts;
}

std::vector<Tensor> split(const Tensor& x, int64_t sections, int64_t axis) {
  const int64_t a = normalize_axis(axis, x.dim(), "split");
  if (sections <= 0 || x.shape()[a] % sections != 0) {
    throw_error<ShapeError>("split: axis {} of shape {} cannot be split into {} equal parts", a,
                            x.shape(), sections);
  }
  return split(x, std::vector<int64_t>(sections, x.shape()[a] / sections), a);
}

}  // namespace tapegrad
