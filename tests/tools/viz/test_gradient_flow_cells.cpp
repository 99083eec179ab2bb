// gradient_flow reads each step's h_t, for every built-in cell: a fused LSTM step makes h and
// c as views of one op's output, and the report must not read c.
#include <doctest/doctest.h>

#include <memory>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

TEST_CASE("gradient_flow: the last step's norm is |dL/dh| of the layer's output, for every cell") {
  tg::manual_seed(21);
  const std::vector<std::shared_ptr<tg::nn::RNN>> layers = {
      std::make_shared<tg::nn::SimpleRNN>(3, 5), std::make_shared<tg::nn::LSTM>(3, 5),
      std::make_shared<tg::nn::GRU>(3, 5)};
  for (const auto& layer : layers) {
    CAPTURE(layer->label());
    const tg::Tensor u = tg::randn({2, 5});
    const tg::Tensor loss = tg::sum((*layer)(tg::randn({2, 4, 3})) * u);  // dL/dh_3 = u
    const std::vector<tg::tools::StepGradient> flow = tg::tools::gradient_flow(loss);
    REQUIRE(flow.size() == 4);
    CHECK(flow.back().step == 3);
    const double expected = std::sqrt(tg::sum(u * u).item());
    CHECK(flow.back().norm == doctest::Approx(expected).epsilon(1e-6));
  }
}
