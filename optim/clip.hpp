// Gradient clipping.
//
// Two families, with the semantics of the library each comes from:
//
//   clip_grad_norm / clip_grad_value   free functions, PyTorch's torch.nn.utils ones: they
//                                      replace p.grad() of the given parameters; call them
//                                      between backward() and step().
//   clipnorm / clipvalue /             options of every optimizer (Keras's), applied by
//   global_clipnorm                    step() to the gradients it is about to use, leaving
//                                      p.grad() untouched.
//
// Clipped gradients are new tensors, never written in place: a leaf's .grad() may share
// storage with another tensor (the engine passes a gradient through `a + b` to both inputs
// unchanged), so scaling it in place could clip a gradient twice or alter user data.
// Norms are accumulated in double whatever the dtype. Parameters without a gradient are
// skipped.
#pragma once

#include <tapegrad/optim/params.hpp>

namespace tapegrad::optim {

// Scales all gradients together so that their global L2 norm is at most max_norm (factor
// max_norm / (norm + 1e-6) when norm > max_norm, as PyTorch does). Returns the global norm
// before clipping.
double clip_grad_norm(const ParamList& params, double max_norm);

// Clamps every gradient element to [-clip_value, clip_value].
void clip_grad_value(const ParamList& params, double clip_value);

// The global L2 norm of the defined gradients in `grads` (undefined entries are skipped).
double global_norm(const std::vector<Tensor>& grads);
// The L2 norm of one tensor.
double l2_norm(const Tensor& t);

}  // namespace tapegrad::optim
