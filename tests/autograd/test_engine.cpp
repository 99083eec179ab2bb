#include <sstream>

#include <check_gradients.hpp>

using namespace tg_test;

TEST_CASE("backward accumulates into leaves; a*a keeps both edges") {
  tg::Tensor a = tg::tensor({3.0}).requires_grad_();
  tg::Tensor y = a * a;
  y.backward();
  CHECK(a.grad().item() == 6.0);
  (a * 2.0).backward();  // accumulates
  CHECK(a.grad().item() == 8.0);
}

TEST_CASE("tg::grad returns gradients without touching .grad()") {
  tg::Tensor a = tg::tensor({1.0, 2.0}).requires_grad_();
  tg::Tensor h = tg::tanh(a);
  const auto g = tg::grad({tg::sum(h * h)}, {a, h});
  CHECK_FALSE(a.grad().defined());
  const std::vector<double> hv = h.to_vector<double>();
  CHECK(g[1].to_vector<double>() == std::vector<double>{2 * hv[0], 2 * hv[1]});
  CHECK(g[0].to_vector<double>()[0] == doctest::Approx(2 * hv[0] * (1 - hv[0] * hv[0])));
}

TEST_CASE("unused input: error unless allow_unused") {
  tg::Tensor a = tg::ones({2}, tg::f64).requires_grad_();
  tg::Tensor b = tg::ones({2}, tg::f64).requires_grad_();
  tg::Tensor y = tg::sum(a * 2.0);
  CHECK_THROWS_AS(tg::grad({y}, {a, b}, {.retain_graph = true}), tg::AutogradError);
  const auto g = tg::grad({y}, {a, b}, {.allow_unused = true});
  CHECK_FALSE(g[1].defined());
}

TEST_CASE("backward twice without retain_graph says how to fix it") {
  tg::Tensor w = tg::ones({2, 2}).requires_grad_();
  tg::Tensor y = tg::sum(tg::tanh(w));
  y.backward();
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("retain_graph=true"), tg::AutogradError);
  tg::Tensor z = tg::sum(tg::tanh(w));
  z.backward(/*retain_graph=*/true);
  z.backward();
  CHECK(w.grad().defined());
}

TEST_CASE("a saved tensor modified in place makes backward throw") {
  tg::Tensor x = tg::ones({3}).requires_grad_();
  tg::Tensor y = tg::tanh(x);
  tg::Tensor z = tg::sum(y * y);
  tg::kernel::fill(y, 0.5);  // y was saved by mul
  CHECK_THROWS_WITH_AS(z.backward(), doctest::Contains("was modified in place: version"),
                       tg::AutogradError);
  tg::Tensor t = tg::tanh(x);
  tg::Tensor s = tg::sum(t);
  tg::kernel::fill(t, 0.0);  // tanh saved its output
  CHECK_THROWS_WITH_AS(s.backward(), doctest::Contains("saved tensor (output) of tanh"),
                       tg::AutogradError);
}

TEST_CASE("NoGradGuard records nothing; detach cuts the graph") {
  tg::Tensor w = tg::ones({2}).requires_grad_();
  {
    tg::NoGradGuard no_grad;
    CHECK_FALSE((w * 2.0).requires_grad());
  }
  CHECK((w * 2.0).requires_grad());
  CHECK_FALSE((w * 2.0).detach().requires_grad());
  CHECK_THROWS_AS(tg::sum(w.detach()).backward(), tg::AutogradError);
}

TEST_CASE("requires_grad propagates; only leaves may change it") {
  tg::Tensor a = tg::ones({2});
  tg::Tensor b = tg::ones({2}).requires_grad_();
  CHECK_FALSE((a + a).requires_grad());
  tg::Tensor c = a + b;
  CHECK(c.requires_grad());
  CHECK_FALSE(c.is_leaf());
  CHECK_THROWS_AS(c.requires_grad_(false), tg::ValueError);
}

TEST_CASE("hooks read and replace gradients; retain_grad keeps non-leaf gradients") {
  tg::Tensor x = tg::tensor({1.0, 2.0}).requires_grad_();
  tg::Tensor h = x * 3.0;
  double seen = 0;
  h.register_hook([&](const tg::Tensor& g) {
    seen = tg::sum(g).item();
    return g * 10.0;
  });
  h.retain_grad();
  tg::sum(h).backward();
  CHECK(seen == 2.0);
  CHECK(h.grad().to_vector<double>() == std::vector<double>{10, 10});
  CHECK(x.grad().to_vector<double>() == std::vector<double>{30, 30});
  // Leaf hooks see the summed gradient once.
  tg::Tensor w = tg::ones({1}, tg::f64).requires_grad_();
  int calls = 0;
  w.register_hook([&](const tg::Tensor& g) {
    ++calls;
    return g;
  });
  tg::sum(w * 2.0 + w * 3.0).backward();
  CHECK(calls == 1);
  CHECK(w.grad().item() == 5.0);
}

TEST_CASE("gradients of a broadcast input are summed back to its shape") {
  tg::Tensor b = tg::zeros({3}, tg::f64).requires_grad_();
  tg::Tensor x = tg::ones({4, 3}, tg::f64);
  tg::sum(x + b).backward();
  CHECK(b.grad().shape() == tg::Shape{3});
  CHECK(b.grad().to_vector<double>() == std::vector<double>{4, 4, 4});
}

TEST_CASE("the tape prints records with scope, inputs and output shape") {
  tg::Tensor w = tg::ones({2, 2}).requires_grad_();
  tg::Tensor y;
  {
    tg::NameScope s1("rnn1");
    tg::NameScope s2("t3");
    y = tg::tanh(tg::matmul(w, w));
  }
  std::ostringstream out;
  tg::Tape::current().print(out);
  const std::string text = out.str();
  CHECK(text.find("matmul") != std::string::npos);
  CHECK(text.find("rnn1/t3") != std::string::npos);
  CHECK(text.find("leaf[2,2]") != std::string::npos);
  CHECK(tg::Tape::current().bytes_kept() >= 2 * 2 * 4);
}

TEST_CASE("higher order: Hessian-vector product matches finite differences") {
  tg::manual_seed(50);
  const tg::Tensor x0 = uniform_f64({4});
  const tg::Tensor v = uniform_f64({4});
  auto f = [](const tg::Tensor& x) { return tg::sum(tg::tanh(x) * x * x); };
  tg::Tensor x = x0.clone().requires_grad_();
  const tg::Tensor g = tg::grad({f(x)}, {x}, {.create_graph = true})[0];
  const tg::Tensor hv = tg::grad({tg::sum(g * v)}, {x})[0];
  // (grad f(x + eps v) - grad f(x - eps v)) / 2 eps
  const double eps = 1e-5;
  auto grad_at = [&](const tg::Tensor& p) {
    tg::Tensor leaf = p.clone().requires_grad_();
    return tg::grad({f(leaf)}, {leaf})[0].to_vector<double>();
  };
  const auto gp = grad_at(x0 + v * eps);
  const auto gm = grad_at(x0 - v * eps);
  const auto hvv = hv.to_vector<double>();
  for (int i = 0; i < 4; ++i)
    CHECK(hvv[i] == doctest::Approx((gp[i] - gm[i]) / (2 * eps)).epsilon(1e-6));
}

TEST_CASE("anomaly mode names the forward op that produced NaN") {
  tg::Tensor x = tg::tensor({-1.0, 2.0}).requires_grad_();
  tg::AnomalyGuard anomaly;
  tg::NameScope scope("layer0");
  CHECK_THROWS_WITH_AS(tg::log(x), doctest::Contains("anomaly: log in scope layer0 produced NaN"),
                       tg::AutogradError);
  // A NaN born in a gradient rule: sqrt at 0 has an infinite derivative.
  tg::Tensor z = tg::zeros({1}, tg::f64).requires_grad_();
  tg::Tensor s = tg::sum(tg::sqrt(z));
  CHECK_THROWS_WITH_AS(s.backward(), doctest::Contains("gradient rule of sqrt (#"),
                       tg::AutogradError);
}
