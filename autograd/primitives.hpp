// The three differentiable ops the engine itself needs: it sums the gradients a tensor gets
// from several consumers (add) and reduces a broadcast gradient back to an input's shape
// (sum_to, whose gradient is broadcast_to). They live here, below ops/, because the engine
// cannot depend on the layer above it; ops/ exposes them with the rest of the op set.
#pragma once

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sum_to(const Tensor& x, const Shape& shape);
Tensor broadcast_to(const Tensor& x, const Shape& shape);

}  // namespace tapegrad
