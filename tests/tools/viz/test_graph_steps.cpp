// Time steps are fields of the records (TimeStepScope), not parts of scope strings.
#include <doctest/doctest.h>

#include <set>
#include <sstream>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;

namespace {

std::string dot_of(const tg::Tensor& loss, const tg::tools::DotOptions& opts = {}) {
  std::ostringstream out;
  tg::tools::write_dot(loss, out, opts);
  return out.str();
}

}  // namespace

TEST_CASE("graph dumps: a user's NameScope named like a step is not a time step") {
  tg::Tensor x = tg::tensor({0.5, -1.0}).requires_grad_();
  tg::Tensor loss;
  {
    tg::NameScope layer("rnn1");
    tg::NameScope step("t2");
    loss = tg::sum(tg::tanh(x));
  }
  CHECK(loss.impl().autograd->producer->scope() == "rnn1/t2");
  CHECK_FALSE(loss.impl().autograd->producer->time_step().in_layer());
  CHECK(tg::tools::gradient_flow(loss).empty());
  const std::string dot = dot_of(loss);
  CHECK_FALSE(tg_test::contains(dot, "subgraph cluster_0"));
  CHECK_FALSE(tg_test::contains(dot, "step 2"));
  std::ostringstream tape;
  tg::Tape::current().print(tape);
  CHECK(tg_test::contains(tape.str(), "rnn1/t2"));
  CHECK_FALSE(tg_test::contains(tape.str(), "[step"));
}

TEST_CASE("TimeStepScope: records carry the layer call and the step; scopes stay as they are") {
  tg::manual_seed(1);
  tg::nn::SimpleRNN rnn(1, 3);
  tg::Tensor loss;
  {
    tg::NameScope user("lecture");
    loss = tg::sum(rnn(tg::rand({2, 3, 1})));
  }
  CHECK_FALSE(tg::TimeStepScope::current().in_layer());  // closed with the call
  int in_steps = 0;
  std::set<int64_t> steps;
  std::set<std::uint64_t> calls;
  for (const auto& rec : tg::Tape::current().live_records()) {
    const tg::TimeStep& ts = rec->time_step();
    if (!ts.in_layer()) continue;
    CHECK(*ts.layer == "lecture/SimpleRNN");
    calls.insert(ts.call);
    if (ts.in_step()) {
      ++in_steps;
      steps.insert(ts.index);
      CHECK(rec->scope() == "lecture/SimpleRNN");  // no "t1" appended
    }
  }
  CHECK(in_steps > 0);
  CHECK(steps == std::set<int64_t>{0, 1, 2});
  CHECK(calls.size() == 1);
  const auto rows = tg::tools::gradient_flow(loss);
  REQUIRE(rows.size() == 3);
  CHECK(rows[2].layer == "lecture/SimpleRNN");
  CHECK(rows[2].step == 2);
}

TEST_CASE("gradient flow: two calls of one layer are two series, in call order") {
  tg::manual_seed(2);
  tg::nn::SimpleRNN rnn(1, 3, {.go_backwards = true});
  const tg::Tensor first = tg::sum(rnn(tg::rand({2, 4, 1})));
  const tg::Tensor loss = first + tg::sum(rnn(tg::rand({2, 2, 1})));
  const auto rows = tg::tools::gradient_flow(loss);
  REQUIRE(rows.size() == 6);
  // Steps in time order even though go_backwards processes them from the end.
  CHECK(rows[0].step == 0);
  CHECK(rows[3].step == 3);
  CHECK(rows[4].step == 0);
  CHECK(rows[5].step == 1);
}

TEST_CASE("write_dot: quotes in a title or a scope are escaped, Graphviz still reads the file") {
  tg::Tensor x = tg::tensor({0.5, -1.0}).requires_grad_();
  tg::Tensor loss;
  {
    tg::NameScope scope("say \"hi\"");
    loss = tg::sum(tg::tanh(x));
  }
  const std::string dot = dot_of(loss, {.modules = true, .title = "the \"model\""});
  CHECK(tg_test::contains(dot, "label=\"the \\\"model\\\"\\nloss "));
  CHECK(tg_test::contains(dot, "say \\\"hi\\\""));
  const tg_test::ScratchDir dir("tapegrad-graph-quotes");
  tg::tools::render(loss, dir / "g.svg", {.modules = true, .title = "the \"model\""});
  CHECK(tg_test::contains(tg_test::read_file(dir / "g.svg"), "<svg"));
}
