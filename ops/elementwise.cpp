#include <tapegrad/ops/elementwise.hpp>

#include <tapegrad/autograd/record.hpp>
#include <tapegrad/core/kernels.hpp>

namespace tapegrad {
namespace {

Tensor constant_like(const Tensor& t, double s) {
  return scalar_tensor(s, t.dtype());
}

}  // namespace

Tensor sub(const Tensor& a, const Tensor& b) {
  // d(a - b) = da - db
  return record({.op = "sub", .inputs = {a, b}}, kernel::sub(a, b),
                [](const BackwardContext& c) -> Grads {
                  return {c.grad, -c.grad};
                });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  // d(ab) = b da + a db
  return record({.op = "mul", .inputs = {a, b}, .save = {a, b}}, kernel::mul(a, b),
                [](const BackwardContext& c) -> Grads {
                  return {c.needs_input_grad(0) ? c.grad * c.saved(1) : Tensor(),
                          c.needs_input_grad(1) ? c.grad * c.saved(0) : Tensor()};
                });
}

Tensor div(const Tensor& a, const Tensor& b) {
  // d(a / b) = da / b - a db / b^2
  return record({.op = "div", .inputs = {a, b}, .save = {a, b}}, kernel::div(a, b),
                [](const BackwardContext& c) -> Grads {
                  const Tensor& a = c.saved(0);
                  const Tensor& b = c.saved(1);
                  return {c.needs_input_grad(0) ? c.grad / b : Tensor(),
                          c.needs_input_grad(1) ? -c.grad * a / square(b) : Tensor()};
                });
}

Tensor neg(const Tensor& x) {
  // d(-x) = -dx
  return record({.op = "neg", .inputs = {x}}, kernel::neg(x),
                [](const BackwardContext& c) -> Grads { return {-c.grad}; });
}

Tensor pow(const Tensor& x, double exponent) {
  // d x^p = p x^(p-1) dx
  return record({.op = "pow", .inputs = {x}, .save = {x}}, kernel::pow(x, exponent),
                [exponent](const BackwardContext& c) -> Grads {
                  return {c.grad * exponent * pow(c.saved(0), exponent - 1.0)};
                });
}

Tensor pow(const Tensor& base, const Tensor& exponent) {
  // d a^b = b a^(b-1) da + a^b log(a) db
  return record(
      {.op = "pow", .inputs = {base, exponent}, .save = {base, exponent}, .save_output = true},
      kernel::pow(base, exponent), [](const BackwardContext& c) -> Grads {
        const Tensor& a = c.saved(0);
        const Tensor& b = c.saved(1);
        return {c.needs_input_grad(0) ? c.grad * b * pow(a, b - 1.0) : Tensor(),
                c.needs_input_grad(1) ? c.grad * c.output() * log(a) : Tensor()};
      });
}

Tensor square(const Tensor& x) {
  return pow(x, 2.0);
}

Tensor exp(const Tensor& x) {
  // d e^x = e^x dx
  return record({.op = "exp", .inputs = {x}, .save_output = true}, kernel::exp(x),
                [](const BackwardContext& c) -> Grads { return {c.grad * c.output()}; });
}

Tensor log(const Tensor& x) {
  // d log x = dx / x
  return record({.op = "log", .inputs = {x}, .save = {x}}, kernel::log(x),
                [](const BackwardContext& c) -> Grads { return {c.grad / c.saved(0)}; });
}

Tensor sqrt(const Tensor& x) {
  // d sqrt(x) = dx / (2 sqrt(x))
  return record({.op = "sqrt", .inputs = {x}, .save_output = true}, kernel::sqrt(x),
                [](const BackwardContext& c) -> Grads { return {c.grad * 0.5 / c.output()}; });
}

Tensor abs(const Tensor& x) {
  // d|x| = sign(x) dx (0 at the kink)
  return record(
      {.op = "abs", .inputs = {x}, .save = {x}}, kernel::abs(x),
      [](const BackwardContext& c) -> Grads { return {c.grad * kernel::sign(c.saved(0))}; });
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  // d clamp(x) = dx inside [lo, hi], 0 outside
  return record({.op = "clamp", .inputs = {x}, .save = {x}}, kernel::clamp(x, lo, hi),
                [lo, hi](const BackwardContext& c) -> Grads {
                  const Tensor& x = c.saved(0);
                  const Tensor inside = kernel::mul(kernel::ge(x, constant_like(x, lo)),
                                                    kernel::le(x, constant_like(x, hi)));
                  return {c.grad * inside};
                });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  // d where(m, a, b) = where(m, da, 0) + where(m, 0, db)
  const Tensor mask = cond.detach();
  return record({.op = "where", .inputs = {mask, a, b}, .save = {mask}}, kernel::where(mask, a, b),
                [](const BackwardContext& c) -> Grads {
                  const Tensor& m = c.saved(0);
                  const Tensor zero = constant_like(c.grad, 0.0);
                  return {Tensor(), c.needs_input_grad(1) ? where(m, c.grad, zero) : Tensor(),
                          c.needs_input_grad(2) ? where(m, zero, c.grad) : Tensor()};
                });
}

Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
Tensor operator-(const Tensor& x) {
  return neg(x);
}
Tensor operator+(const Tensor& a, double s) {
  return add(a, constant_like(a, s));
}
Tensor operator-(const Tensor& a, double s) {
  return sub(a, constant_like(a, s));
}
Tensor operator*(const Tensor& a, double s) {
  return mul(a, constant_like(a, s));
}
Tensor operator/(const Tensor& a, double s) {
  return div(a, constant_like(a, s));
}
Tensor operator+(double s, const Tensor& a) {
  return add(constant_like(a, s), a);
}
Tensor operator-(double s, const Tensor& a) {
  return sub(constant_like(a, s), a);
}
Tensor operator*(double s, const Tensor& a) {
  return mul(constant_like(a, s), a);
}
Tensor operator/(double s, const Tensor& a) {
  return div(constant_like(a, s), a);
}

}  // namespace tapegrad
