// Helpers shared by the nn/ suites. Gradients are checked through check_gradients.hpp's
// check_gradients(module, ...), which calls tg::nn::gradcheck.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <check_gradients.hpp>
#include <test_util.hpp>

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

// (B, T) 1/0 from the lengths of post-padded samples.
inline tg::Tensor mask_of(const std::vector<int64_t>& lengths, int64_t steps, tg::DType dtype) {
  std::vector<double> m;
  for (int64_t length : lengths) {
    for (int64_t t = 0; t < steps; ++t) m.push_back(t < length ? 1 : 0);
  }
  return tg::from_vector(m, {static_cast<int64_t>(lengths.size()), steps}).to(dtype);
}

// Gradients of a model's parameters under torch's names: copied into `holder` (a model of
// the same layout, whose parameters they overwrite) and written by nn::export_torch.
inline std::map<std::string, tg::Tensor> torch_named(tg::nn::Module& holder,
                                                     const std::vector<tg::Tensor>& grads) {
  const std::vector<tg::Tensor> params = holder.parameters();
  REQUIRE(params.size() == grads.size());
  for (std::size_t i = 0; i < params.size(); ++i) tg::kernel::copy_into(params[i], grads[i]);
  ScratchDir dir("tg-torch-named");
  const std::string path = dir / "grads.safetensors";
  tg::nn::export_torch(holder, path);
  return tg::load_safetensors(path);
}

}  // namespace tg_test
