// Small helpers shared by the optim suites: f64 parameters with given values, gradients
// set by hand, and values read back.
#pragma once

#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/core/core.hpp>
#include <tapegrad/optim/optim.hpp>

namespace tgtest {

namespace tg = tapegrad;

inline tg::Tensor param(const std::vector<double>& values) {
  tg::Tensor t = tg::from_vector(values, {static_cast<int64_t>(values.size())});
  t.requires_grad_(true);
  return t;
}

inline void set_grad(const tg::Tensor& p, const std::vector<double>& g) {
  p.set_grad(tg::from_vector(g, p.shape()));
}

inline std::vector<double> values(const tg::Tensor& t) {
  return t.to_vector<double>();
}

// Checks every element of t against `expected` to ~1e-12.
inline void check_values(const tg::Tensor& t, const std::vector<double>& expected) {
  const std::vector<double> got = values(t);
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-12));
  }
}

}  // namespace tgtest
