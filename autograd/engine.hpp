// Backward: reverse-mode differentiation over records.
//
// Records (record.hpp). Each differentiable op leaves one record: its gradient rule, the
// tensors the rule reads, and per input an edge to where that input's gradient goes: the
// record that produced the input, or the leaf's AutogradMeta. The records reachable from a
// tensor through the edges are its graph; backward reads nothing else (not the tape).
//
// Slots by sequence number. Records are numbered in creation order (Record::seq), and an op's
// inputs exist before it runs, so every consumer of a record has a higher number than it. A
// pass (BackwardPass) numbers its slots from the newest root down: slot i waits for the
// record numbered start - 1 - i. Seeding a root fills its slot; running a rule adds each
// input's gradient into the slot of the input's producer (filling it on first arrival) or
// into the leaf's sum. The walk visits the filled slots in order, so a record is reached
// after all its consumers, with its gradient complete, and it stops once none is left. A
// slot holds its record alive (its consumers may die before the walk arrives). A record's
// place is its number: no sort, no search; a nested pass (a checkpoint's recompute) starts
// at the newest numbers and needs slots for its own few records only.
//
// A visit: the hooks on the record's output run first (they may replace its gradient), then
// retain_grad and grad's captured inputs see it, then the rule returns one gradient per input
// and the pass adds each to its sum. Leaves are finished last: their hooks, then .grad
// (backward) or the captured result (grad); a leaf with post-accumulate hooks is finished as
// soon as its last reader has run instead (backward_hooks.hpp). Without retain_graph each visited
// record frees its saved tensors; visiting it again throws, naming the fix. With create_graph the
// rules run with grad mode on, so the gradients come out recorded (Hessian-vector products).
//
// Gradient forms (record.hpp's InputGradient), each finished here, where the sums are:
//  - dense: a tensor of the input's shape, or one that broadcasts to it, which is summed
//    back to the input's shape here, so that no rule reduces a broadcast itself;
//  - slice: the values of one slice of the input, added into that slice of the sum in place:
//    an unrolled layer's input gets one slice per step, and zeros of the whole input for
//    each would make backward quadratic in the steps;
//  - product: left @ right, multiplied into the sum by one accumulating GEMM: a recurrent
//    weight gets one product per step, each of which would otherwise need a temporary, a
//    zero fill and an add.
// A sum keeps its first contribution as given (it may alias another tensor) and makes a
// dense buffer of its own at the first addition, which later ones are written into. Under
// create_graph every sum is a recorded op instead, and the special forms are written with
// their ops' formulas (InputGradient::recorded), so the gradients stay differentiable.
//
// The sums belong to the pass, not to the records: a pass run from inside another (by a
// hook, or by a checkpoint's backward) keeps its own. gradient_norms is a pass that notes
// the norm of each finished gradient instead of keeping it.
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
