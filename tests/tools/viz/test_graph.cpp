#include <doctest/doctest.h>

#include <sstream>
#include <thread>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;

namespace {

tg::nn::Sequential seeded_model() {
  tg::manual_seed(7);
  return tg::nn::Sequential{tg::nn::SimpleRNN(1, 3), tg::nn::Dense(3, 1)};
}

// A 4-step RNN and its loss, the same on every construction.
struct TinyRnn {
  tg::nn::Sequential model = seeded_model();
  tg::Tensor loss = tg::mean(tg::square(model(tg::rand({2, 4, 1})) - 0.5));
};

std::string dot_of(const tg::Tensor& loss, const tg::tools::DotOptions& opts) {
  std::ostringstream out;
  tg::tools::write_dot(loss, out, opts);
  return out.str();
}

}  // namespace

TEST_CASE("write_dot: one cluster per time step, named parameters, deterministic ids") {
  TinyRnn net;
  const std::string dot = dot_of(net.loss, {.names = net.model.named_parameters()});
  CHECK(dot.rfind("digraph tapegrad {", 0) == 0);
  CHECK(tg_test::contains(dot, "label=\"Sequential/0:SimpleRNN\""));  // the layer call's box
  for (int t = 0; t < 4; ++t) {
    CHECK(tg_test::contains(dot, "label=\"step " + std::to_string(t) + "\""));
  }
  CHECK(tg_test::contains(dot, "0.cell.recurrent_kernel\\n[3,3]"));
  CHECK(tg_test::contains(dot, "1.kernel\\n[3,1]"));
  CHECK(tg_test::contains(dot, "r0 ["));
  // Same program, same file: ids come from tape order, not addresses.
  TinyRnn again;
  CHECK(dot_of(again.loss, {.names = again.model.named_parameters()}) == dot);
}

TEST_CASE("write_dot with gradient norms leaves .grad() untouched and shows vanishing") {
  TinyRnn net;
  const std::string dot = dot_of(net.loss, {.show_grads = true});
  CHECK(tg_test::contains(dot, "|grad|"));
  for (const tg::Tensor& p : net.model.parameters()) CHECK_FALSE(p.grad().defined());
  net.loss.backward();  // the graph was retained for this
  CHECK(net.model.parameters()[0].grad().defined());
}

TEST_CASE("render writes svg through Graphviz; bad extension throws") {
  TinyRnn net;
  const tg_test::ScratchDir dir("tapegrad-graph");
  const std::string svg = dir / "graph.svg";
  tg::tools::render(net.loss, svg);
  const std::string content = tg_test::read_file(svg);
  CHECK(tg_test::contains(content, "<svg"));
  CHECK(tg_test::contains(content, "tanh"));
  CHECK_THROWS_AS(tg::tools::render(net.loss, dir / "graph.xyz"), tg::ValueError);
  CHECK_THROWS_AS(tg::tools::write_dot(tg::ones({1}), dir / "g.dot"), tg::ValueError);
}

TEST_CASE("gradient flow: one row per step; a plain tanh RNN's gradient shrinks towards t0") {
  tg::manual_seed(3);
  tg::nn::SimpleRNN rnn(1, 8);
  tg::kernel::copy_into(rnn.cell().parameters()[1], tg::nn::init::orthogonal({8, 8}) * 0.5);
  const tg::Tensor loss = tg::sum(rnn(tg::rand({4, 12, 1})));
  const auto rows = tg::tools::gradient_flow(loss);
  REQUIRE(rows.size() == 12);
  CHECK(rows[0].layer == "SimpleRNN");
  CHECK(rows[0].step == 0);
  CHECK(rows[11].step == 11);
  // A contracting recurrent kernel: each step back multiplies the gradient by < 1.
  CHECK(rows[0].norm < rows[11].norm * 1e-2);
  std::ostringstream table;
  tg::tools::print_gradient_flow(loss, table);
  CHECK(tg_test::contains(table.str(), "|dL/dh_t|"));
}

TEST_CASE("graph dumps of a graph another thread recorded are an error, not a use-after-free") {
  tg::Tensor x = tg::tensor({0.5, -1.0}).requires_grad_();
  tg::Tensor y;
  std::thread([&] { y = tg::sum(tg::tanh(x)); }).join();  // the recording thread has ended
  std::ostringstream out;
  CHECK_THROWS_WITH_AS(tg::tools::write_dot(y, out), doctest::Contains("write_dot: the graph"),
                       tg::AutogradError);
  CHECK_THROWS_WITH_AS(tg::tools::gradient_flow(y), doctest::Contains("recorded on another thread"),
                       tg::AutogradError);
}
