// Activations: tanh, sigmoid, relu, and softmax / log_softmax over one axis.
// tanh and sigmoid run on vectorized transcendentals (core/vmath); their rules reuse the
// saved output instead of recomputing the function, and are ops of their own:
// tanh_backward(g, y) = g (1 - y^2) and sigmoid_backward(g, y) = g y (1 - y), each one
// fused kernel in the backward pass instead of three elementwise ops, each with a gradient
// rule of its own so that second derivatives flow through them.
#pragma once

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh_backward(const Tensor& grad, const Tensor& y);
Tensor sigmoid_backward(const Tensor& grad, const Tensor& y);
Tensor relu(const Tensor& x);
Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);

}  // namespace tapegrad
