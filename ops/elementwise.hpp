// Elementwise arithmetic and math, with NumPy broadcasting.
//
// Each op is one function in elementwise.cpp: checks, the core kernel, then its gradient
// rule. Scalars enter as 0-d tensors of the other operand's dtype, so `1.0 - f` and `x * 2`
// are ordinary broadcasting ops with a constant input. add, sum_to and broadcast_to come
// from autograd/primitives.hpp (the engine itself needs them).
#pragma once

#include <tapegrad/autograd/primitives.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor pow(const Tensor& base, const Tensor& exponent);
Tensor square(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor clamp(const Tensor& x, double lo, double hi);
// cond != 0 ? a : b; cond is a constant mask (no gradient flows into it).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double s);
Tensor operator-(const Tensor& a, double s);
Tensor operator*(const Tensor& a, double s);
Tensor operator/(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(double s, const Tensor& a);

}  // namespace tapegrad
