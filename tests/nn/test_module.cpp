// Module: the parameter registry (names, order, shapes), grads, train/eval, dtype conversion
// in place, name checks, and the name scope a module call opens.
#include <doctest/doctest.h>

#include <sstream>

#include <nn/nn_test_util.hpp>

using namespace tg_test;

namespace {

tg::nn::Sequential reference_model() {
  return tg::nn::Sequential{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
                            tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
}

std::vector<std::string> names_of(const tg::NamedTensors& named) {
  std::vector<std::string> out;
  for (const auto& [name, p] : named) out.push_back(name);
  return out;
}

struct Twice : tg::nn::Module {
  Twice() : w(register_parameter("w", tg::ones({2}))) {}
  tg::Tensor forward(const tg::Tensor& x) override { return x * w * 2.0; }
  std::string type_name() const override { return "Twice"; }
  tg::Tensor w;
};

// A module with a nested child and its own parameter after the child.
struct Outer : tg::nn::Module {
  Outer() {
    inner = register_module("inner", std::make_shared<Twice>());
    scale = register_parameter("scale", tg::ones({1}));
  }
  tg::Tensor forward(const tg::Tensor& x) override { return (*inner)(x)*scale; }
  std::string type_name() const override { return "Outer"; }
  std::shared_ptr<Twice> inner;
  tg::Tensor scale;
};

}  // namespace

TEST_CASE("Module: the reference model's named_parameters, in order, with Keras shapes") {
  tg::nn::Sequential model = reference_model();
  const tg::NamedTensors named = model.named_parameters();
  CHECK(names_of(named) == std::vector<std::string>{"0.cell.kernel", "0.cell.recurrent_kernel",
                                                    "0.cell.bias", "1.cell.kernel",
                                                    "1.cell.recurrent_kernel", "1.cell.bias",
                                                    "2.kernel", "2.bias"});
  const std::vector<tg::Shape> shapes{{1, 64},  {64, 64}, {64},    {64, 32},
                                      {32, 32}, {32},     {32, 1}, {1}};
  REQUIRE(named.size() == shapes.size());
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    CAPTURE(named[i].first);
    CHECK(named[i].second.shape() == shapes[i]);
    CHECK(named[i].second.dtype() == tg::f32);
    CHECK(named[i].second.requires_grad());
    CHECK(named[i].second.is_leaf());
  }
  // parameters(): the same tensors (same TensorImpl), in the same order.
  const std::vector<tg::Tensor> params = model.parameters();
  REQUIRE(params.size() == named.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    CHECK(params[i].impl_ptr() == named[i].second.impl_ptr());
  }
  // The handles the layers hold are the registered ones.
  auto& dense = dynamic_cast<tg::nn::Dense&>(model[2]);
  CHECK(dense.kernel.impl_ptr() == params[6].impl_ptr());
  auto& rnn0 = dynamic_cast<tg::nn::RNN&>(model[0]);
  auto& cell0 = dynamic_cast<tg::nn::SimpleRNNCell&>(rnn0.cell());
  CHECK(cell0.recurrent_kernel.impl_ptr() == params[1].impl_ptr());
  CHECK(model.size() == 3);
  CHECK(model[1].label() == "1:SimpleRNN");
  CHECK(model.label() == "Sequential");
  CHECK(rnn0.cell().label() == "cell:SimpleRNNCell");
}

TEST_CASE("Module: LSTM and GRU parameter names and shapes") {
  tg::nn::Sequential model{tg::nn::LSTM(3, 5, {.return_sequences = true}), tg::nn::GRU(5, 4)};
  const tg::NamedTensors named = model.named_parameters();
  CHECK(names_of(named) == std::vector<std::string>{"0.cell.kernel", "0.cell.recurrent_kernel",
                                                    "0.cell.bias", "1.cell.kernel",
                                                    "1.cell.recurrent_kernel", "1.cell.bias"});
  const std::vector<tg::Shape> shapes{{3, 20}, {5, 20}, {20}, {5, 12}, {4, 12}, {2, 12}};
  REQUIRE(named.size() == shapes.size());
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    CAPTURE(named[i].first);
    CHECK(named[i].second.shape() == shapes[i]);
  }
}

TEST_CASE("Module: nested registration order is depth first, own parameters first") {
  Outer outer;
  CHECK(names_of(outer.named_parameters()) == std::vector<std::string>{"scale", "inner.w"});
  tg::nn::Sequential seq{std::make_shared<Outer>(), Twice()};
  CHECK(names_of(seq.named_parameters()) ==
        std::vector<std::string>{"0.scale", "0.inner.w", "1.w"});
  // A shared_ptr given to Sequential is shared, a value is moved in.
  auto shared = std::make_shared<Twice>();
  tg::nn::Sequential seq2{shared};
  CHECK(seq2.parameters()[0].impl_ptr() == shared->w.impl_ptr());
  // A module without parameters.
  tg::nn::Sequential empty;
  CHECK(empty.named_parameters().empty());
  CHECK(empty.dtype() == tg::f32);
  const tg::Tensor x = tg::rand({2, 2});
  CHECK(max_abs_diff(empty(x), x) == 0.0);
}

TEST_CASE("Module: backward fills every parameter's grad; zero_grad clears them") {
  tg::manual_seed(1);
  tg::nn::Sequential model{tg::nn::SimpleRNN(2, 3, {.return_sequences = true}),
                           tg::nn::SimpleRNN(3, 2), tg::nn::Dense(2, 1)};
  const tg::Tensor x = tg::rand({4, 3, 2});
  tg::mean(tg::square(model(x))).backward();
  for (const auto& [name, p] : model.named_parameters()) {
    CAPTURE(name);
    REQUIRE(p.grad().defined());
    CHECK(p.grad().shape() == p.shape());
  }
  // Gradients accumulate over two backward passes.
  const tg::Tensor g1 = model.parameters()[6].grad().clone();
  tg::mean(tg::square(model(x))).backward();
  CHECK(max_abs_diff(model.parameters()[6].grad(), g1 * 2.0) < 1e-6);
  model.zero_grad();
  for (const auto& [name, p] : model.named_parameters()) {
    CAPTURE(name);
    CHECK_FALSE(p.grad().defined());
  }
}

TEST_CASE("Module: train() and eval() reach every descendant") {
  tg::nn::Sequential model = reference_model();
  const auto& rnn = dynamic_cast<tg::nn::RNN&>(model[0]);
  CHECK(model.is_training());
  CHECK(rnn.cell().is_training());
  model.eval();
  CHECK_FALSE(model.is_training());
  for (std::size_t i = 0; i < model.size(); ++i) CHECK_FALSE(model[i].is_training());
  CHECK_FALSE(rnn.cell().is_training());
  model.train();
  CHECK(model[2].is_training());
  CHECK(rnn.cell().is_training());
  model.train(false);
  CHECK_FALSE(rnn.cell().is_training());
}

TEST_CASE("Module: to(f64) converts in place; handles held before see it") {
  tg::manual_seed(2);
  tg::nn::Sequential model{tg::nn::SimpleRNN(2, 3, {.return_sequences = true}), tg::nn::LSTM(3, 2),
                           tg::nn::Dense(2, 1)};
  const std::vector<tg::Tensor> held = model.parameters();
  std::vector<std::vector<float>> before;
  for (const tg::Tensor& p : held) before.push_back(p.to_vector<float>());
  const tg::Tensor x = tg::rand({2, 3, 2});
  const tg::Tensor y32 = model(x);
  tg::sum(y32).backward();
  REQUIRE(held[0].grad().defined());

  model.to(tg::f64);
  CHECK(model.dtype() == tg::f64);
  auto& dense = dynamic_cast<tg::nn::Dense&>(model[2]);
  CHECK(dense.kernel.dtype() == tg::f64);
  for (std::size_t i = 0; i < held.size(); ++i) {
    CHECK(held[i].dtype() == tg::f64);
    CHECK(held[i].requires_grad());
    CHECK(held[i].is_leaf());
    CHECK_FALSE(held[i].grad().defined());  // an f32 gradient would not fit any more
    const auto now = held[i].to_vector<double>();
    REQUIRE(now.size() == before[i].size());
    for (std::size_t j = 0; j < now.size(); ++j) CHECK(now[j] == double(before[i][j]));
  }
  // The model computes in f64 now, with the same values.
  const tg::Tensor y64 = model(x.to(tg::f64));
  CHECK(y64.dtype() == tg::f64);
  CHECK(max_abs_diff(y64, y32) < 1e-5);
  tg::sum(y64).backward();
  CHECK(held[0].grad().dtype() == tg::f64);
  // The conversion was not recorded as an op of the parameters.
  CHECK(held[3].is_leaf());
  // Back to f32, and f32 input is required again.
  model.to(tg::f32);
  CHECK(model(x).dtype() == tg::f32);
  CHECK_THROWS_AS(model(x.to(tg::f64)), tg::Error);
}

TEST_CASE("Module: duplicate or invalid names throw") {
  struct Dup : tg::nn::Module {
    Dup() { register_parameter("w", tg::ones({1})); }
    void add_param(const std::string& n) { register_parameter(n, tg::ones({1})); }
    void add_child(const std::string& n) { register_module(n, std::make_shared<Twice>()); }
  };
  Dup m;
  CHECK_THROWS_AS(m.add_param("w"), tg::ValueError);
  CHECK_THROWS_AS(m.add_child("w"), tg::ValueError);
  m.add_child("c");
  CHECK_THROWS_AS(m.add_param("c"), tg::ValueError);
  CHECK_THROWS_AS(m.add_child("c"), tg::ValueError);
  CHECK_THROWS_AS(m.add_param(""), tg::ValueError);
  CHECK_THROWS_AS(m.add_param("a.b"), tg::ValueError);
  CHECK_THROWS_AS(m.add_child("x.y"), tg::ValueError);
  // The failed registrations left the registry as it was.
  CHECK(names_of(m.named_parameters()) == std::vector<std::string>{"w", "c.w"});
  // A module without forward says so.
  CHECK_THROWS_AS(m(tg::ones({1})), tg::ValueError);
}

TEST_CASE("Module: a call opens a NameScope with the module's label") {
  tg::manual_seed(3);
  tg::nn::Sequential model = reference_model();
  const tg::Tensor y = model(tg::rand({2, 4, 1}));
  std::ostringstream ss;
  tg::Tape::current().print(ss);
  const std::string tape = ss.str();
  CAPTURE(tape.substr(0, 2000));
  CHECK(tape.find("Sequential/0:SimpleRNN [step 3]") != std::string::npos);
  CHECK(tape.find("Sequential/1:SimpleRNN [step 0]") != std::string::npos);
  CHECK(tape.find("Sequential/2:Dense") != std::string::npos);
  // The scope closes when the call returns.
  CHECK(*tg::NameScope::current() == "");
  {
    tg::NameScope outer("exp");
    Outer o;
    const tg::Tensor x = tg::ones({2}).requires_grad_(true);
    const tg::Tensor z = o(x);
    std::ostringstream s2;
    tg::Tape::current().print(s2);
    CHECK(s2.str().find("exp/Outer/inner:Twice") != std::string::npos);
    (void)z;
  }
  (void)y;
}
