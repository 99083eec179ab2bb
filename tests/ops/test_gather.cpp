// index_select and index_add (PyTorch's names and semantics): values, gradients (a
// scatter-add and a gather), and the errors on bad indices and shapes.
#include <check_gradients.hpp>

using namespace tg_test;

TEST_CASE("index_select gathers slices along an axis in the index's order") {
  const tg::Tensor x = tg::reshape(tg::arange(12), {3, 4});
  // Rows 2, 0, 2: an index may repeat and leave slices out.
  CHECK(tg::index_select(x, 0, {2, 0, 2}).to_vector<float>() ==
        std::vector<float>{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11});
  const tg::Tensor cols = tg::index_select(x, -1, {3, 1});
  CHECK(cols.shape() == tg::Shape{3, 2});
  CHECK(cols.to_vector<float>() == std::vector<float>{3, 1, 7, 5, 11, 9});
  // A non-contiguous input is read through its view.
  CHECK(tg::index_select(tg::transpose(x, 0, 1), 0, {1}).to_vector<float>() ==
        std::vector<float>{1, 5, 9});
  CHECK(tg::index_select(x, 1, {}).shape() == tg::Shape{3, 0});
}

TEST_CASE("index_add adds source slices into the indexed slices, repeats summed") {
  const tg::Tensor x = tg::ones({3, 2});
  const tg::Tensor source = tg::reshape(tg::arange(6), {3, 2});
  CHECK(tg::index_add(x, 0, {2, 0, 2}, source).to_vector<float>() ==
        std::vector<float>{3, 4, 1, 1, 5, 7});
  CHECK(x.to_vector<float>() == std::vector<float>(6, 1.f));  // not in place
}

TEST_CASE("index_select and index_add gradcheck, repeated indices included") {
  tg::manual_seed(32);
  const tg::Tensor x = uniform_f64({2, 5, 3});
  for (int64_t axis : {0, 1, 2}) {
    CAPTURE(axis);
    const std::vector<int64_t> index =
        axis == 0 ? std::vector<int64_t>{1, 1, 0} : std::vector<int64_t>{2, 0, 2, 1};
    check_gradients([&](const auto& v) { return tg::index_select(v[0], axis, index); }, {x});
    tg::Shape source_shape = x.shape();
    source_shape[axis] = static_cast<int64_t>(index.size());
    check_gradients([&](const auto& v) { return tg::index_add(v[0], axis, index, v[1]); },
                    {x, uniform_f64(source_shape)});
  }
}

TEST_CASE("index_select's gradient sums the gradients of a repeated index") {
  const tg::Tensor x = tg::zeros({3}, tg::f64).requires_grad_(true);
  tg::sum(tg::index_select(x, 0, {2, 2, 0}) * tg::tensor({1.0, 10.0, 100.0})).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{100, 0, 11});
}

TEST_CASE("index_select and index_add errors name the op, the bad index and the shapes") {
  const tg::Tensor x = tg::ones({2, 5});
  CHECK_THROWS_WITH_AS(
      tg::index_select(x, 1, {0, 5}),
      doctest::Contains("index_select: index 5 (at position 1 of the index) is out of range for "
                        "axis 1 of shape [2,5]; indices must lie in [0, 5)"),
      tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::index_select(x, 0, {-1}),
                       doctest::Contains("index_select: index -1 (at position 0"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::index_select(x, 2, {0}), doctest::Contains("index_select"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(
      tg::index_add(x, 1, {0, 1}, tg::ones({2, 3})),
      doctest::Contains("index_add: source has shape [2,3], expected [2,2] (the input's shape "
                        "[2,5] with axis 1 of extent 2, the index's length)"),
      tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::index_add(x, 1, {7}, tg::ones({2, 1})),
                       doctest::Contains("index_add: index 7 (at position 0"), tg::ShapeError);
  CHECK_THROWS_AS(tg::index_add(x, 1, {0}, tg::ones({2, 1}, tg::f64)), tg::DTypeError);
}
