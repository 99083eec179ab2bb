// Helpers shared by the nn/ suites: running a module on gradcheck's own f64 leaves.
#pragma once

#include <doctest/doctest.h>

#include <check_gradients.hpp>

namespace tg_test {

// Makes a module compute with given tensors in place of its parameters, so that
// tg::gradcheck (which passes fresh f64 leaves on every call) can differentiate a module
// with respect to its parameters.
//
// Why assigning the TensorImpl is correct: a parameter is a handle on one TensorImpl shared
// by the module's registry and its members (cell.kernel, ...). Copying the given tensor's
// TensorImpl fields into it (storage, shape, strides, offset, dtype AND the AutogradMeta
// pointer) makes every member read the given data, and since the engine identifies a leaf
// by its AutogradMeta, the ops recorded with the parameter send their gradients to the
// given leaf. Saved tensors in records hold the parameter handle, so the binding must stay
// in force until the backward pass of that forward is over: bind() inside fn and never
// unbind there; the originals come back when the ParameterBinding is destroyed, after the
// check.
class ParameterBinding {
 public:
  explicit ParameterBinding(const tg::nn::Module& module) : params_(module.parameters()) {
    for (const tg::Tensor& p : params_) {
      originals_.push_back(p.impl());
      initial_values_.push_back(p.detach().clone());
    }
  }
  ~ParameterBinding() {
    for (std::size_t i = 0; i < params_.size(); ++i) params_[i].impl() = originals_[i];
  }
  ParameterBinding(const ParameterBinding&) = delete;
  ParameterBinding& operator=(const ParameterBinding&) = delete;

  std::size_t size() const { return params_.size(); }

  // values[first + i] becomes parameter i.
  void bind(const std::vector<tg::Tensor>& values, std::size_t first = 0) const {
    REQUIRE(values.size() >= first + params_.size());
    for (std::size_t i = 0; i < params_.size(); ++i) {
      REQUIRE(values[first + i].shape() == params_[i].shape());
      params_[i].impl() = values[first + i].impl();
    }
  }

  // Copies of the parameters' values before any binding, for gradcheck's input list.
  const std::vector<tg::Tensor>& values() const { return initial_values_; }

 private:
  std::vector<tg::Tensor> params_;
  std::vector<tg::TensorImpl> originals_;
  std::vector<tg::Tensor> initial_values_;
};

// max |a - b| over all elements, in f64.
inline double max_abs_diff(const tg::Tensor& a, const tg::Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto va = a.to(tg::f64).to_vector<double>();
  const auto vb = b.to(tg::f64).to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::abs(va[i] - vb[i]));
  return worst;
}

// Guards against a vacuous check: every input of fn (the module's input and each bound
// parameter) must receive a nonzero gradient of a random projection of fn's output.
inline void check_all_inputs_matter(const tg::DifferentiableFn& fn,
                                    const std::vector<tg::Tensor>& inputs) {
  std::vector<tg::Tensor> leaves;
  for (const tg::Tensor& t : inputs) leaves.push_back(t.detach().clone().requires_grad_(true));
  const tg::Tensor y = fn(leaves);
  const tg::Tensor u = tg::uniform(y.shape(), 0.5, 1.5, y.dtype());
  const std::vector<tg::Tensor> g = tg::grad({tg::sum(y * u)}, leaves, {.allow_unused = true});
  for (std::size_t i = 0; i < g.size(); ++i) {
    CAPTURE(i);
    REQUIRE(g[i].defined());
    CHECK(max_abs_diff(g[i], tg::zeros_like(g[i])) > 0.0);
  }
}

// Gradchecks module(x) (or post(module(x)) with respect to x and every parameter, in f64.
inline void check_module_gradients(
    tg::nn::Module& module, const tg::Tensor& x, bool first_order_only = false,
    const std::function<tg::Tensor(const tg::Tensor&)>& post = nullptr) {
  ParameterBinding binding(module);
  std::vector<tg::Tensor> inputs{x};
  for (const tg::Tensor& v : binding.values()) inputs.push_back(v);
  const tg::DifferentiableFn fn = [&](const std::vector<tg::Tensor>& in) {
    binding.bind(in, 1);
    const tg::Tensor y = module(in[0]);
    return post ? post(y) : y;
  };
  check_gradients(fn, inputs, first_order_only);
  check_all_inputs_matter(fn, inputs);
}

}  // namespace tg_test
