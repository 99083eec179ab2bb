// sum and max over every subset of axes of a rank-3 tensor, with and without keepdim, in f32
// and f64, on contiguous and non-contiguous input, against a naive loop; and sum_to.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "reference.hpp"

namespace tg = tapegrad;
namespace k = tapegrad::kernel;
using tgtest::at;
using tgtest::Layout;

namespace {

// Reference: for every output index, loop over the reduced axes of the input.
template <class T>
std::vector<double> naive_reduce(const tg::Tensor& x, const std::vector<int64_t>& axes, bool is_max,
                                 tg::Shape& kept) {
  kept = x.shape();
  for (int64_t a : axes) kept[a] = 1;
  std::vector<double> out(kept.numel(), is_max ? -std::numeric_limits<double>::infinity() : 0.0);
  tgtest::for_each_index(x.shape(), [&](const std::vector<int64_t>& idx) {
    int64_t flat = 0;
    for (int64_t d = 0; d < x.dim(); ++d) flat = flat * kept[d] + (kept[d] == 1 ? 0 : idx[d]);
    const double v = at<T>(x, idx);
    out[flat] = is_max ? std::max(out[flat], v) : out[flat] + v;
  });
  return out;
}

}  // namespace

TEST_CASE("reduce: sum and max over every subset of axes") {
  const tg::Shape shape{3, 4, 5};
  int64_t checked = 0;
  for (tg::DType dtype : {tg::f32, tg::f64}) {
    for (Layout layout : {Layout::contiguous, Layout::strided, Layout::transposed}) {
      const tg::Tensor x = tgtest::make(shape, dtype, 11, layout);
      for (int mask = 0; mask < 8; ++mask) {
        std::vector<int64_t> axes;
        for (int d = 0; d < 3; ++d) {
          if (mask & (1 << d)) axes.push_back(d);
        }
        // Empty axes mean "all axes"; spell that both ways.
        const std::vector<int64_t> effective = axes.empty() ? std::vector<int64_t>{0, 1, 2} : axes;
        for (bool keepdim : {false, true}) {
          for (bool is_max : {false, true}) {
            CAPTURE(dtype);
            CAPTURE(std::string(tgtest::layout_name(layout)));
            CAPTURE(mask);
            CAPTURE(keepdim);
            CAPTURE(is_max);
            const tg::Tensor r = is_max ? k::max(x, axes, keepdim) : k::sum(x, axes, keepdim);
            tg::Shape kept;
            const std::vector<double> want = tg::dispatch(
                dtype, [&]<class T>(T) { return naive_reduce<T>(x, effective, is_max, kept); });
            tg::Shape expected;
            for (int64_t d = 0; d < 3; ++d) {
              const bool reduced =
                  std::find(effective.begin(), effective.end(), d) != effective.end();
              if (!reduced) expected.push_back(shape[d]);
              if (reduced && keepdim) expected.push_back(1);
            }
            REQUIRE(r.shape() == expected);
            REQUIRE(r.dtype() == dtype);
            const std::vector<double> got = r.to(tg::f64).to_vector<double>();
            REQUIRE(got.size() == want.size());
            const double tol = dtype == tg::f32 ? 2e-6 : 1e-13;
            for (std::size_t i = 0; i < got.size(); ++i) {
              if (is_max) {
                CHECK(got[i] == want[i]);
              } else {
                CHECK(std::abs(got[i] - want[i]) <= tol * 60);
              }
            }
            ++checked;
          }
        }
      }
    }
  }
  CHECK(checked == 2 * 3 * 8 * 2 * 2);
}

TEST_CASE("reduce: negative axes normalize, a repeated one throws (as in NumPy)") {
  const tg::Tensor x = k::reshape(tg::arange(24), {2, 3, 4});
  CHECK(k::sum(x, {-1}, false).to_vector<float>() == k::sum(x, {2}, false).to_vector<float>());
  CHECK_THROWS_AS(k::sum(x, {0, -3}, false), tg::ShapeError);
  CHECK(k::sum(x, {}, false).dim() == 0);
  CHECK(k::sum(x, {}, false).item() == 276.0);
  CHECK(k::max(x, {0, 2}, true).to_vector<float>() == std::vector<float>{15, 19, 23});
  CHECK_THROWS_AS(k::sum(x, {3}, false), tg::ShapeError);
  CHECK_THROWS_AS(k::max(tg::zeros({0, 3}), {0}, false), tg::ShapeError);
  // Summing an empty axis gives zeros.
  CHECK(k::sum(tg::zeros({0, 3}), {0}, false).to_vector<float>() == std::vector<float>{0, 0, 0});
}

TEST_CASE("reduce: max propagates NaN") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const tg::Tensor x = tg::from_vector<float>({1, nan, 3, 4, 5, 6}, {2, 3});
  const auto rows = k::max(x, {1}, false).to_vector<float>();
  CHECK(std::isnan(rows[0]));
  CHECK(rows[1] == 6.f);
  const auto cols = k::max(x, {0}, false).to_vector<float>();
  CHECK(cols[0] == 4.f);
  CHECK(std::isnan(cols[1]));
  const auto cols_t = k::max(k::transpose(x, 0, 1), {1}, false).to_vector<float>();
  CHECK(std::isnan(cols_t[1]));
  CHECK(cols_t[2] == 6.f);
}

TEST_CASE("reduce: sum_to undoes broadcasting") {
  const tg::Tensor g = tgtest::make({4, 2, 3}, tg::f64, 12, Layout::transposed);
  const tg::Shape targets[] = {{4, 2, 3}, {2, 3}, {1, 3}, {2, 1}, {3}, {}, {4, 1, 3}, {1, 1, 1}};
  for (const tg::Shape& target : targets) {
    CAPTURE(tgtest::str(target));
    const tg::Tensor r = k::sum_to(g, target);
    REQUIRE(r.shape() == target);
    std::vector<double> want(target.numel(), 0.0);
    tgtest::for_each_index(g.shape(), [&](const std::vector<int64_t>& idx) {
      int64_t flat = 0;
      const int64_t lead = 3 - target.size();
      for (int64_t d = 0; d < target.size(); ++d) {
        flat = flat * target[d] + (target[d] == 1 ? 0 : idx[lead + d]);
      }
      want[flat] += at<double>(g, idx);
    });
    const std::vector<double> got = r.to_vector<double>();
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]));
  }
  // A shape that g was not broadcast from is refused, not silently reshaped.
  CHECK_THROWS_AS(k::sum_to(g, {3, 2}), tg::ShapeError);
  CHECK_THROWS_AS(k::sum_to(g, {4, 6}), tg::ShapeError);
  CHECK_THROWS_AS(k::sum_to(g, {6}), tg::ShapeError);
  CHECK_THROWS_AS(k::sum_to(g, {5, 4, 2, 3}), tg::ShapeError);
}
