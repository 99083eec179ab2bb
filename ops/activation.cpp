#include <tapegrad/ops/activation.hpp>

#include <tapegrad/autograd/record.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/ops/elementwise.hpp>
#include <tapegrad/ops/reduce.hpp>

namespace tapegrad {

Tensor tanh(const Tensor& x) {
  // d tanh(x) = (1 - y^2) dx
  return record(
      {.op = "tanh", .inputs = {x}, .save_output = true}, kernel::tanh(x),
      [](const BackwardContext& c) -> Grads { return {tanh_backward(c.grad, c.output())}; });
}

Tensor tanh_backward(const Tensor& grad, const Tensor& y) {
  // d [g (1 - y^2)] = (1 - y^2) dg - 2 g y dy
  return record({.op = "tanh_backward", .inputs = {grad, y}, .save = {grad, y}},
                kernel::tanh_backward(grad, y), [](const BackwardContext& c) -> Grads {
                  const Tensor& g = c.saved(0);
                  const Tensor& y = c.saved(1);
                  return {c.needs_input_grad(0) ? tanh_backward(c.grad, y) : Tensor(),
                          c.needs_input_grad(1) ? -2.0 * c.grad * g * y : Tensor()};
                });
}

Tensor sigmoid(const Tensor& x) {
  // d sigmoid(x) = y (1 - y) dx
  return record(
      {.op = "sigmoid", .inputs = {x}, .save_output = true}, kernel::sigmoid(x),
      [](const BackwardContext& c) -> Grads { return {sigmoid_backward(c.grad, c.output())}; });
}

Tensor sigmoid_backward(const Tensor& grad, const Tensor& y) {
  // d [g y (1 - y)] = y (1 - y) dg + g (1 - 2y) dy
  return record({.op = "sigmoid_backward", .inputs = {grad, y}, .save = {grad, y}},
                kernel::sigmoid_backward(grad, y), [](const BackwardContext& c) -> Grads {
                  const Tensor& g = c.saved(0);
                  const Tensor& y = c.saved(1);
                  return {c.needs_input_grad(0) ? sigmoid_backward(c.grad, y) : Tensor(),
                          c.needs_input_grad(1) ? c.grad * g * (1.0 - 2.0 * y) : Tensor()};
                });
}

Tensor relu(const Tensor& x) {
  // d relu(x) = [x > 0] dx
  return record({.op = "relu", .inputs = {x}, .save = {x}}, kernel::relu(x),
                [](const BackwardContext& c) -> Grads {
                  const Tensor& x = c.saved(0);
                  return {c.grad * kernel::gt(x, scalar_tensor(0.0, x.dtype()))};
                });
}

namespace {

// x minus its max along axis: the same softmax, without overflow in exp.
Tensor shift_by_max(const Tensor& x, int64_t axis) {
  return kernel::sub(x, kernel::max(x, {axis}, true));
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) {
  const int64_t a = normalize_axis(axis, x.dim(), "softmax");
  const Tensor e = kernel::exp(shift_by_max(x, a));
  // d softmax: dx = y * (g - sum(g * y, axis))
  return record({.op = "softmax", .inputs = {x}, .save_output = true},
                kernel::div(e, kernel::sum(e, {a}, true)), [a](const BackwardContext& c) -> Grads {
                  const Tensor y = c.output();
                  return {y * (c.grad - sum(c.grad * y, {a}, true))};
                });
}

Tensor log_softmax(const Tensor& x, int64_t axis) {
  const int64_t a = normalize_axis(axis, x.dim(), "log_softmax");
  const Tensor shifted = shift_by_max(x, a);
  const Tensor log_norm = kernel::log(kernel::sum(kernel::exp(shifted), {a}, true));
  // d log_softmax: dx = g - softmax(x) * sum(g, axis)
  return record({.op = "log_softmax", .inputs = {x}, .save_output = true},
                kernel::sub(shifted, log_norm), [a](const BackwardContext& c) -> Grads {
                  return {c.grad - exp(c.output()) * sum(c.grad, {a}, true)};
                });
}

}  // namespace tapegrad
