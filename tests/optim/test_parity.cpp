// Adam against PyTorch-generated fixtures (tests/fixtures/README.md): per step, the fixture's
// gradients are fed through set_grad and the parameters after the step must match within
// 1e-5 relative. adam_f32.json uses the Keras formulation (eps 1e-7, computed by hand in
// torch); adam_torch_f32.json is torch.optim.Adam itself (eps 1e-8, torch placement).
#include <cmath>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "helpers.hpp"

namespace tg = tapegrad;
using json = nlohmann::json;

namespace {

json read_fixture(const std::string& file) {
  std::ifstream in(std::string(TAPEGRAD_TEST_DATA_DIR) + "/" + file);
  REQUIRE(in.good());
  return json::parse(in);
}

// {"shape": [...], "data": [...]} -> f32 tensor (values are exact float32s stored as double).
tg::Tensor to_tensor(const json& j) {
  const auto shape = j.at("shape").get<std::vector<int64_t>>();
  std::vector<float> data;
  for (const json& x : j.at("data")) data.push_back(static_cast<float>(x.get<double>()));
  return tg::from_vector(data, tg::Shape(shape));
}

tg::NamedTensors to_params(const json& j) {
  tg::NamedTensors out;
  for (const auto& [name, value] : j.items()) out.emplace_back(name, to_tensor(value));
  return out;
}

// The largest |got - want| / max(|want|, 1e-3) over all parameters; the floor keeps entries
// that pass near zero from dominating.
double max_rel_error(const tg::NamedTensors& params, const json& expected) {
  double worst = 0.0;
  for (const auto& [name, p] : params) {
    const std::vector<float> got = p.to_vector<float>();
    const json& data = expected.at(name).at("data");
    REQUIRE(got.size() == data.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double want = data[i].get<double>();
      worst = std::max(worst, std::abs(got[i] - want) / std::max(std::abs(want), 1e-3));
    }
  }
  return worst;
}

void check_fixture(const std::string& file, tg::optim::AdamFormulation formulation) {
  const json fx = read_fixture(file);
  const json& o = fx.at("optimizer");
  const tg::NamedTensors params = to_params(fx.at("parameters"));
  tg::optim::Adam opt(params, {.lr = o.at("lr").get<double>(),
                               .beta1 = o.at("beta_1").get<double>(),
                               .beta2 = o.at("beta_2").get<double>(),
                               .eps = o.at("epsilon").get<double>(),
                               .formulation = formulation});
  const json& steps = fx.at("steps");
  REQUIRE(steps.size() == 3);
  for (std::size_t s = 0; s < steps.size(); ++s) {
    CAPTURE(s);
    for (const auto& [name, p] : params) p.set_grad(to_tensor(steps[s].at("gradients").at(name)));
    opt.step();
    const double err = max_rel_error(params, steps[s].at("parameters"));
    MESSAGE(file << " step " << s + 1 << ": max relative error " << err);
    CHECK(err < 1e-5);
  }
}

}  // namespace

TEST_CASE("Adam parity: Keras formulation (adam_f32.json)") {
  CHECK(read_fixture("adam_f32.json").at("optimizer").at("formulation") == "keras");
  check_fixture("adam_f32.json", tg::optim::AdamFormulation::keras);
}

TEST_CASE("Adam parity: torch.optim.Adam (adam_torch_f32.json)") {
  CHECK(read_fixture("adam_torch_f32.json").at("optimizer").at("formulation") == "torch");
  check_fixture("adam_torch_f32.json", tg::optim::AdamFormulation::torch);
}
