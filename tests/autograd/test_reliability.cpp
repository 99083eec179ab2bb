// Regression tests for the engine: graphs across threads, hooks that outlive their
// tensor's handle, gradcheck evaluating with grad mode on, anomaly messages that name where a
// NaN came from.
#include <atomic>
#include <cmath>
#include <thread>

#include <check_gradients.hpp>

using namespace tg_test;

namespace {

// Runs fn on a new thread and returns what it returned, once that thread has ended.
template <class Fn>
auto on_other_thread(Fn fn) {
  decltype(fn()) result;
  std::thread([&] { result = fn(); }).join();
  return result;
}

}  // namespace

TEST_CASE("a graph recorded by a thread that has ended cannot be walked from another") {
  tg::Tensor x = tg::tensor({0.5, -1.0}).requires_grad_();
  tg::Tensor y = on_other_thread([&] { return tg::sum(tg::tanh(x)); });
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("recorded on another thread"),
                       tg::AutogradError);
  CHECK_THROWS_WITH_AS(tg::grad({y}, {x}), doctest::Contains("recorded on another thread"),
                       tg::AutogradError);
  CHECK_FALSE(x.grad().defined());
  // A later thread may get the ended thread's thread-local storage back; it is still foreign.
  std::string message = on_other_thread([&] {
    try {
      y.backward();
    } catch (const tg::AutogradError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  });
  CHECK(message.find("recorded on another thread") != std::string::npos);
  // Detached, the values cross threads freely.
  CHECK(y.detach().item() == doctest::Approx(std::tanh(0.5) + std::tanh(-1.0)));
}

TEST_CASE("an op may not extend a graph another thread recorded; detach() is the way across") {
  tg::Tensor x = tg::tensor({0.5, -1.0}).requires_grad_();
  tg::Tensor y = on_other_thread([&] { return tg::tanh(x); });
  CHECK_THROWS_WITH_AS(y * 3.0, doctest::Contains("mul: input 0 was computed by tanh"),
                       tg::AutogradError);
  tg::Tensor z = tg::sum(y.detach() * x);  // d/dx = tanh(x) as a constant
  z.backward();
  CHECK(x.grad().to_vector<double>()[0] == doctest::Approx(std::tanh(0.5)));
}

TEST_CASE("backward of another thread's graph while that thread records is an error, not a race") {
  tg::Tensor x = tg::ones({4, 4}).requires_grad_();
  std::atomic<bool> recorded{false};
  std::atomic<bool> stop{false};
  tg::Tensor y;
  std::thread recorder([&] {
    y = tg::sum(tg::tanh(x));
    recorded = true;
    while (!stop) tg::Tensor keep = tg::tanh(x * 2.0);  // keeps appending to its tape
  });
  while (!recorded) std::this_thread::yield();
  for (int i = 0; i < 100; ++i) CHECK_THROWS_AS(y.backward(), tg::AutogradError);
  stop = true;
  recorder.join();
}

TEST_CASE("a hook on an intermediate fires after the program let go of the tensor") {
  tg::Tensor w = tg::uniform({3, 2}, -1.0, 1.0, tg::f64).requires_grad_();
  tg::Tensor x = tg::uniform({4, 3}, -1.0, 1.0, tg::f64);
  tg::Tensor seen;
  int fired = 0;
  auto f = [&](const tg::Tensor& in) {
    tg::Tensor h = tg::matmul(in, w);
    h.register_hook([&](const tg::Tensor& g) {
      ++fired;
      seen = g.clone();
      return tg::Tensor();
    });
    return tg::sum(tg::tanh(h));  // h's handle dies here
  };
  f(x).backward();
  CHECK(fired == 1);
  const tg::Tensor t = tg::tanh(tg::matmul(x, w.detach()));
  CHECK(tg::max(tg::abs(seen - (1.0 - t * t))).item() < 1e-15);

  const auto g = tg::grad({f(x)}, {w});
  CHECK(fired == 2);
  CHECK(tg::max(tg::abs(g[0] - tg::matmul(tg::transpose(x, 0, 1), seen))).item() < 1e-12);
}

TEST_CASE("a replacing hook on a dropped intermediate changes the gradient that flows on") {
  tg::Tensor w = tg::tensor({0.3, -0.7}).requires_grad_();
  auto loss = [&] {
    tg::Tensor h = w * 2.0;
    h.register_hook([](const tg::Tensor& g) { return g * 10.0; });
    return tg::sum(h);
  };
  loss().backward();
  CHECK(w.grad().to_vector<double>() == std::vector<double>{20.0, 20.0});
}

TEST_CASE("gradcheck evaluates with grad mode on, so hooks run and can make it fail") {
  tg::Tensor a = uniform_f64({3});
  const tg::DifferentiableFn watched = [](const std::vector<tg::Tensor>& in) {
    tg::Tensor h = tg::tanh(in[0]);
    h.retain_grad();
    h.register_hook([](const tg::Tensor& g) { return g; });
    return tg::sum(h * h);
  };
  check_gradients(watched, {a}, /*first_order_only=*/true);
  const tg::DifferentiableFn doubled = [](const std::vector<tg::Tensor>& in) {
    tg::Tensor h = tg::tanh(in[0]);
    h.register_hook([](const tg::Tensor& g) { return g * 2.0; });
    return tg::sum(h * h);
  };
  const tg::GradcheckReport report = tg::gradcheck(doubled, {a});
  CHECK_FALSE(report.ok);
  CHECK(report.analytic == doctest::Approx(2 * report.numeric));
}

TEST_CASE("anomaly: a NaN already in an input is blamed on that input, not on the op") {
  tg::AnomalyGuard anomaly;
  tg::Tensor data = tg::tensor({2.0, NAN});
  CHECK_THROWS_WITH_AS(
      tg::tanh(data.requires_grad_()),
      doctest::Contains("input 0 of tanh already holds NaN/Inf (first at [1] of shape [2]); it "
                        "is a leaf that requires grad"),
      tg::AutogradError);
  tg::Tensor w = tg::ones({2}).requires_grad_();
  CHECK_THROWS_WITH_AS(w * tg::tensor({1.0f, INFINITY}),
                       doctest::Contains("input 1 of mul already holds NaN/Inf (first at [1] of "
                                         "shape [2]); it is data given to the graph"),
                       tg::AutogradError);
}

TEST_CASE("anomaly: a NaN made before the guard names the op that made it") {
  tg::Tensor x = tg::tensor({-1.0, 2.0}).requires_grad_();
  tg::Tensor y = tg::log(x);  // NaN at [0], not checked
  tg::AnomalyGuard anomaly;
  CHECK_THROWS_WITH_AS(tg::tanh(y), doctest::Contains("it is the output of log (#"),
                       tg::AutogradError);
}

TEST_CASE("anomaly: the op that makes NaN from finite inputs is named, with the element") {
  tg::AnomalyGuard anomaly;
  tg::Tensor x = tg::tensor({4.0, 1.0, 9.0}).requires_grad_();
  CHECK_THROWS_WITH_AS(tg::log(x - 2.0),
                       doctest::Contains("anomaly: log produced NaN/Inf (first at [1] of its "
                                         "output, shape [3]) from finite inputs"),
                       tg::AutogradError);
}

TEST_CASE("anomaly: an RNN input with a NaN at t=5 is blamed on the input at that step") {
  tg::manual_seed(0);
  tg::nn::SimpleRNN rnn(1, 4);
  std::vector<float> values(2 * 10, 0.5f);
  values[1 * 10 + 5] = NAN;  // sample 1, t = 5
  tg::Tensor X = tg::from_vector(values, {2, 10, 1});
  tg::AnomalyGuard anomaly;
  CHECK_THROWS_WITH_AS(rnn(X),
                       doctest::Contains("already holds NaN/Inf (first at [1,5,0] of "
                                         "shape [2,10,1]); it is data given"),
                       tg::AutogradError);
}
