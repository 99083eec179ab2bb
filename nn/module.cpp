#include <tapegrad/nn/module.hpp>

#include <utility>

#include <tapegrad/core/kernels.hpp>

namespace tapegrad::nn {

Tensor Module::forward(const Tensor& x) {
  throw_error<ValueError>("{}: this module has no forward(x) (input shape {})", label(), x.shape());
}

Tensor Module::operator()(const Tensor& x) {
  NameScope scope(label());
  return detail::CallObserver::observe(*this, forward(x));
}

Tensor Module::forward_masked(const Tensor& x, const Tensor& /*mask*/) {
  return forward(x);
}

Tensor Module::operator()(const Tensor& x, const Tensor& mask) {
  NameScope scope(label());
  return detail::CallObserver::observe(*this,
                                       mask.defined() ? forward_masked(x, mask) : forward(x));
}

std::string Module::label() const {
  return key_.empty() ? type_name() : key_ + ":" + type_name();
}

void Module::check_new_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos) {
    throw_error<ValueError>("{}: invalid name '{}' (non-empty, no dots)", type_name(), name);
  }
  for (const auto& [n, p] : parameters_) {
    if (n == name) throw_error<ValueError>("{}: '{}' is already registered", type_name(), name);
  }
  for (const auto& [n, c] : children_) {
    if (n == name) throw_error<ValueError>("{}: '{}' is already registered", type_name(), name);
  }
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name);
  check_defined("register_parameter", value);
  value.requires_grad_(true);
  parameters_.emplace_back(name, value);
  return value;
}

void Module::adopt(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  if (!module) throw_error<ValueError>("{}: module '{}' is null", type_name(), name);
  module->key_ = name;
  children_.emplace_back(name, std::move(module));
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  // Explicit stack instead of recursion: (module, prefix), children pushed in reverse.
  std::vector<std::pair<const Module*, std::string>> todo{{this, ""}};
  while (!todo.empty()) {
    auto [m, prefix] = todo.back();
    todo.pop_back();
    for (const auto& [name, p] : m->parameters_) out.emplace_back(prefix + name, p);
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it) {
      todo.emplace_back(it->second.get(), prefix + it->first + ".");
    }
  }
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

void Module::zero_grad() {
  for (const Tensor& p : parameters()) p.set_grad(Tensor());
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::to(DType dtype) {
  for (const Tensor& p : parameters()) {
    if (p.dtype() == dtype) continue;
    const Tensor converted = p.to(dtype);
    TensorImpl& impl = p.impl();
    impl.storage = converted.impl().storage;
    impl.strides = converted.strides();
    impl.offset = 0;
    impl.dtype = dtype;
    p.set_grad(Tensor());
  }
}

DType Module::dtype() const {
  // named_parameters()'s first, found without listing (and naming) them all: a cell asks at
  // every layer call, once per step of a one-step-at-a-time forecast.
  const auto first = [](const auto& self, const Module& m) -> const Tensor* {
    if (!m.parameters_.empty()) return &m.parameters_.front().second;
    for (const auto& [name, child] : m.children_) {
      if (const Tensor* p = self(self, *child)) return p;
    }
    return nullptr;
  };
  const Tensor* p = first(first, *this);
  return p != nullptr ? p->dtype() : f32;
}

namespace detail {
namespace {
thread_local CallObserver* innermost_observer = nullptr;
}  // namespace

CallObserver::CallObserver(OnCall on_call)
    : on_call_(std::move(on_call)), outer_(innermost_observer) {
  innermost_observer = this;
}

CallObserver::~CallObserver() {
  innermost_observer = outer_;
}

const Tensor& CallObserver::observe(const Module& module, const Tensor& output) {
  if (innermost_observer != nullptr) innermost_observer->on_call_(module, output);
  return output;
}

}  // namespace detail

int64_t positive_size(const char* layer, const char* argument, int64_t value) {
  if (value <= 0)
    throw_error<ValueError>("{}: {} must be positive, got {}", layer, argument, value);
  return value;
}

}  // namespace tapegrad::nn
