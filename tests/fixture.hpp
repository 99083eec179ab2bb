// Reading the PyTorch-generated parity fixtures (tests/fixtures/*.json, schema in its README).
#pragma once

#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include <tapegrad/tapegrad.hpp>

namespace tg_test {

namespace tg = tapegrad;

inline nlohmann::json load_fixture(const std::string& name) {
  std::ifstream in(std::string(TAPEGRAD_TEST_DATA_DIR) + "/" + name);
  if (!in) throw std::runtime_error("missing fixture " + name);
  return nlohmann::json::parse(in);
}

// {"shape": [...], "data": [...]} as a tensor of the given dtype.
inline tg::Tensor fixture_tensor(const nlohmann::json& j, tg::DType dtype) {
  const tg::Shape shape(j.at("shape").get<std::vector<int64_t>>());
  return tg::from_vector(j.at("data").get<std::vector<double>>(), shape).to(dtype);
}

// Copies fixture values into the model's parameters, matched by name.
inline void load_parameters(tg::nn::Module& model, const nlohmann::json& params) {
  for (const auto& [name, p] : model.named_parameters()) {
    tg::kernel::copy_into(p, fixture_tensor(params.at(name), p.dtype()));
  }
}

// max |a - b| / max |b|: the error relative to the tensor's scale. (Element-wise relative
// error is meaningless for near-zero entries: PyTorch's own f32 gradients differ from its
// f64 ones by 1e-4 element-wise but by 2e-7 relative to the scale.)
inline double max_rel_error(const tg::Tensor& a, const tg::Tensor& b) {
  const auto va = a.to(tg::f64).to_vector<double>();
  const auto vb = b.to(tg::f64).to_vector<double>();
  REQUIRE(va.size() == vb.size());
  double worst = 0;
  double scale = 1e-300;
  for (std::size_t i = 0; i < va.size(); ++i) {
    worst = std::max(worst, std::abs(va[i] - vb[i]));
    scale = std::max(scale, std::abs(vb[i]));
  }
  return worst / scale;
}

}  // namespace tg_test
