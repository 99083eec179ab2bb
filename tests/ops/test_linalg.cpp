#include <check_gradients.hpp>

using namespace tg_test;

TEST_CASE("matmul gradcheck: 2-D, folded leading axes, batched, transposed views") {
  tg::manual_seed(40);
  check_gradients([](const auto& v) { return tg::matmul(v[0], v[1]); },
                  {uniform_f64({3, 4}), uniform_f64({4, 2})});
  check_gradients([](const auto& v) { return tg::matmul(v[0], v[1]); },
                  {uniform_f64({2, 3, 4}), uniform_f64({4, 5})});
  check_gradients([](const auto& v) { return tg::matmul(v[0], v[1]); },
                  {uniform_f64({2, 3, 4}), uniform_f64({2, 4, 2})});
  check_gradients(
      [](const auto& v) {
        return tg::matmul(tg::transpose(v[0], 0, 1), tg::transpose(v[1], 0, 1));
      },
      {uniform_f64({4, 3}), uniform_f64({2, 4})});
}

TEST_CASE("matmul shape error names both shapes and the inner dimensions") {
  CHECK_THROWS_WITH_AS(tg::matmul(tg::ones({32, 64}), tg::ones({32, 64})),
                       doctest::Contains("matmul: shapes [32,64] and [32,64] cannot be multiplied "
                                         "(inner dimensions 64 and 32 differ)"),
                       tg::ShapeError);
}
