// tg::data::adding_problem: shapes, exactly two markers per sequence (one in each half), the
// target as the sum of the two marked values, the same data from the same seed, and the
// lengths it refuses.
#include <random>

#include <doctest/doctest.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

TEST_CASE("adding_problem: two markers, one per half, and the target is their values' sum") {
  const int64_t n = 64, steps = 10;
  std::mt19937_64 gen(3);
  const tg::data::Dataset d = tg::data::adding_problem(n, steps, gen);
  REQUIRE(d.X.shape() == tg::Shape{n, steps, 2});
  REQUIRE(d.y.shape() == tg::Shape{n, 1});
  const std::vector<float> x = d.X.to_vector<float>(), y = d.y.to_vector<float>();
  double targets = 0;
  for (int64_t i = 0; i < n; ++i) {
    CAPTURE(i);
    int markers = 0, first_half = 0;
    float sum = 0;
    for (int64_t t = 0; t < steps; ++t) {
      const float value = x[static_cast<std::size_t>((i * steps + t) * 2)];
      const float marker = x[static_cast<std::size_t>((i * steps + t) * 2 + 1)];
      CHECK((value >= 0.0f && value < 1.0f));
      CHECK((marker == 0.0f || marker == 1.0f));
      if (marker == 1.0f) {
        ++markers;
        first_half += t < steps / 2;
        sum += value;
      }
    }
    CHECK(markers == 2);
    CHECK(first_half == 1);
    CHECK(y[static_cast<std::size_t>(i)] == doctest::Approx(sum));
    targets += y[static_cast<std::size_t>(i)];
  }
  // The targets' mean is near E[U + U] = 1 (64 samples: within 0.2 of it).
  CHECK(targets / n == doctest::Approx(1.0).epsilon(0.2));
}

TEST_CASE("adding_problem: the same generator state gives the same data") {
  std::mt19937_64 a(7), b(7), c(8);
  const tg::data::Dataset da = tg::data::adding_problem(5, 6, a);
  const tg::data::Dataset db = tg::data::adding_problem(5, 6, b);
  const tg::data::Dataset dc = tg::data::adding_problem(5, 6, c);
  CHECK(da.X.to_vector<float>() == db.X.to_vector<float>());
  CHECK(da.y.to_vector<float>() == db.y.to_vector<float>());
  CHECK(da.X.to_vector<float>() != dc.X.to_vector<float>());
}

TEST_CASE("adding_problem: odd or short lengths and no sequences are refused") {
  std::mt19937_64 gen(0);
  for (const auto& [n, steps] : {std::pair<int64_t, int64_t>{4, 7}, {4, 2}, {0, 10}}) {
    CAPTURE(steps);
    CHECK_THROWS_WITH_AS(tg::data::adding_problem(n, steps, gen),
                         doctest::Contains("expected at least 1 sequence and an even length >= 4"),
                         tg::ValueError);
  }
  CHECK(tg::data::kAddingBaselineMse == doctest::Approx(1.0 / 6.0));
}
