#include <doctest/doctest.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

TEST_CASE("smoke: add broadcasts") {
  tg::Tensor a = tg::ones({2, 3});
  tg::Tensor b = tg::tensor({1.f, 2.f, 3.f});
  tg::Tensor c = tg::kernel::add(a, b);
  CHECK(c.shape() == tg::Shape{2, 3});
  CHECK(c.to_vector<float>() == std::vector<float>{2, 3, 4, 2, 3, 4});
}
