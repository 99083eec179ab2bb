// Registering post-accumulate hooks; the engine (engine.cpp) runs them, and answers
// queue_backward_callback and backward_leaf_order, which need its running pass.
#include <tapegrad/autograd/backward_hooks.hpp>

#include <algorithm>
#include <atomic>

#include <tapegrad/core/error.hpp>

namespace tapegrad {
namespace {

std::atomic<std::uint64_t> next_hook_id{1};
std::atomic<std::int64_t> registered_hooks{0};

}  // namespace

HookHandle::HookHandle(std::weak_ptr<AutogradMeta> meta, std::uint64_t id)
    : meta_(std::move(meta)), id_(id) {}

HookHandle::HookHandle(HookHandle&& other) noexcept
    : meta_(std::move(other.meta_)), id_(std::exchange(other.id_, 0)) {}

HookHandle& HookHandle::operator=(HookHandle&& other) noexcept {
  if (this != &other) {
    remove();
    meta_ = std::move(other.meta_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

HookHandle::~HookHandle() {
  remove();
}

void HookHandle::remove() {
  if (id_ == 0) return;
  if (const auto meta = meta_.lock()) {
    std::erase_if(meta->post_accumulate_hooks,
                  [&](const auto& entry) { return entry.first == id_; });
  }
  --registered_hooks;
  id_ = 0;
}

HookHandle register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateHook hook) {
  AutogradMeta* meta = leaf.defined() ? autograd_meta(leaf) : nullptr;
  if (meta == nullptr || !meta->requires_grad || meta->producer) {
    throw_error<AutogradError>(
        "register_post_accumulate_grad_hook: the tensor{} is not a leaf that requires grad "
        "(a parameter); only a leaf's gradient is accumulated into .grad()",
        leaf.defined() ? fmt::format(" of shape {}", leaf.shape()) : std::string());
  }
  const std::uint64_t id = next_hook_id++;
  meta->post_accumulate_hooks.emplace_back(id, std::move(hook));
  ++registered_hooks;
  return {leaf.impl().autograd, id};
}

namespace detail {

bool post_accumulate_hooks_exist() {
  return registered_hooks.load(std::memory_order_relaxed) > 0;
}

}  // namespace detail
}  // namespace tapegrad
