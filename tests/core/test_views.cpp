// Views share storage and see writes; reshape of non-contiguous data, contiguous() of a view
// and clone() copy.
#include <doctest/doctest.h>

#include "reference.hpp"

namespace tg = tapegrad;
namespace k = tapegrad::kernel;
using tgtest::at;

namespace {

// Writes `value` at a multi-index of `t` by going through its strides.
void poke(const tg::Tensor& t, const std::vector<int64_t>& idx, float value) {
  float* base = static_cast<float*>(t.impl().storage->data()) + t.offset();
  int64_t off = 0;
  for (std::size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.strides()[d];
  base[off] = value;
}

tg::Tensor iota(const tg::Shape& s) {
  return k::reshape(tg::arange(s.numel()), s);
}

}  // namespace

TEST_CASE("views: test layouts hold the values they claim") {
  for (auto l : {tgtest::Layout::strided, tgtest::Layout::transposed}) {
    const tg::Tensor v = tgtest::make({3, 4, 2}, tg::f64, 5, l);
    CHECK_FALSE(v.is_contiguous());
    const std::vector<double> want = tgtest::test_values(24, 5);
    int64_t i = 0;
    tgtest::for_each_index({3, 4, 2}, [&](const std::vector<int64_t>& idx) {
      CHECK(at<double>(v, idx) == want[i++]);
    });
  }
}

TEST_CASE("views: transpose and permute alias their input") {
  const tg::Tensor x = iota({2, 3, 4});
  const tg::Tensor t = k::transpose(x, 0, 2);
  CHECK(t.shape() == tg::Shape{4, 3, 2});
  CHECK(t.shares_storage_with(x));
  CHECK_FALSE(t.is_contiguous());
  tgtest::for_each_index(t.shape(), [&](const std::vector<int64_t>& i) {
    CHECK(at<float>(t, i) == at<float>(x, {i[2], i[1], i[0]}));
  });
  poke(t, {3, 1, 0}, -7.f);
  CHECK(at<float>(x, {0, 1, 3}) == -7.f);

  const tg::Tensor p = k::permute(x, {1, 2, 0});
  CHECK(p.shape() == tg::Shape{3, 4, 2});
  CHECK(p.shares_storage_with(x));
  tgtest::for_each_index(p.shape(), [&](const std::vector<int64_t>& i) {
    CHECK(at<float>(p, i) == at<float>(x, {i[2], i[0], i[1]}));
  });
  // Negative axes count from the end.
  CHECK(k::transpose(x, -1, -3).strides() == t.strides());
  CHECK_THROWS_AS(k::permute(x, {0, 0, 1}), tg::ShapeError);
  CHECK_THROWS_AS(k::permute(x, {0, 1}), tg::ShapeError);
}

TEST_CASE("views: slice with step, negative bounds and clamping") {
  const tg::Tensor x = iota({10, 3});
  const tg::Tensor s = k::slice(x, 0, 1, 8, 3);  // rows 1, 4, 7
  CHECK(s.shape() == tg::Shape{3, 3});
  CHECK(s.shares_storage_with(x));
  CHECK(s.to_vector<float>() == std::vector<float>{3, 4, 5, 12, 13, 14, 21, 22, 23});
  poke(s, {2, 1}, 100.f);
  CHECK(at<float>(x, {7, 1}) == 100.f);

  CHECK(k::slice(x, 0, -3, 100).shape() == tg::Shape{3, 3});  // rows 7..9
  CHECK(k::slice(x, 0, -3, 100).to_vector<float>()[0] == 21.f);
  CHECK(k::slice(x, 0, 5, 2).shape() == tg::Shape{0, 3});  // empty, not negative
  CHECK(k::slice(x, 1, 0, 3, 2).to_vector<float>() == std::vector<float>{0,  2,  3,  5,  6,  8,  9,
                                                                         11, 12, 14, 15, 17, 18, 20,
                                                                         21, 23, 24, 26, 27, 29});
  // A slice of a slice composes offsets and strides.
  const tg::Tensor ss = k::slice(k::slice(x, 0, 2, 10, 2), 0, 1, 4, 2);  // rows 4, 8
  CHECK(ss.to_vector<float>() == std::vector<float>{12, 13, 14, 24, 25, 26});
}

TEST_CASE("views: select drops an axis and aliases") {
  const tg::Tensor x = iota({2, 3, 4});
  const tg::Tensor s = k::select(x, 1, 2);
  CHECK(s.shape() == tg::Shape{2, 4});
  CHECK(s.to_vector<float>() == std::vector<float>{8, 9, 10, 11, 20, 21, 22, 23});
  CHECK(k::select(x, 1, -1).to_vector<float>() == s.to_vector<float>());
  poke(s, {1, 3}, -1.f);
  CHECK(at<float>(x, {1, 2, 3}) == -1.f);
  const tg::Tensor e = k::select(k::select(k::select(x, 0, 1), 0, 2), 0, 3);
  CHECK(e.dim() == 0);
  CHECK(e.item() == -1.0);
}

TEST_CASE("views: unsqueeze and broadcast_to alias") {
  const tg::Tensor x = iota({3});
  const tg::Tensor u = k::unsqueeze(x, 0);
  CHECK(u.shape() == tg::Shape{1, 3});
  CHECK(u.is_contiguous());
  CHECK(k::unsqueeze(x, -1).shape() == tg::Shape{3, 1});
  CHECK(u.shares_storage_with(x));
  const tg::Tensor b = k::broadcast_to(k::unsqueeze(x, 1), {2, 3, 4});
  CHECK(b.shape() == tg::Shape{2, 3, 4});
  CHECK(b.shares_storage_with(x));
  CHECK(b.strides()[0] == 0);
  CHECK(b.strides()[2] == 0);
  poke(x, {1}, 42.f);
  CHECK(at<float>(b, {1, 1, 3}) == 42.f);
  CHECK(at<float>(b, {0, 1, 0}) == 42.f);
  CHECK_THROWS_AS(k::broadcast_to(x, {2, 4}), tg::ShapeError);
  CHECK_THROWS_AS(k::broadcast_to(iota({2, 3}), {3}), tg::ShapeError);
}

TEST_CASE("views: reshape aliases contiguous input and copies the rest") {
  const tg::Tensor x = iota({2, 3, 4});
  const tg::Tensor r = k::reshape(x, {6, -1});
  CHECK(r.shape() == tg::Shape{6, 4});
  CHECK(r.shares_storage_with(x));
  poke(r, {5, 3}, 9.5f);
  CHECK(at<float>(x, {1, 2, 3}) == 9.5f);

  // Contiguous but offset: still a view, with the offset kept.
  const tg::Tensor row = k::select(x, 0, 1);
  const tg::Tensor flat = k::reshape(row, {12});
  CHECK(flat.shares_storage_with(x));
  CHECK(flat.to_vector<float>()[0] == 12.f);

  const tg::Tensor t = k::transpose(x, 1, 2);
  const tg::Tensor rt = k::reshape(t, {2, 12});
  CHECK_FALSE(rt.shares_storage_with(x));
  CHECK(rt.is_contiguous());
  CHECK(rt.to_vector<float>() == t.to_vector<float>());
  CHECK(rt.to_vector<float>()[1] == 4.f);  // x[0][1][0]
  poke(rt, {0, 0}, -5.f);
  CHECK(at<float>(x, {0, 0, 0}) == 0.f);  // the copy does not write back

  CHECK_THROWS_AS(k::reshape(x, {}), tg::ShapeError);  // 24 elements do not fit a scalar
  CHECK(k::reshape(iota({1, 1}), {}).dim() == 0);
}

TEST_CASE("views: contiguous() and clone()") {
  const tg::Tensor x = iota({3, 4});
  CHECK(x.contiguous().shares_storage_with(x));
  const tg::Tensor c = x.clone();
  CHECK_FALSE(c.shares_storage_with(x));
  CHECK(c.to_vector<float>() == x.to_vector<float>());
  poke(c, {0, 0}, 77.f);
  CHECK(at<float>(x, {0, 0}) == 0.f);

  const tg::Tensor t = k::transpose(x, 0, 1);
  const tg::Tensor tc = t.contiguous();
  CHECK_FALSE(tc.shares_storage_with(x));
  CHECK(tc.is_contiguous());
  CHECK(tc.shape() == tg::Shape{4, 3});
  CHECK(tc.to_vector<float>() == std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  // A clone of a broadcast view is a dense tensor with the repeated values.
  const tg::Tensor bc = k::broadcast_to(tg::tensor({1.f, 2.f}), {3, 2}).clone();
  CHECK(bc.strides() == tg::Shape{2, 1});
  CHECK(bc.to_vector<float>() == std::vector<float>{1, 2, 1, 2, 1, 2});
  // to() converts, and is the identity for the same dtype.
  CHECK(x.to(tg::f32).shares_storage_with(x));
  CHECK(t.to(tg::f64).to_vector<double>()[1] == 4.0);
}

TEST_CASE("views: concat copies along an axis") {
  const tg::Tensor a = iota({2, 2});
  const tg::Tensor b = k::transpose(iota({3, 2}), 0, 1);  // (2, 3), non-contiguous
  const tg::Tensor c = k::concat({a, b}, 1);
  CHECK(c.shape() == tg::Shape{2, 5});
  CHECK(c.to_vector<float>() == std::vector<float>{0, 1, 0, 2, 4, 2, 3, 1, 3, 5});
  CHECK_THROWS_AS(k::concat({a, iota({3, 3})}, 1), tg::ShapeError);
}
