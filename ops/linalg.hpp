// Matrix products. matmul accepts (M,K)@(K,N), (...,M,K)@(K,N) (the leading axes fold into
// one GEMM: the input projection of all time steps of an RNN is a single call) and batched
// (B,M,K)@(B,K,N). The gradients are matmuls with transposed views, which BLAS reads through
// transpose flags without copying.
#pragma once

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace tapegrad
