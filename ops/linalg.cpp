#include <tapegrad/ops/linalg.hpp>

#include <tapegrad/autograd/record.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/ops/shape.hpp>

namespace tapegrad {
namespace {

Tensor transpose_last(const Tensor& t) {
  return transpose(t, -1, -2);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  // d(AB) = dA B + A dB  =>  gA = G B^T,  gB = A^T G  (leading axes of A folded into rows)
  return record({.op = "matmul", .inputs = {a, b}, .save = {a, b}}, kernel::matmul(a, b),
                [](const BackwardContext& c) -> Grads {
                  const Tensor& a = c.saved(0);
                  const Tensor& b = c.saved(1);
                  Tensor ga;
                  Tensor gb;
                  if (c.needs_input_grad(0)) ga = matmul(c.grad, transpose_last(b));
                  if (c.needs_input_grad(1)) {
                    if (b.dim() == 2 && a.dim() > 2) {
                      const int64_t k = a.shape().back();
                      const int64_t n = b.shape()[1];
                      gb = matmul(transpose_last(reshape(a, {-1, k})), reshape(c.grad, {-1, n}));
                    } else {
                      gb = matmul(transpose_last(a), c.grad);
                    }
                  }
                  return {ga, gb};
                });
}

}  // namespace tapegrad
