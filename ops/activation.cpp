#include <tapegrad/ops/activation.hpp>

#include <tapegrad/autograd/record.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/ops/elementwise.hpp>
#include <tapegrad/ops/reduce.hpp>

namespace tapegrad {

Tensor tanh(const Tensor& x) {
  // d tanh(x) = (1 - y^2) dx
  return record({.op = "tanh", .inputs = {x}, .save_output = true}, kernel::tanh(x),
                [](const BackwardContext& c) -> Grads {
                  const Tensor y = c.output();
                  return {c.grad * (1.0 - y * y)};
                });
}

Tensor sigmoid(const Tensor& x) {
  // d sigmoid(x) = y (1 - y) dx
  return record({.op = "sigmoid", .inputs = {x}, .save_output = true}, kernel::sigmoid(x),
                [](const BackwardContext& c) -> Grads {
                  const Tensor y = c.output();
                  return {c.grad * y * (1.0 - y)};
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
