#include <tapegrad/autograd/primitives.hpp>

#include <tapegrad/autograd/record.hpp>
#include <tapegrad/core/kernels.hpp>

namespace tapegrad {

Tensor add(const Tensor& a, const Tensor& b) {
  // d(a + b) = da + db; the engine sums each gradient back to its input's shape.
  return record({.op = "add", .inputs = {a, b}}, kernel::add(a, b),
                [](const BackwardContext& c) -> Grads {
                  return {c.grad, c.grad};
                });
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  // Each input element fed the output elements it was summed into: broadcast the gradient.
  return record(
      {.op = "sum_to", .inputs = {x}}, kernel::sum_to(x, shape),
      [](const BackwardContext& c) -> Grads { return {broadcast_to(c.grad, c.input_shape(0))}; });
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  // Each input element was repeated: its gradient is the sum over the repeats.
  return record(
      {.op = "broadcast_to", .inputs = {x}}, kernel::broadcast_to(x, shape),
      [](const BackwardContext& c) -> Grads { return {sum_to(c.grad, c.input_shape(0))}; });
}

}  // namespace tapegrad
