// Broadcasting elementwise kernels against a naive reference that maps every output index
// back to each input by hand, over many shape pairs and input layouts.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <optional>

#include "reference.hpp"

namespace tg = tapegrad;
using tgtest::at;
using tgtest::Layout;

namespace {

const std::vector<tg::Shape> kShapes = {{},        {3},          {2, 3},       {1, 3},
                                        {2, 1},    {1},          {4, 2, 3},    {4, 1, 3},
                                        {1, 2, 1}, {2, 1, 1, 3}, {2, 4, 2, 3}, {0, 3}};
const Layout kLayouts[] = {Layout::contiguous, Layout::strided, Layout::transposed};

// NumPy's rule, spelled out independently of tg::broadcast_shapes.
std::optional<tg::Shape> naive_broadcast(const tg::Shape& a, const tg::Shape& b) {
  const int64_t rank = std::max(a.size(), b.size());
  tg::Shape out;
  for (int64_t i = 0; i < rank; ++i) {
    const int64_t ia = i - (rank - a.size());
    const int64_t ib = i - (rank - b.size());
    const int64_t da = ia < 0 ? 1 : a[ia];
    const int64_t db = ib < 0 ? 1 : b[ib];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

// The index into an input of shape `s` that feeds output index `idx`.
std::vector<int64_t> source_index(const tg::Shape& s, const std::vector<int64_t>& idx) {
  std::vector<int64_t> out(s.size());
  const int64_t lead = idx.size() - s.size();
  for (int64_t d = 0; d < s.size(); ++d) out[d] = s[d] == 1 ? 0 : idx[lead + d];
  return out;
}

using BinaryKernel = tg::Tensor (*)(const tg::Tensor&, const tg::Tensor&);

struct BinaryCase {
  const char* name;
  BinaryKernel kernel;
  double (*ref)(double, double);
};

template <class T>
T apply(const BinaryCase& c, T x, T y) {
  // The reference runs in T so it rounds exactly as the kernel must.
  const std::string_view n = c.name;
  if (n == "add") return x + y;
  if (n == "sub") return x - y;
  if (n == "mul") return x * y;
  if (n == "div") return x / y;
  if (n == "maximum") return x > y ? x : y;
  if (n == "minimum") return x < y ? x : y;
  if (n == "pow") return std::pow(std::abs(x), y);
  if (n == "gt") return T(x > y);
  if (n == "lt") return T(x < y);
  if (n == "ge") return T(x >= y);
  if (n == "le") return T(x <= y);
  if (n == "eq") return T(x == y);
  return T(c.ref(x, y));
}

tg::Tensor pow_abs(const tg::Tensor& a, const tg::Tensor& b) {
  return tg::kernel::pow(tg::kernel::abs(a), b);
}

const BinaryCase kBinary[] = {
    {"add", tg::kernel::add, nullptr},
    {"sub", tg::kernel::sub, nullptr},
    {"mul", tg::kernel::mul, nullptr},
    {"div", tg::kernel::div, nullptr},
    {"maximum", tg::kernel::maximum, nullptr},
    {"minimum", tg::kernel::minimum, nullptr},
    {"pow", pow_abs, nullptr},
    {"gt", tg::kernel::gt, nullptr},
    {"lt", tg::kernel::lt, nullptr},
    {"ge", tg::kernel::ge, nullptr},
    {"le", tg::kernel::le, nullptr},
    {"eq", tg::kernel::eq, nullptr},
};

template <class T>
void check_binary(const BinaryCase& c, const tg::Tensor& a, const tg::Tensor& b,
                  const tg::Shape& expected_shape) {
  const tg::Tensor out = c.kernel(a, b);
  REQUIRE(out.shape() == expected_shape);
  REQUIRE(out.is_contiguous());
  int64_t bad = 0;
  tgtest::for_each_index(expected_shape, [&](const std::vector<int64_t>& idx) {
    const T x = at<T>(a, source_index(a.shape(), idx));
    const T y = at<T>(b, source_index(b.shape(), idx));
    const T want = apply<T>(c, x, y);
    if (!(at<T>(out, idx) == want)) ++bad;
  });
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("broadcast: binary kernels match a naive reference over shape pairs and layouts") {
  int64_t pairs = 0;
  for (const tg::Shape& sa : kShapes) {
    for (const tg::Shape& sb : kShapes) {
      const std::optional<tg::Shape> shape = naive_broadcast(sa, sb);
      for (tg::DType dtype : {tg::f32, tg::f64}) {
        for (Layout la : kLayouts) {
          for (Layout lb : kLayouts) {
            const tg::Tensor a = tgtest::make(sa, dtype, 1, la);
            const tg::Tensor b = tgtest::make(sb, dtype, 2, lb);
            CAPTURE(tgtest::str(sa));
            CAPTURE(tgtest::str(sb));
            CAPTURE(std::string(tgtest::layout_name(la)));
            CAPTURE(std::string(tgtest::layout_name(lb)));
            CAPTURE(dtype);
            if (!shape) {
              CHECK_THROWS_AS(tg::kernel::add(a, b), tg::ShapeError);
              continue;
            }
            ++pairs;
            for (const BinaryCase& c : kBinary) {
              CAPTURE(std::string(c.name));
              tg::dispatch(dtype, [&]<class T>(T) { check_binary<T>(c, a, b, *shape); });
            }
          }
        }
      }
    }
  }
  CHECK(pairs > 500);
}

TEST_CASE("broadcast: comparisons see equal elements") {
  const tg::Tensor a = tg::tensor({1.f, 2.f, 3.f});
  const tg::Tensor b = tg::tensor({1.f, 5.f, 3.f});
  CHECK(tg::kernel::eq(a, b).to_vector<float>() == std::vector<float>{1, 0, 1});
  CHECK(tg::kernel::ge(a, b).to_vector<float>() == std::vector<float>{1, 0, 1});
  CHECK(tg::kernel::lt(a, b).to_vector<float>() == std::vector<float>{0, 1, 0});
}

TEST_CASE("broadcast: where over three broadcast operands") {
  const tg::Shape shapes[][3] = {{{2, 3}, {2, 3}, {2, 3}}, {{3}, {2, 1}, {}},
                                 {{2, 1}, {1, 3}, {3}},    {{4, 1, 3}, {2, 1}, {4, 2, 3}},
                                 {{}, {2, 3}, {1}},        {{1, 2, 1}, {4, 1, 3}, {2, 3}}};
  for (const auto& s : shapes) {
    for (Layout l : {Layout::contiguous, Layout::strided, Layout::transposed}) {
      for (tg::DType dtype : {tg::f32, tg::f64}) {
        CAPTURE(std::string(tgtest::layout_name(l)));
        // cond: 1 where the test value is positive, else 0.
        const tg::Tensor cond =
            tg::kernel::gt(tgtest::make(s[0], dtype, 3, l), tg::scalar_tensor(0.0, dtype));
        const tg::Tensor a = tgtest::make(s[1], dtype, 4, l);
        const tg::Tensor b = tgtest::make(s[2], dtype, 5, Layout::strided);
        const tg::Tensor out = tg::kernel::where(cond, a, b);
        tg::Shape expected = *naive_broadcast(*naive_broadcast(s[0], s[1]), s[2]);
        REQUIRE(out.shape() == expected);
        tg::dispatch(dtype, [&]<class T>(T) {
          int64_t bad = 0, taken_a = 0;
          tgtest::for_each_index(expected, [&](const std::vector<int64_t>& idx) {
            const bool c = at<T>(cond, source_index(cond.shape(), idx)) != T(0);
            taken_a += c;
            const T want =
                c ? at<T>(a, source_index(a.shape(), idx)) : at<T>(b, source_index(b.shape(), idx));
            if (at<T>(out, idx) != want) ++bad;
          });
          CHECK(bad == 0);
          if (cond.numel() > 4) CHECK(taken_a > 0);
        });
      }
    }
  }
}

TEST_CASE("broadcast: scalar forms take the tensor's dtype") {
  for (tg::DType dtype : {tg::f32, tg::f64}) {
    const tg::Tensor x = tgtest::make({2, 3}, dtype, 7, Layout::transposed);
    tg::dispatch(dtype, [&]<class T>(T) {
      const tg::Tensor r1 = tg::kernel::add(x, 0.5);
      const tg::Tensor r2 = tg::kernel::mul(x, 3.0);
      const tg::Tensor r3 = tg::kernel::rsub(1.0, x);
      const tg::Tensor r4 = tg::kernel::rdiv(2.0, x);
      for (const tg::Tensor& r : {r1, r2, r3, r4}) {
        CHECK(r.dtype() == dtype);
        CHECK(r.shape() == tg::Shape{2, 3});
      }
      tgtest::for_each_index({2, 3}, [&](const std::vector<int64_t>& idx) {
        const T v = at<T>(x, idx);
        CHECK(at<T>(r1, idx) == v + T(0.5));
        CHECK(at<T>(r2, idx) == v * T(3));
        CHECK(at<T>(r3, idx) == T(1) - v);
        CHECK(at<T>(r4, idx) == T(2) / v);
      });
    });
  }
}

TEST_CASE("broadcast: unary kernels on non-contiguous input") {
  for (Layout l : {Layout::contiguous, Layout::strided, Layout::transposed}) {
    const tg::Tensor x = tgtest::make({3, 4, 5}, tg::f64, 8, l);
    const tg::Tensor n = tg::kernel::neg(x);
    const tg::Tensor a = tg::kernel::abs(x);
    const tg::Tensor r = tg::kernel::relu(x);
    const tg::Tensor c = tg::kernel::clamp(x, -0.5, 0.75);
    const tg::Tensor s = tg::kernel::sign(x);
    const tg::Tensor q = tg::kernel::sqrt(a);
    const tg::Tensor p = tg::kernel::pow(x, 2.0);
    const tg::Tensor e = tg::kernel::exp(x);
    const tg::Tensor t = tg::kernel::tanh(x);
    int64_t bad = 0;
    tgtest::for_each_index({3, 4, 5}, [&](const std::vector<int64_t>& idx) {
      const double v = at<double>(x, idx);
      bad += at<double>(n, idx) != -v;
      bad += at<double>(a, idx) != std::abs(v);
      bad += at<double>(r, idx) != (v > 0 ? v : 0.0);
      bad += at<double>(c, idx) != std::clamp(v, -0.5, 0.75);
      bad += at<double>(s, idx) != (v > 0 ? 1.0 : -1.0);
      bad += at<double>(q, idx) != std::sqrt(std::abs(v));
      bad += at<double>(p, idx) != v * v;
      bad += std::abs(at<double>(e, idx) - std::exp(v)) > 1e-14 * std::exp(v);
      bad += std::abs(at<double>(t, idx) - std::tanh(v)) > 1e-15;
    });
    CAPTURE(std::string(tgtest::layout_name(l)));
    CHECK(bad == 0);
  }
}

TEST_CASE("broadcast: copy_into / add_into / fill write through any destination view") {
  for (Layout l : {Layout::contiguous, Layout::strided, Layout::transposed}) {
    CAPTURE(std::string(tgtest::layout_name(l)));
    tg::Tensor dst = tgtest::make({4, 2, 3}, tg::f32, 9, l);
    const tg::Tensor before = dst.clone();
    const tg::Tensor src = tgtest::make({2, 1}, tg::f32, 10, Layout::strided);
    const auto v0 = dst.version();
    tg::kernel::add_into(dst, src);
    CHECK(dst.version() > v0);
    tgtest::for_each_index({4, 2, 3}, [&](const std::vector<int64_t>& idx) {
      CHECK(at<float>(dst, idx) == at<float>(before, idx) + at<float>(src, {idx[1], 0}));
    });
    tg::kernel::copy_into(dst, src);
    tgtest::for_each_index({4, 2, 3}, [&](const std::vector<int64_t>& idx) {
      CHECK(at<float>(dst, idx) == at<float>(src, {idx[1], 0}));
    });
    tg::kernel::fill(dst, -3.0);
    tgtest::for_each_index(
        {4, 2, 3}, [&](const std::vector<int64_t>& idx) { CHECK(at<float>(dst, idx) == -3.f); });
    // A source that does not broadcast to the destination is refused.
    CHECK_THROWS_AS(tg::kernel::copy_into(dst, tg::zeros({3, 3})), tg::ShapeError);
    CHECK_THROWS_AS(tg::kernel::add_into(tg::zeros({3}), tg::zeros({2, 3})), tg::ShapeError);
  }
}

TEST_CASE("broadcast: sqrt, clamp and where keep IEEE semantics on every array length") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (tg::DType dtype : {tg::f32, tg::f64}) {
    for (int64_t n = 1; n <= 19; ++n) {
      std::vector<double> v(n);
      for (int64_t i = 0; i < n; ++i) v[i] = 0.37 * static_cast<double>(i) - 1.0;
      v[n - 1] = n % 3 == 0 ? nan : (n % 3 == 1 ? inf : -inf);
      const tg::Tensor x = tg::from_vector(v, {n}).to(dtype);
      const std::vector<double> s = tg::kernel::sqrt(x).to(tg::f64).to_vector<double>();
      const std::vector<double> c = tg::kernel::clamp(x, -0.5, 2.0).to(tg::f64).to_vector<double>();
      const tg::Tensor cond = tg::kernel::gt(x, tg::scalar_tensor(0.0, dtype));
      // The branch not taken may hold NaN; it must not leak into the result.
      const std::vector<double> w =
          tg::kernel::where(cond, x, tg::full({n}, nan, dtype)).to(tg::f64).to_vector<double>();
      for (int64_t i = 0; i < n; ++i) {
        const double xi = tg::dispatch(dtype, [&]<class T>(T) { return double(T(v[i])); });
        CAPTURE(n);
        CAPTURE(xi);
        if (std::isnan(xi) || xi < 0) {
          CHECK(std::isnan(s[i]));
        } else {
          CHECK(s[i] == tg::dispatch(dtype, [&]<class T>(T) { return double(std::sqrt(T(xi))); }));
        }
        if (std::isnan(xi)) {
          CHECK(std::isnan(c[i]));
        } else {
          CHECK(c[i] ==
                std::clamp(xi,
                           tg::dispatch(dtype, [](auto t) { return double(decltype(t)(-0.5)); }),
                           2.0));
        }
        if (xi > 0) {
          CHECK(w[i] == xi);
        } else {
          CHECK(std::isnan(w[i]));
        }
      }
    }
  }
}
