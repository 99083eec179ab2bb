// Backward: reverse-mode differentiation over the tape.
//
// The engine seeds the roots' gradients, then walks the tape from the newest root back to
// older records. A record whose output received a gradient runs its rule: first the hooks
// registered on its output tensor (which may replace the gradient), then the rule, then each
// input's gradient is summed back to the input's shape (if the op broadcast it) and added to
// the producer's pending gradient, or to the leaf's. Since records are visited newest first,
// every consumer of a tensor has contributed before the tensor's own record runs, so a
// record's gradient is complete when it is reached. A record's gradient is dropped as soon
// as its rule consumed it; the walk stops once no gradient is pending.
//
// The pending sums belong to the pass, not to the records (a pass run from inside another,
// by a hook or a checkpointed layer's recompute, sums its own), and the pass finishes every
// special form a rule may return (record.hpp's InputGradient): slices are written into their
// part of the sum, and products are multiplied straight into it.
//
// Without retain_graph, each visited record frees its saved tensors; going through it again
// throws an error that says how to fix it. With create_graph, the rules run with grad mode
// on, so the gradients come out as differentiable tensors (Hessian-vector products).
#pragma once

#include <optional>
#include <unordered_map>
#include <vector>

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

struct GradOptions {
  // Keep saved tensors so the graph can be backpropagated again. Defaults to create_graph.
  std::optional<bool> retain_graph = {};
  // Record the backward pass itself, for higher-order derivatives.
  bool create_graph = false;
  // Return an undefined tensor for inputs that the outputs do not depend on (else throw).
  bool allow_unused = false;
};

// d(sum of outputs[i] * grad_outputs[i]) / d inputs, without touching .grad().
// grad_outputs may be empty when every output has one element (then ones are used).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const GradOptions& opts = {},
                         const std::vector<Tensor>& grad_outputs = {});

// Accumulates d(sum of roots[i] * grad_roots[i]) into .grad() of every leaf that requires grad.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grad_roots = {},
              const GradOptions& opts = {});

class Record;
struct AutogradMeta;

// The L2 norm of the gradient of `root` with respect to every record output and every leaf
// it reaches: what graph dumps and gradient-flow reports show. Runs a backward pass that
// retains the graph and leaves .grad() untouched.
struct GradientNorms {
  std::unordered_map<const Record*, double> outputs;
  std::unordered_map<const AutogradMeta*, double> leaves;
};
GradientNorms gradient_norms(const Tensor& root);

}  // namespace tapegrad
