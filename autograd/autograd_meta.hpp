// The autograd half of a tensor. core/ holds only a pointer to it (TensorImpl::autograd).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <tapegrad/core/allocator.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

class Record;

// Reads a gradient, or replaces it by returning a defined tensor of the same shape.
using GradHook = std::function<Tensor(const Tensor&)>;
// Called with a leaf's .grad() once backward has added the pass's gradient (backward_hooks.hpp).
using PostAccumulateHook = std::function<void(const Tensor& grad)>;

struct AutogradMeta {
  bool requires_grad = false;
  // The record that produced this tensor; null for a leaf.
  std::shared_ptr<Record> producer;
  // Accumulated gradient: leaves, and non-leaves that asked for retain_grad().
  Tensor grad;
  bool retains_grad = false;
  // Hooks of a leaf. A non-leaf's hooks live on its producer record, so they fire even when
  // the program has let go of the tensor before backward (as PyTorch keeps them on grad_fn).
  std::vector<GradHook> hooks;
  // A leaf's post-accumulate hooks, by the id their HookHandle removes them with.
  std::vector<std::pair<std::uint64_t, PostAccumulateHook>> post_accumulate_hooks;
};

// The meta of t, or null when t carries none.
inline AutogradMeta* autograd_meta(const Tensor& t) {
  return t.impl().autograd.get();
}

inline bool needs_grad(const Tensor& t) {
  const AutogradMeta* m = t.defined() ? autograd_meta(t) : nullptr;
  return m != nullptr && m->requires_grad;
}

}  // namespace tapegrad
