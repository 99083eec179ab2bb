// The autograd methods of tg::Tensor (declared in core/tensor.hpp).
#include <tapegrad/autograd/autograd_meta.hpp>
#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/autograd/record.hpp>

namespace tapegrad {
namespace {

AutogradMeta& ensure_meta(const Tensor& t) {
  auto& meta = t.impl().autograd;
  if (!meta) meta = make_cached<AutogradMeta>();
  return *meta;
}

}  // namespace

bool Tensor::requires_grad() const {
  return needs_grad(*this);
}

Tensor& Tensor::requires_grad_(bool on) {
  AutogradMeta* meta = autograd_meta(*this);
  if (meta != nullptr && meta->producer) {
    throw_error<ValueError>(
        "requires_grad_: the tensor of shape {} was computed by {}; only leaves can change "
        "requires_grad (use detach() for a new leaf)",
        shape(), meta->producer->op());
  }
  if (on && dtype() != f32 && dtype() != f64)
    throw DTypeError("requires_grad_: needs a float dtype");
  ensure_meta(*this).requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const {
  const AutogradMeta* meta = autograd_meta(*this);
  return meta == nullptr || !meta->producer;
}

Tensor Tensor::grad() const {
  const AutogradMeta* meta = autograd_meta(*this);
  return meta != nullptr ? meta->grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined() && !(g.shape() == shape())) {
    throw_error<ShapeError>("set_grad: gradient of shape {} for a tensor of shape {}", g.shape(),
                            shape());
  }
  ensure_meta(*this).grad = g;
}

void Tensor::backward(bool retain_graph) const {
  tapegrad::backward({*this}, {}, {.retain_graph = retain_graph});
}

Tensor Tensor::detach() const {
  return make_view(*this, shape(), strides(), offset());
}

void Tensor::register_hook(std::function<Tensor(const Tensor&)> fn) const {
  if (!requires_grad()) {
    throw_error<AutogradError>(
        "register_hook: the tensor of shape {} does not require grad, so no gradient will reach "
        "the hook",
        shape());
  }
  AutogradMeta& meta = ensure_meta(*this);
  if (meta.producer) {
    meta.producer->add_hook(std::move(fn));
  } else {
    meta.hooks.push_back(std::move(fn));
  }
}

void Tensor::retain_grad() const {
  if (!requires_grad()) {
    throw_error<AutogradError>("retain_grad: the tensor of shape {} does not require grad",
                               shape());
  }
  ensure_meta(*this).retains_grad = true;
}

}  // namespace tapegrad
