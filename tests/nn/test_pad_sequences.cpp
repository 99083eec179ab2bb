// tg::data::pad_sequences: Keras's utility (padding and truncating "pre" by default), with
// the mask and lengths that RNN::run and fit take.
#include <doctest/doctest.h>

#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

namespace {

std::vector<double> values_of(const tg::Tensor& t) {
  return t.to(tg::f64).to_vector<double>();
}

// (T) sequences 1..n, as Keras's examples use.
std::vector<tg::Tensor> counting(const std::vector<int>& lengths) {
  std::vector<tg::Tensor> out;
  for (int n : lengths) {
    std::vector<float> v;
    for (int i = 1; i <= n; ++i) v.push_back(static_cast<float>(i));
    out.push_back(tg::from_vector(v, {n}));
  }
  return out;
}

}  // namespace

TEST_CASE("pad_sequences: Keras's defaults pad and truncate at the front, to the longest") {
  const tg::data::PaddedSequences p = tg::data::pad_sequences(counting({1, 3, 2}));
  CHECK(p.values.shape() == tg::Shape{3, 3});
  CHECK(p.values.dtype() == tg::f32);
  CHECK(values_of(p.values) == std::vector<double>{0, 0, 1, 1, 2, 3, 0, 1, 2});
  CHECK(values_of(p.mask) == std::vector<double>{0, 0, 1, 1, 1, 1, 0, 1, 1});
  CHECK(p.lengths == std::vector<int64_t>{1, 3, 2});
}

TEST_CASE("pad_sequences: padding post, truncating pre/post, maxlen and value") {
  const auto seqs = counting({4, 1});
  const auto post = tg::data::pad_sequences(seqs, {.maxlen = 3, .padding = "post", .value = -1});
  CHECK(values_of(post.values) == std::vector<double>{2, 3, 4, 1, -1, -1});
  CHECK(values_of(post.mask) == std::vector<double>{1, 1, 1, 1, 0, 0});
  CHECK(post.lengths == std::vector<int64_t>{3, 1});
  const auto cut_end = tg::data::pad_sequences(seqs, {.maxlen = 3, .truncating = "post"});
  CHECK(values_of(cut_end.values) == std::vector<double>{1, 2, 3, 0, 0, 1});
  const auto longer = tg::data::pad_sequences(seqs, {.maxlen = 5, .padding = "post"});
  CHECK(values_of(longer.values) == std::vector<double>{1, 2, 3, 4, 0, 1, 0, 0, 0, 0});
}

TEST_CASE("pad_sequences: (T_i, F) sequences give (B, maxlen, F) in their dtype") {
  const tg::Tensor a = tg::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2});
  const tg::Tensor b = tg::from_vector(std::vector<double>{5, 6}, {1, 2});
  const auto p = tg::data::pad_sequences({a, b}, {.padding = "post"});
  CHECK(p.values.shape() == tg::Shape{2, 2, 2});
  CHECK(p.values.dtype() == tg::f64);
  CHECK(p.mask.dtype() == tg::f64);
  CHECK(values_of(p.values) == std::vector<double>{1, 2, 3, 4, 5, 6, 0, 0});
  CHECK(values_of(p.mask) == std::vector<double>{1, 1, 1, 0});
}

TEST_CASE("pad_sequences: the padded batch and mask run through an RNN") {
  tg::manual_seed(1);
  const tg::Tensor a = tg::randn({5, 2});
  const tg::Tensor b = tg::randn({2, 2});
  tg::nn::LSTM layer(2, 3);
  const auto p = tg::data::pad_sequences({a, b}, {.padding = "post"});
  const tg::Tensor h = layer.run(p.values, {}, p.mask).output;
  const tg::Tensor alone = layer(tg::reshape(b, {1, 2, 2}));
  const auto got = values_of(tg::select(h, 0, 1));
  const auto want = values_of(tg::select(alone, 0, 0));
  for (std::size_t i = 0; i < got.size(); ++i)
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
}

TEST_CASE("pad_sequences: errors name the option or the sequences") {
  const auto seqs = counting({2, 1});
  CHECK_THROWS_WITH_AS(tg::data::pad_sequences(seqs, {.padding = "middle"}),
                       doctest::Contains("padding must be \"pre\" or \"post\", got \"middle\""),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::data::pad_sequences(seqs, {.truncating = "both"}),
                       doctest::Contains("truncating must be \"pre\" or \"post\""), tg::ValueError);
  CHECK_THROWS_AS(tg::data::pad_sequences(seqs, {.maxlen = -1}), tg::ValueError);
  CHECK_THROWS_AS(tg::data::pad_sequences({}), tg::ValueError);
  CHECK_THROWS_WITH_AS(
      tg::data::pad_sequences({tg::zeros({2, 3}), tg::zeros({2, 4})}),
      doctest::Contains("sequence 1 has shape [2,4] (f32), sequence 0 has shape [2,3] (f32)"),
      tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::data::pad_sequences({tg::zeros({2, 3, 1})}),
                       doctest::Contains("expected (time) or (time, features)"), tg::ShapeError);
}

TEST_CASE("pad_sequences: a maxlen too large is a tg::Error, never an overflow or bad_alloc") {
  const auto seqs = counting({2, 1});
  // 2 * 2^62 elements overflow int64: the shape is refused where it is made.
  CHECK_THROWS_WITH_AS(
      tg::data::pad_sequences(seqs, {.maxlen = int64_t{1} << 62}),
      doctest::Contains("pad_sequences: shape [2,4611686018427387904] is too large"),
      tg::ShapeError);
#if !defined(__SANITIZE_ADDRESS__)
  // 2 * 2^56 floats (2^59 bytes) fit int64 but no address space, overcommit or not: the
  // allocator's tg::Error, not std::bad_alloc. (AddressSanitizer aborts on such a request
  // itself, allocation-size-too-big; the Release build covers it.)
  CHECK_THROWS_AS(tg::data::pad_sequences(seqs, {.maxlen = int64_t{1} << 56}), tg::Error);
#endif
}
