// The one helper through which every op, cell, layer and loss test checks its gradients: of
// a function of tensors through tg::gradcheck, of a module through tg::nn::gradcheck.
#pragma once

#include <doctest/doctest.h>

#include <tapegrad/tapegrad.hpp>

namespace tg_test {

namespace tg = tapegrad;

// Gradchecks fn at inputs (f64 finite differences) and, unless first_order_only, its second
// derivatives too.
inline void check_gradients(const tg::DifferentiableFn& fn, const std::vector<tg::Tensor>& inputs,
                            bool first_order_only = false, const tg::GradcheckOptions& opts = {}) {
  const tg::GradcheckReport first = tg::gradcheck(fn, inputs, opts);
  INFO(first.message);
  CHECK(first.ok);
  if (first_order_only) return;
  const tg::GradcheckReport second = tg::gradgradcheck(fn, inputs, opts);
  INFO("second order: " << second.message);
  CHECK(second.ok);
}

// Guards against a vacuous check: every input and every parameter of `module` must receive
// a nonzero gradient of a random projection of fn's output.
inline void check_all_inputs_matter(tg::nn::Module& module, const tg::DifferentiableFn& fn,
                                    const std::vector<tg::Tensor>& inputs) {
  std::vector<tg::Tensor> leaves;
  for (const tg::Tensor& t : inputs) leaves.push_back(t.detach().clone().requires_grad_(true));
  const tg::Tensor y = fn(leaves);
  const tg::Tensor u = tg::uniform(y.shape(), 0.5, 1.5, y.dtype());
  std::vector<tg::Tensor> wrt = leaves;
  for (const tg::Tensor& p : module.parameters()) wrt.push_back(p);
  const std::vector<tg::Tensor> g = tg::grad({tg::sum(y * u)}, wrt, {.allow_unused = true});
  for (std::size_t i = 0; i < g.size(); ++i) {
    CAPTURE(i);
    REQUIRE(g[i].defined());
    CHECK(tg::max(tg::abs(g[i])).item() > 0.0);
  }
}

// Gradchecks fn (which computes with `module`) w.r.t. the inputs and every parameter of the
// module, through tg::nn::gradcheck, and unless first_order_only its second derivatives too;
// and checks that each of them matters.
inline void check_gradients(tg::nn::Module& module, const tg::DifferentiableFn& fn,
                            const std::vector<tg::Tensor>& inputs, bool first_order_only = false,
                            const tg::GradcheckOptions& opts = {}) {
  const tg::GradcheckReport first = tg::nn::gradcheck(module, fn, inputs, opts);
  INFO(first.message);
  CHECK(first.ok);
  if (!first_order_only) {
    const tg::GradcheckReport second = tg::nn::gradgradcheck(module, fn, inputs, opts);
    INFO("second order: " << second.message);
    CHECK(second.ok);
  }
  check_all_inputs_matter(module, fn, inputs);
}

// The same for module(x).
inline void check_gradients(tg::nn::Module& module, const tg::Tensor& x,
                            bool first_order_only = false, const tg::GradcheckOptions& opts = {}) {
  check_gradients(
      module, [&module](const std::vector<tg::Tensor>& in) { return module(in[0]); }, {x},
      first_order_only, opts);
}

// Inputs in [lo, hi), f64.
inline tg::Tensor uniform_f64(const tg::Shape& shape, double lo = -1.0, double hi = 1.0) {
  return tg::uniform(shape, lo, hi, tg::f64);
}

}  // namespace tg_test
