#include <check_gradients.hpp>

using namespace tg_test;

TEST_CASE("view ops gradcheck") {
  tg::manual_seed(30);
  const tg::Tensor x = uniform_f64({2, 3, 4});
  check_gradients([](const auto& v) { return tg::reshape(v[0], {4, -1}); }, {x});
  check_gradients([](const auto& v) { return tg::transpose(v[0], 0, 2); }, {x});
  check_gradients([](const auto& v) { return tg::permute(v[0], {2, 0, 1}); }, {x});
  check_gradients([](const auto& v) { return tg::slice(v[0], 2, 1, 4, 2); }, {x});
  check_gradients([](const auto& v) { return tg::slice(v[0], 1, -2, 3); }, {x});
  check_gradients([](const auto& v) { return tg::select(v[0], 1, -1); }, {x});
  check_gradients([](const auto& v) { return tg::unsqueeze(v[0], 1); }, {x});
  check_gradients([](const auto& v) { return tg::broadcast_to(v[0], {5, 2, 3, 4}); }, {x});
  check_gradients([](const auto& v) { return tg::sum_to(v[0], {3, 1}); }, {x});
  // x's 3 rows land at rows 1, 3, 5 of a (2, 7, 4) tensor of zeros.
  check_gradients([](const auto& v) { return tg::embed_slice(v[0], {2, 7, 4}, 1, 1, 2); }, {x});
  // A reshape of a non-contiguous view copies; its gradient must still land in place.
  check_gradients([](const auto& v) { return tg::reshape(tg::transpose(v[0], 0, 1), {-1}); }, {x});
}

TEST_CASE("concat, stack and split gradcheck") {
  tg::manual_seed(31);
  const tg::Tensor a = uniform_f64({2, 3});
  const tg::Tensor b = uniform_f64({2, 1});
  const tg::Tensor c = uniform_f64({2, 3});
  check_gradients([](const auto& v) { return tg::concat({v[0], v[1], v[2]}, 1); }, {a, b, c});
  check_gradients([](const auto& v) { return tg::stack({v[0], v[1]}, 1); }, {a, c});
  check_gradients(
      [](const auto& v) {
        const auto parts = tg::split(v[0], std::vector<int64_t>{1, 2}, 1);
        return parts[0] * 2.0 + tg::sum(parts[1], {1}, true);
      },
      {a});
  const auto halves = tg::split(tg::ones({4, 2}), 2, 0);
  CHECK(halves.size() == 2);
  CHECK(halves[1].shape() == tg::Shape{2, 2});
}

TEST_CASE("views share storage with their input") {
  const tg::Tensor x = tg::arange(12);
  const tg::Tensor v = tg::transpose(tg::reshape(x, {3, 4}), 0, 1);
  CHECK(v.shares_storage_with(x));
  CHECK(v.shape() == tg::Shape{4, 3});
  CHECK(tg::select(v, 0, 1).to_vector<float>() == std::vector<float>{1, 5, 9});
}

TEST_CASE("shape errors name the op and the shapes") {
  const tg::Tensor x = tg::ones({2, 3});
  CHECK_THROWS_WITH_AS(tg::reshape(x, {4, 2}),
                       doctest::Contains("reshape: cannot reshape [2,3] (6 elements) into [4,2]"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::concat({x, tg::ones({3, 3})}, 1),
                       doctest::Contains("concat: shapes [2,3] and [3,3] differ outside axis 1"),
                       tg::ShapeError);
  CHECK_THROWS_AS(tg::split(x, 2, 1), tg::ShapeError);
  CHECK_THROWS_AS(tg::permute(x, {0, 0}), tg::ShapeError);
  CHECK_THROWS_AS(tg::select(x, 0, 5), tg::ShapeError);
}
