// Hooks for code that must act while backward runs rather than after it returns.
//
// A data-parallel wrapper (tg::dist::DataParallel) sends each parameter's gradient to the
// other ranks as soon as that gradient is complete, so that the sending overlaps the rest of
// backward, and it needs one last word when the pass is over to wait for what is still in
// flight. PyTorch gives DDP the same two things: Tensor.register_post_accumulate_grad_hook
// and the engine's queue_callback.
//
// When a leaf's gradient is complete: once every record that reads the leaf has run its rule.
// A pass that must call such hooks counts, before it starts, the edges from the records it
// can reach to each leaf (PyTorch's engine counts dependencies the same way); as the walk
// runs each of those rules, the leaf's count falls, and at zero its gradient is added to
// .grad() and its hooks run, in the middle of the pass. The count is only taken when some
// leaf has such a hook, so backward costs nothing more without them. A leaf whose count does
// not reach zero (a rule returned no gradient for some input) is finished with the others
// at the end of the pass, as every leaf is without hooks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <tapegrad/autograd/autograd_meta.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

// Removes its hook when destroyed or when remove() is called; the hook outliving the object
// it calls back into would be a dangling call.
class HookHandle {
 public:
  HookHandle() = default;
  HookHandle(std::weak_ptr<AutogradMeta> meta, std::uint64_t id);
  HookHandle(HookHandle&& other) noexcept;
  HookHandle& operator=(HookHandle&& other) noexcept;
  HookHandle(const HookHandle&) = delete;
  HookHandle& operator=(const HookHandle&) = delete;
  ~HookHandle();
  void remove();

 private:
  std::weak_ptr<AutogradMeta> meta_;
  std::uint64_t id_ = 0;
};

// `leaf` must be a leaf that requires grad (a parameter); else AutogradError. The hook runs
// in backward (not in grad(), which leaves .grad() alone), on the thread running it, as soon
// as the leaf's gradient for this pass is complete.
[[nodiscard]] HookHandle register_post_accumulate_grad_hook(const Tensor& leaf,
                                                            PostAccumulateHook hook);

// Only from a hook of a running backward pass: `fn` runs once that pass has finished every
// leaf, just before backward() returns; callbacks run in the order queued. Else AutogradError.
void queue_backward_callback(std::function<void()> fn);

// Only from a hook of a running backward pass: the leaves this pass reaches, in the order
// their gradients complete (the order the post-accumulate hooks fire in, known before the
// first rule runs). Else AutogradError.
std::vector<const AutogradMeta*> backward_leaf_order();

namespace detail {
// Whether any post-accumulate hook is registered in the process (the engine counts leaf
// uses only then).
bool post_accumulate_hooks_exist();
}  // namespace detail

}  // namespace tapegrad
