#include <doctest/doctest.h>

#include <algorithm>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>
#include <tools/viz/svg_util.hpp>

namespace tg = tapegrad;

namespace {

// Two stacked SimpleRNNs over 6 steps; the loss reaches every parameter.
struct StackedRnn {
  tg::nn::Sequential model;
  tg::Tensor loss;
  StackedRnn() : model(build()) { loss = tg::mean(tg::square(model(tg::rand({3, 6, 1})) - 0.5)); }
  static tg::nn::Sequential build() {
    tg::manual_seed(11);
    return tg::nn::Sequential{tg::nn::SimpleRNN(1, 4, {.return_sequences = true}),
                              tg::nn::SimpleRNN(4, 3), tg::nn::Dense(3, 1)};
  }
};

std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("gradient_flow_report: the steps of gradient_flow and dL/dW per named parameter") {
  StackedRnn net;
  const tg::NamedTensors params = net.model.named_parameters();
  const tg::tools::GradientFlow flow = tg::tools::gradient_flow_report(net.loss, params);
  const auto steps = tg::tools::gradient_flow(net.loss);
  REQUIRE(flow.steps.size() == 12);  // 2 layers x 6 steps
  REQUIRE(flow.steps.size() == steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) CHECK(flow.steps[i].norm == steps[i].norm);

  // The norms are those of the gradients backward leaves in .grad().
  REQUIRE(flow.parameters.size() == params.size());
  net.loss.backward();
  for (std::size_t i = 0; i < params.size(); ++i) {
    CAPTURE(params[i].first);
    CHECK(flow.parameters[i].name == params[i].first);
    const double expected = tg::sqrt(tg::sum(tg::square(params[i].second.grad()))).item();
    CHECK(flow.parameters[i].norm == doctest::Approx(expected).epsilon(1e-5));
    CHECK(flow.parameters[i].norm > 0);
  }
}

TEST_CASE("gradient_flow_report: a parameter the loss does not reach has norm 0") {
  StackedRnn net;
  tg::Tensor unused = tg::ones({2}).requires_grad_();
  const auto flow = tg::tools::gradient_flow_report(net.loss, {{"unused", unused}});
  REQUIRE(flow.parameters.size() == 1);
  CHECK(flow.parameters[0].norm == 0);
}

TEST_CASE("gradient flow write_csv: one row per layer and step; parameters in a second file") {
  StackedRnn net;
  const auto flow = tg::tools::gradient_flow_report(net.loss, net.model.named_parameters());
  tg_test::ScratchDir dir("flow");
  const std::string parameters = tg::tools::write_csv(flow, dir / "flow.csv");
  CHECK(parameters == dir / "flow_parameters.csv");
  const std::string steps = tg_test::read_file(dir / "flow.csv");
  CHECK(steps.rfind("layer,step,norm\n", 0) == 0);
  CHECK(line_count(steps) == 1 + 12);
  CHECK(tg_test::contains(steps, "Sequential/1:SimpleRNN,5,"));
  const std::string params = tg_test::read_file(parameters);
  CHECK(params.rfind("parameter,norm\n", 0) == 0);
  CHECK(line_count(params) == 1 + 8);  // 2 x (kernel, recurrent_kernel, bias) + Dense's 2
  CHECK(tg_test::contains(params, "\n0.cell.recurrent_kernel,"));
}

TEST_CASE("gradient flow write_chart: one line per layer call with a point per step") {
  StackedRnn net;
  const auto flow = tg::tools::gradient_flow_report(net.loss, {});
  tg_test::ScratchDir dir("flow");
  tg::tools::write_chart(flow, dir / "flow.svg", "stacked");
  const std::string svg = tg_test::read_file(dir / "flow.svg");
  const auto lines = tg_test::svg_coloured_lines(svg);
  REQUIRE(lines.size() == 4);  // 2 data lines, 2 legend samples
  CHECK(lines[0].points == 6);
  CHECK(lines[1].points == 6);
  const auto texts = tg_test::svg_texts(svg);
  CHECK(std::find(texts.begin(), texts.end(), "Sequential/0:SimpleRNN") != texts.end());
  CHECK(std::find(texts.begin(), texts.end(), "stacked") != texts.end());
  CHECK_THROWS_AS(tg::tools::write_chart(flow, dir / "flow.gif"), tg::ValueError);
}
