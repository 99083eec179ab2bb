// The one helper through which every op, cell and layer test checks its gradients.
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

// Inputs in [lo, hi), f64.
inline tg::Tensor uniform_f64(const tg::Shape& shape, double lo = -1.0, double hi = 1.0) {
  return tg::uniform(shape, lo, hi, tg::f64);
}

}  // namespace tg_test
