// Initializers: glorot_uniform's limit and moments, orthogonal's orthonormality and sign
// convention, reproducibility from tg::manual_seed, and the built-in cells' initial biases.
#include <doctest/doctest.h>

#include <cmath>

#include <nn/nn_test_util.hpp>

using namespace tg_test;

namespace {

struct Moments {
  double min, max, mean, var;
};

Moments moments(const tg::Tensor& t) {
  const auto v = t.to(tg::f64).to_vector<double>();
  Moments m{INFINITY, -INFINITY, 0, 0};
  for (double e : v) {
    m.min = std::min(m.min, e);
    m.max = std::max(m.max, e);
    m.mean += e;
  }
  m.mean /= static_cast<double>(v.size());
  for (double e : v) m.var += (e - m.mean) * (e - m.mean);
  m.var /= static_cast<double>(v.size());
  return m;
}

// max |A - I| for a square A.
double distance_to_identity(const tg::Tensor& a) {
  REQUIRE(a.dim() == 2);
  const int64_t n = a.shape()[0];
  REQUIRE(a.shape()[1] == n);
  std::vector<double> eye(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) eye[i * n + i] = 1.0;
  return max_abs_diff(a, tg::from_vector(eye, a.shape()));
}

// The Gram matrix of the longer side: Q^T Q for rows >= cols, Q Q^T otherwise.
tg::Tensor gram(const tg::Tensor& q) {
  return q.shape()[0] >= q.shape()[1] ? tg::matmul(tg::transpose(q, 0, 1), q)
                                      : tg::matmul(q, tg::transpose(q, 0, 1));
}

}  // namespace

TEST_CASE("glorot_uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out))") {
  tg::manual_seed(0);
  const tg::Tensor w = tg::nn::init::glorot_uniform({300, 500});
  CHECK(w.shape() == tg::Shape{300, 500});
  CHECK(w.dtype() == tg::f32);
  const double l = std::sqrt(6.0 / 800.0);
  const Moments m = moments(w);
  CHECK(m.min >= -l * (1 + 1e-7));
  CHECK(m.max <= l * (1 + 1e-7));
  // 150000 samples: the extremes come close to the limit, mean ~ 0, var ~ l^2 / 3.
  CHECK(m.max > 0.999 * l);
  CHECK(m.min < -0.999 * l);
  CHECK(std::abs(m.mean) < 0.01 * l);
  CHECK(m.var == doctest::Approx(l * l / 3).epsilon(0.02));
}

TEST_CASE("glorot_uniform: fans of gate kernels and higher-rank kernels") {
  tg::manual_seed(1);
  // An LSTM kernel (F, 4u): fan_in = F, fan_out = 4u.
  const tg::Tensor k = tg::nn::init::glorot_uniform({8, 4 * 64}, tg::f64);
  CHECK(k.dtype() == tg::f64);
  const double l = std::sqrt(6.0 / (8 + 256));
  const Moments m = moments(k);
  CHECK(m.max <= l);
  CHECK(m.min >= -l);
  CHECK(m.max > 0.98 * l);
  // Keras for rank > 2: receptive field = product of the leading dims.
  const tg::Tensor c = tg::nn::init::glorot_uniform({3, 10, 20});
  const double lc = std::sqrt(6.0 / (3 * 10 + 3 * 20));
  const Moments mc = moments(c);
  CHECK(mc.max <= lc * (1 + 1e-7));
  CHECK(mc.max > 0.95 * lc);
  CHECK_THROWS_AS(tg::nn::init::glorot_uniform({5}), tg::ShapeError);
  // The cells' kernels use their own fans.
  tg::manual_seed(2);
  const tg::nn::GRUCell gru(40, 30);
  const Moments mg = moments(gru.kernel);
  const double lg = std::sqrt(6.0 / (40 + 90));
  CHECK(mg.max <= lg * (1 + 1e-7));
  CHECK(mg.max > 0.95 * lg);
}

TEST_CASE("orthogonal: Q^T Q = I (rows >= cols), Q Q^T = I (rows < cols)") {
  // Square normal matrices are the ill-conditioned case for Gram-Schmidt; several seeds.
  for (const tg::Shape& shape :
       {tg::Shape{64, 64}, tg::Shape{100, 30}, tg::Shape{16, 64}, tg::Shape{1, 5}, tg::Shape{5, 1},
        tg::Shape{128, 128}, tg::Shape{256, 256}}) {
    const std::string shape_str = fmt::format("{}", shape);
    CAPTURE(shape_str);
    const std::uint64_t seeds = shape[0] >= 256 ? 3 : 20;
    for (std::uint64_t seed = 0; seed < seeds; ++seed) {
      CAPTURE(seed);
      tg::manual_seed(seed);
      const tg::Tensor q64 = tg::nn::init::orthogonal(shape, 1.0, tg::f64);
      CHECK(q64.shape() == shape);
      CHECK(distance_to_identity(gram(q64)) < 1e-12);
      tg::manual_seed(seed);
      const tg::Tensor q32 = tg::nn::init::orthogonal(shape);
      CHECK(q32.dtype() == tg::f32);
      CHECK(distance_to_identity(gram(q32)) < 1e-5);
      // The f32 matrix is the f64 one rounded.
      CHECK(max_abs_diff(q32, q64) < 1e-7);
    }
  }
}

TEST_CASE("orthogonal: gain scales, and Q is the QR factor with diag(R) > 0") {
  tg::manual_seed(5);
  const tg::Tensor q = tg::nn::init::orthogonal({6, 4}, 2.5, tg::f64);
  CHECK(max_abs_diff(gram(q), gram(tg::nn::init::orthogonal({6, 4}, 1.0, tg::f64)) * 6.25) < 1e-12);
  // Redraw the normal matrix the initializer drew (n x m, filled column by column) and check
  // that R = Q^T A is upper triangular with a positive diagonal: Q is A's QR factor with
  // Keras's sign correction, not just some orthogonal matrix.
  const int64_t n = 7;
  const int64_t m = 4;
  tg::manual_seed(9);
  const tg::Tensor q1 = tg::nn::init::orthogonal({n, m}, 1.0, tg::f64);
  tg::manual_seed(9);
  std::vector<double> a_colmajor(n * m);
  for (double& v : a_colmajor) v = tg::default_generator().normal();
  std::vector<double> a(n * m);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) a[i * m + j] = a_colmajor[j * n + i];
  }
  const tg::Tensor r = tg::matmul(tg::transpose(q1, 0, 1), tg::from_vector(a, {n, m}));
  const auto rv = r.to_vector<double>();
  for (int64_t i = 0; i < m; ++i) {
    CHECK(rv[i * m + i] > 0);
    for (int64_t j = 0; j < i; ++j) CHECK(std::abs(rv[i * m + j]) < 1e-12);
  }
}

TEST_CASE("initializers are reproducible from tg::manual_seed") {
  tg::manual_seed(42);
  const tg::Tensor a = tg::nn::init::glorot_uniform({5, 7});
  const tg::Tensor b = tg::nn::init::orthogonal({7, 7});
  tg::manual_seed(42);
  const tg::Tensor a2 = tg::nn::init::glorot_uniform({5, 7});
  const tg::Tensor b2 = tg::nn::init::orthogonal({7, 7});
  CHECK(max_abs_diff(a, a2) == 0.0);
  CHECK(max_abs_diff(b, b2) == 0.0);
  tg::manual_seed(43);
  CHECK(max_abs_diff(a, tg::nn::init::glorot_uniform({5, 7})) > 0.0);
  // Whole models too.
  tg::manual_seed(7);
  tg::nn::Sequential m1{tg::nn::LSTM(2, 3), tg::nn::Dense(3, 1)};
  tg::manual_seed(7);
  tg::nn::Sequential m2{tg::nn::LSTM(2, 3), tg::nn::Dense(3, 1)};
  const auto p1 = m1.parameters();
  const auto p2 = m2.parameters();
  REQUIRE(p1.size() == p2.size());
  for (std::size_t i = 0; i < p1.size(); ++i) CHECK(max_abs_diff(p1[i], p2[i]) == 0.0);
}

TEST_CASE("built-in cells: orthogonal recurrent kernels, Keras biases") {
  tg::manual_seed(11);
  const int64_t u = 5;
  const tg::nn::SimpleRNNCell rnn(3, u, {.dtype = tg::f64});
  CHECK(distance_to_identity(gram(rnn.recurrent_kernel)) < 1e-12);
  CHECK(moments(rnn.bias).max == 0.0);
  CHECK(moments(rnn.bias).min == 0.0);

  const tg::nn::LSTMCell lstm(3, u, {.dtype = tg::f64});
  CHECK(lstm.recurrent_kernel.shape() == tg::Shape{u, 4 * u});
  CHECK(distance_to_identity(gram(lstm.recurrent_kernel)) < 1e-12);  // rows orthonormal
  const auto b = lstm.bias.to_vector<double>();
  REQUIRE(b.size() == 4 * u);
  for (int64_t k = 0; k < 4 * u; ++k) {
    CAPTURE(k);
    CHECK(b[k] == (k >= u && k < 2 * u ? 1.0 : 0.0));  // i, [f = 1], c, o
  }
  const tg::nn::LSTMCell plain(3, u, {.unit_forget_bias = false});
  CHECK(moments(plain.bias).max == 0.0);

  const tg::nn::GRUCell gru(3, u);
  CHECK(gru.bias.shape() == tg::Shape{2, 3 * u});
  CHECK(moments(gru.bias).max == 0.0);
  CHECK(moments(gru.bias).min == 0.0);
  CHECK(distance_to_identity(gram(gru.recurrent_kernel)) < 1e-5);

  const tg::nn::Dense dense(4, 3);
  CHECK(moments(dense.bias).max == 0.0);
  CHECK(moments(dense.kernel).max <= std::sqrt(6.0 / 7.0));
}

TEST_CASE("uniform, normal, zeros, ones initializers") {
  tg::manual_seed(12);
  const Moments mu = moments(tg::nn::init::uniform({10000}));
  CHECK(mu.min >= -0.05);
  CHECK(mu.max < 0.05);
  const Moments mn = moments(tg::nn::init::normal({20000}, 1.0, 0.5, tg::f64));
  CHECK(mn.mean == doctest::Approx(1.0).epsilon(0.02));
  CHECK(mn.var == doctest::Approx(0.25).epsilon(0.05));
  CHECK(moments(tg::nn::init::ones({3, 2})).min == 1.0);
  CHECK(tg::nn::init::zeros({3, 2}, tg::f64).dtype() == tg::f64);
  CHECK_THROWS_AS(tg::nn::init::orthogonal({2, 3, 4}), tg::ShapeError);
}
