// vmath's vector exp, log, tanh and sigmoid: within a few ulp of the scalar reference for
// every array length 0..37 (full vectors plus every tail length), never writing past n, and
// NaN / Inf propagating as the scalar functions do.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <tapegrad/core/vmath.hpp>

#include "reference.hpp"

namespace vm = tapegrad::vmath;

namespace {

// Distance in units in the last place, via the ordered integer image of the floats.
int64_t ulp_distance(float a, float b) {
  auto key = [](float v) {
    const auto i = std::bit_cast<std::int32_t>(v);
    return i < 0 ? int64_t(INT32_MIN) - i : int64_t(i);
  };
  return std::abs(key(a) - key(b));
}
int64_t ulp_distance(double a, double b) {
  auto key = [](double v) {
    const auto i = std::bit_cast<std::int64_t>(v);
    return i < 0 ? INT64_MIN - i : i;
  };
  const int64_t ka = key(a), kb = key(b);
  return ka > kb ? ka - kb : kb - ka;
}

// References in long double, rounded once to T.
long double ref_exp(long double x) {
  return std::exp(x);
}
long double ref_log(long double x) {
  return std::log(x);
}
long double ref_tanh(long double x) {
  return std::tanh(x);
}
long double ref_sigmoid(long double x) {
  return 1.0L / (1.0L + std::exp(-x));
}

template <class T>
struct Fn {
  const char* name;
  void (*vec)(const T*, T*, int64_t);
  long double (*ref)(long double);
  double lo, hi;  // input range
  int64_t max_ulp;
};

template <class T>
std::vector<Fn<T>> functions() {
  const bool f32 = std::is_same_v<T, float>;
  return {
      {"exp", vm::exp, ref_exp, f32 ? -87.0 : -700.0, f32 ? 88.0 : 700.0, 4},
      {"log", vm::log, ref_log, 1e-30, 1e30, 4},
      {"tanh", vm::tanh, ref_tanh, -12.0, 12.0, 4},
      {"sigmoid", vm::sigmoid, ref_sigmoid, f32 ? -80.0 : -700.0, f32 ? 30.0 : 40.0, 6},
  };
}

template <class T>
void check_accuracy() {
  for (const Fn<T>& fn : functions<T>()) {
    CAPTURE(std::string(fn.name));
    int64_t worst = 0;
    for (int64_t n = 0; n <= 37; ++n) {
      // Values spread over the range (log-spaced for log), plus small ones near 0.
      std::vector<double> u = tgtest::test_values(n, n + 100);
      std::vector<T> x(n);
      for (int64_t i = 0; i < n; ++i) {
        const double t = (u[i] + 2.0) / 4.0;  // [0, 1)
        x[i] = std::string_view(fn.name) == "log"
                   ? T(std::exp(std::log(fn.lo) + t * (std::log(fn.hi) - std::log(fn.lo))))
                   : T(i % 5 == 0 ? u[i] * 1e-3 : fn.lo + t * (fn.hi - fn.lo));
      }
      const T canary = T(-12345.0);
      std::vector<T> y(n + 8, canary);
      fn.vec(x.data(), y.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const T want = static_cast<T>(fn.ref(static_cast<long double>(x[i])));
        const int64_t d = ulp_distance(y[i], want);
        worst = std::max(worst, d);
        if (d > fn.max_ulp) {
          CAPTURE(n);
          CAPTURE(i);
          CAPTURE(x[i]);
          CAPTURE(y[i]);
          CAPTURE(want);
          CHECK(d <= fn.max_ulp);
        }
      }
      for (int64_t i = n; i < n + 8; ++i) CHECK(y[i] == canary);
    }
    MESSAGE(fmt::format("{} worst ulp: {}", fn.name, worst));
    // In place (y == x) gives the same result as out of place.
    std::vector<T> x(37);
    for (int i = 0; i < 37; ++i) x[i] = T(0.1 + 0.05 * i);
    std::vector<T> y(37);
    fn.vec(x.data(), y.data(), 37);
    fn.vec(x.data(), x.data(), 37);
    CHECK(x == y);
  }
}

template <class T>
void check_specials() {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T inf = std::numeric_limits<T>::infinity();
  struct Case {
    void (*vec)(const T*, T*, int64_t);
    T in, out;  // out NaN means "expect NaN"
  };
  const Case cases[] = {
      {vm::exp, nan, nan},     {vm::exp, inf, inf},       {vm::exp, -inf, 0},
      {vm::exp, T(1000), inf}, {vm::exp, T(-1000), 0},    {vm::log, nan, nan},
      {vm::log, inf, inf},     {vm::log, 0, -inf},        {vm::log, T(-1), nan},
      {vm::log, -inf, nan},    {vm::tanh, nan, nan},      {vm::tanh, inf, 1},
      {vm::tanh, -inf, -1},    {vm::sigmoid, nan, nan},   {vm::sigmoid, inf, 1},
      {vm::sigmoid, -inf, 0},  {vm::sigmoid, T(1000), 1}, {vm::sigmoid, T(0), T(0.5)},
  };
  for (const Case& c : cases) {
    for (int64_t n : {1, 3, 8, 9, 13, 37}) {
      for (int64_t pos : {int64_t(0), n / 2, n - 1}) {
        std::vector<T> x(n, T(0.5));
        x[pos] = c.in;
        std::vector<T> y(n);
        c.vec(x.data(), y.data(), n);
        CAPTURE(c.in);
        CAPTURE(n);
        CAPTURE(pos);
        if (std::isnan(c.out)) {
          CHECK(std::isnan(y[pos]));
        } else {
          CHECK(y[pos] == c.out);
        }
        // Neighbours are unaffected.
        if (pos != 0) CHECK(std::isfinite(y[0]));
      }
    }
  }
}

}  // namespace

TEST_CASE("vmath: reports whether the vector path is in use") {
  MESSAGE("vmath::vectorized() = ", vm::vectorized());
  CHECK((vm::vectorized() || !__builtin_cpu_supports("avx2")));
}

TEST_CASE("vmath: f32 accuracy and tails") {
  check_accuracy<float>();
}
TEST_CASE("vmath: f64 accuracy and tails") {
  check_accuracy<double>();
}
TEST_CASE("vmath: f32 NaN and Inf") {
  check_specials<float>();
}
TEST_CASE("vmath: f64 NaN and Inf") {
  check_specials<double>();
}

TEST_CASE("vmath: sigmoid is accurate in the far negative tail") {
  // 0.5 + 0.5 * tanh(x / 2) cancels to 0 here; the true value is a normal float.
  for (float x : {-20.f, -40.f, -80.f}) {
    float y = 0;
    vm::sigmoid(&x, &y, 1);
    const auto want = static_cast<float>(ref_sigmoid(x));
    CAPTURE(x);
    CHECK(y > 0.f);
    CHECK(ulp_distance(y, want) <= 6);
  }
  for (double x : {-40.0, -300.0, -700.0}) {
    double y = 0;
    vm::sigmoid(&x, &y, 1);
    CAPTURE(x);
    CHECK(ulp_distance(y, static_cast<double>(ref_sigmoid(x))) <= 6);
  }
}
