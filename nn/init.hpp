// Initializers with Keras's defaults, all drawn from the generator that tg::manual_seed sets.
//   glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)), for a (fan_in, fan_out) kernel
//   orthogonal:     QR of a normal matrix, columns signed by diag(R) (Keras/Saxe et al.)
#pragma once

#include <tapegrad/core/tensor.hpp>

namespace tapegrad::nn::init {

Tensor glorot_uniform(const Shape& shape, DType dtype = f32);
Tensor orthogonal(const Shape& shape, double gain = 1.0, DType dtype = f32);
Tensor uniform(const Shape& shape, double lo = -0.05, double hi = 0.05, DType dtype = f32);
Tensor normal(const Shape& shape, double mean = 0.0, double stddev = 0.05, DType dtype = f32);
Tensor zeros(const Shape& shape, DType dtype = f32);
Tensor ones(const Shape& shape, DType dtype = f32);

}  // namespace tapegrad::nn::init
