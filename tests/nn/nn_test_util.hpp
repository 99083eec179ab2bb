// Helpers shared by the nn/ suites. Gradients are checked through check_gradients.hpp's
// check_gradients(module, ...), which calls tg::nn::gradcheck.
#pragma once

#include <doctest/doctest.h>

#include <check_gradients.hpp>

namespace tg_test {

// max |a - b| over all elements, in f64.
inline double max_abs_diff(const tg::Tensor& a, const tg::Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto va = a.to(tg::f64).to_vector<double>();
  const auto vb = b.to(tg::f64).to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::abs(va[i] - vb[i]));
  return worst;
}

}  // namespace tg_test
