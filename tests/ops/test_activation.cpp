#include <check_gradients.hpp>

using namespace tg_test;

TEST_CASE("tanh, sigmoid, relu gradcheck") {
  tg::manual_seed(10);
  const tg::Tensor x = uniform_f64({3, 5}, -2.0, 2.0);
  check_gradients([](const auto& v) { return tg::tanh(v[0]); }, {x});
  check_gradients([](const auto& v) { return tg::sigmoid(v[0]); }, {x});
  const tg::Tensor off_zero = tg::tensor({-1.5, -0.4, 0.3, 0.8, 1.7});
  check_gradients([](const auto& v) { return tg::relu(v[0]); }, {off_zero});
}

TEST_CASE("softmax and log_softmax gradcheck on every axis") {
  tg::manual_seed(11);
  const tg::Tensor x = uniform_f64({2, 3, 4}, -3.0, 3.0);
  for (int64_t axis : {0, 1, 2, -1}) {
    CAPTURE(axis);
    check_gradients([axis](const auto& v) { return tg::softmax(v[0], axis); }, {x});
    check_gradients([axis](const auto& v) { return tg::log_softmax(v[0], axis); }, {x});
  }
}

TEST_CASE("softmax values: rows sum to 1, large inputs do not overflow") {
  const tg::Tensor x = tg::tensor({1000.f, 1001.f, 1002.f});
  const std::vector<float> y = tg::softmax(x).to_vector<float>();
  CHECK(y[0] + y[1] + y[2] == doctest::Approx(1.0));
  CHECK(y[2] == doctest::Approx(0.6652409));
  const std::vector<float> ly = tg::log_softmax(x).to_vector<float>();
  CHECK(ly[2] == doctest::Approx(-0.4076059));
}

TEST_CASE("tanh and sigmoid values match the scalar functions") {
  const tg::Tensor x = tg::tensor({-3.0, -0.5, 0.0, 0.5, 3.0});
  const std::vector<double> t = tg::tanh(x).to_vector<double>();
  const std::vector<double> s = tg::sigmoid(x).to_vector<double>();
  const std::vector<double> in = x.to_vector<double>();
  for (std::size_t i = 0; i < in.size(); ++i) {
    CHECK(t[i] == doctest::Approx(std::tanh(in[i])).epsilon(1e-14));
    CHECK(s[i] == doctest::Approx(1.0 / (1.0 + std::exp(-in[i]))).epsilon(1e-14));
  }
}
