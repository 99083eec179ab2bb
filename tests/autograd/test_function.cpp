#include <check_gradients.hpp>

using namespace tg_test;

TEST_CASE("tg::Function: a custom op from forward and backward lambdas is gradchecked") {
  tg::Function cube(
      "cube",
      [](const tg::TensorList& in, tg::TensorList& save) {
        save.push_back(in[0]);
        return in[0] * in[0] * in[0];
      },
      [](const tg::BackwardContext& c) -> tg::Grads {
        return {c.grad * 3.0 * c.saved(0) * c.saved(0)};
      });
  tg::manual_seed(60);
  check_gradients([&](const auto& v) { return cube({v[0]}); }, {uniform_f64({2, 3})});
  tg::Tensor x = tg::tensor({2.0}).requires_grad_();
  cube({x}).backward();
  CHECK(x.grad().item() == 12.0);
}

TEST_CASE("tg::Function may save its own output, as exp's backward wants") {
  tg::Function my_exp(
      "my_exp",
      [](const tg::TensorList& in, tg::TensorList& save) {
        tg::Tensor y = tg::exp(in[0]);
        save.push_back(y);
        return y;
      },
      [](const tg::BackwardContext& c) -> tg::Grads { return {c.grad * c.saved(0)}; });
  tg::manual_seed(61);
  check_gradients([&](const auto& v) { return my_exp({v[0]}); }, {uniform_f64({2, 3})});
  // The record holds its output as plain data, so dropping the output frees the record.
  const tg::Tensor x = tg::randn({3}).requires_grad_();
  const std::size_t before = tg::Tape::current().size();
  { const tg::Tensor y = my_exp({x}); }
  CHECK(tg::Tape::current().size() == before);
}

TEST_CASE("gradcheck reports the worst element of a wrong gradient") {
  tg::Function wrong(
      "wrong_square",
      [](const tg::TensorList& in, tg::TensorList& save) {
        save.push_back(in[0]);
        return in[0] * in[0];
      },
      [](const tg::BackwardContext& c) -> tg::Grads { return {c.grad * c.saved(0)}; });  // 2x
  const tg::GradcheckReport r =
      tg::gradcheck([&](const auto& v) { return wrong({v[0]}); }, {tg::tensor({1.0, 3.0})});
  CHECK_FALSE(r.ok);
  CHECK(r.input == 0);
  CHECK(r.element == 1);
  CHECK(r.analytic == doctest::Approx(3.0));
  CHECK(r.numeric == doctest::Approx(6.0));
  CHECK(r.message.find("element 1") != std::string::npos);
}

TEST_CASE("gradcheck uses random projections for large inputs") {
  tg::manual_seed(61);
  const tg::Tensor a = uniform_f64({40, 30});
  const tg::Tensor b = uniform_f64({30, 20});
  const auto r = tg::gradcheck([](const auto& v) { return tg::matmul(v[0], v[1]); }, {a, b});
  CHECK(r.ok);
  CHECK(r.input == -1);  // projections, not elements
}
