// Matrix products. matmul accepts (M,K)@(K,N), (...,M,K)@(K,N) (the leading axes fold into
// one GEMM: the input projection of all time steps of an RNN is a single call) and batched
// (B,M,K)@(B,K,N). The gradients are matmuls with transposed views, which BLAS reads through
// transpose flags without copying.
#pragma once

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

Tensor matmul(const Tensor& a, const Tensor& b);
// c + a @ b in one GEMM (BLAS's beta = 1 onto a copy of c): a (M,K) or (...,M,K), b (K,N),
// c broadcasting to the result, e.g. a bias (N) or one step's input projection (M,N). The
// cells' pre-activations x W + b and p_t + h U.
Tensor addmm(const Tensor& c, const Tensor& a, const Tensor& b);

}  // namespace tapegrad
