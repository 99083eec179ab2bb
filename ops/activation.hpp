// Activations: tanh, sigmoid, relu, and softmax / log_softmax over one axis.
// tanh and sigmoid run on vectorized transcendentals (core/vmath); their rules reuse the
// saved output instead of recomputing the function.
#pragma once

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);

}  // namespace tapegrad
