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

namespace {

// A user's LSTM cell that makes its state tensors as views of the fused gates' output, h's
// before c's or after: the RNN marks h_t when the step returns, whichever record came last.
struct ViewsLSTMCell : tg::nn::Cell {
  ViewsLSTMCell(const tg::nn::LSTMCell& like, bool h_first)
      : kernel(register_parameter("kernel", like.kernel.detach().clone())),
        recurrent_kernel(
            register_parameter("recurrent_kernel", like.recurrent_kernel.detach().clone())),
        bias(register_parameter("bias", like.bias.detach().clone())),
        h_first_(h_first) {}

  int64_t units() const override { return recurrent_kernel.shape()[0]; }
  tg::nn::State initial_state(int64_t batch) const override {
    return {tg::zeros({batch, units()}, tg::f64), tg::zeros({batch, units()}, tg::f64)};
  }
  tg::nn::State step(const tg::Tensor& x, const tg::nn::State& s) override {
    const tg::Tensor z = tg::matmul(x, kernel) + tg::matmul(s[0], recurrent_kernel) + bias;
    const tg::Tensor y = tg::lstm_gates(z, s[1]);
    if (h_first_) {
      const tg::Tensor h = tg::select(y, 0, 0);
      return {h, tg::select(y, 0, 1)};
    }
    const tg::Tensor c = tg::select(y, 0, 1);
    return {tg::select(y, 0, 0), c};
  }

  tg::Tensor kernel, recurrent_kernel, bias;

 private:
  bool h_first_;
};

}  // namespace

TEST_CASE("gradient_flow: a custom cell making h before c reads as the built-in LSTM does") {
  tg::manual_seed(22);
  tg::nn::LSTM builtin(3, 5, {}, tg::f64);
  const tg::Tensor x = tg::randn({2, 4, 3}, tg::f64);
  const tg::Tensor u = tg::randn({2, 5}, tg::f64);
  const auto flow_of = [&](tg::nn::RNN& layer) {
    return tg::tools::gradient_flow(tg::sum(layer(x) * u));  // dL/dh_3 = u
  };
  const std::vector<tg::tools::StepGradient> expected = flow_of(builtin);
  const auto& cell = dynamic_cast<const tg::nn::LSTMCell&>(builtin.cell());
  for (const bool h_first : {true, false}) {
    CAPTURE(h_first);
    tg::nn::RNN custom(std::make_shared<ViewsLSTMCell>(cell, h_first));
    const std::vector<tg::tools::StepGradient> flow = flow_of(custom);
    REQUIRE(flow.size() == expected.size());
    for (std::size_t i = 0; i < flow.size(); ++i) {
      CAPTURE(i);
      CHECK(flow[i].step == expected[i].step);
      CHECK(flow[i].norm == doctest::Approx(expected[i].norm).epsilon(1e-12));
    }
    CHECK(flow.back().norm == doctest::Approx(std::sqrt(tg::sum(u * u).item())).epsilon(1e-12));
  }
}
