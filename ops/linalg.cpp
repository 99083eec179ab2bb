#include <tapegrad/ops/linalg.hpp>

#include <tapegrad/autograd/record.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/ops/shape.hpp>

namespace tapegrad {
namespace {

Tensor transpose_last(const Tensor& t) {
  return transpose(t, -1, -2);
}

// A product gradient written with ops, for a recorded backward pass.
Tensor multiplied(const InputGradient& g, const Shape&) {
  return matmul(g.values, g.right);
}

// g B^T, the gradient of A. A product the engine finishes when both are matrices.
InputGradient gradient_of_a(const Tensor& g, const Tensor& b) {
  if (g.dim() == 2 && b.dim() == 2) return InputGradient::product(g, transpose_last(b), multiplied);
  return matmul(g, transpose_last(b));
}

// A^T g, the gradient of B. For a matrix B the leading axes of A and g fold into the rows
// (all time steps of an input projection in one product).
InputGradient gradient_of_b(const Tensor& a, const Tensor& g, const Tensor& b) {
  if (b.dim() != 2) return matmul(transpose_last(a), g);
  if (a.dim() == 2) return InputGradient::product(transpose_last(a), g, multiplied);
  const int64_t k = a.shape().back();
  return InputGradient::product(transpose_last(reshape(a, {-1, k})), reshape(g, {-1, b.shape()[1]}),
                                multiplied);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  // d(AB) = dA B + A dB  =>  gA = G B^T,  gB = A^T G
  return record({.op = "matmul", .inputs = {a, b}, .save = {a, b}}, kernel::matmul(a, b),
                [](const BackwardContext& c) -> Grads {
                  const Tensor a = c.saved(0);
                  const Tensor b = c.saved(1);
                  Grads grads(2);
                  if (c.needs_input_grad(0)) grads[0] = gradient_of_a(c.grad, b);
                  if (c.needs_input_grad(1)) grads[1] = gradient_of_b(a, c.grad, b);
                  return grads;
                });
}

Tensor addmm(const Tensor& c, const Tensor& a, const Tensor& b) {
  // d(C + AB) = dC + dA B + A dB  =>  gC = G (summed to C's shape by the engine), and gA, gB
  // as for matmul
  return record({.op = "addmm", .inputs = {c, a, b}, .save = {a, b}}, kernel::addmm(c, a, b),
                [](const BackwardContext& c) -> Grads {
                  const Tensor a = c.saved(0);
                  const Tensor b = c.saved(1);
                  Grads grads(3);
                  if (c.needs_input_grad(0)) grads[0] = c.grad;
                  if (c.needs_input_grad(1)) grads[1] = gradient_of_a(c.grad, b);
                  if (c.needs_input_grad(2)) grads[2] = gradient_of_b(a, c.grad, b);
                  return grads;
                });
}

}  // namespace tapegrad
