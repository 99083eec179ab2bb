// fmt::format("{}", t): values in nested brackets, then shape and dtype; big tensors are
// summarized with "...".
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "reference.hpp"

namespace tg = tapegrad;
namespace k = tapegrad::kernel;

TEST_CASE("format: a 2x3 tensor") {
  const tg::Tensor t = tg::from_vector<float>({1.f, -2.5f, 3.f, 0.125f, 1e6f, 12345.678f}, {2, 3});
  CHECK(fmt::format("{}", t) ==
        "tensor([[1, -2.5, 3],\n [0.125, 1e+06, 1.235e+04]], shape=[2,3], dtype=f32)");
  // A transposed view prints its logical order.
  CHECK(fmt::format("{}", k::transpose(t, 0, 1)) ==
        "tensor([[1, 0.125],\n [-2.5, 1e+06],\n [3, 1.235e+04]], shape=[3,2], dtype=f32)");
}

TEST_CASE("format: scalars, f64, special values, empty and undefined") {
  CHECK(fmt::format("{}", tg::scalar_tensor(1.5)) == "tensor(1.5, shape=[], dtype=f32)");
  CHECK(fmt::format("{}", tg::scalar_tensor(-0.25, tg::f64)) ==
        "tensor(-0.25, shape=[], dtype=f64)");
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(fmt::format("{}", tg::tensor({std::nan(""), inf, -inf})) ==
        "tensor([nan, inf, -inf], shape=[3], dtype=f64)");
  CHECK(fmt::format("{}", tg::zeros({0})) == "tensor([], shape=[0], dtype=f32)");
  CHECK(fmt::format("{}", tg::Tensor()) == "tensor(undefined)");
  CHECK(fmt::format("{:>12}", tg::Shape{2, 3}) == "       [2,3]");
}

TEST_CASE("format: big tensors are summarized") {
  CHECK(fmt::format("{}", tg::arange(2000).to(tg::f64)) ==
        "tensor([0, 1, 2, ..., 1997, 1998, 1999], shape=[2000], dtype=f64)");
  const std::string s = fmt::format("{}", k::reshape(tg::arange(2000), {40, 50}));
  CHECK(s ==
        "tensor([[0, 1, 2, ..., 47, 48, 49],\n"
        " [50, 51, 52, ..., 97, 98, 99],\n"
        " [100, 101, 102, ..., 147, 148, 149],\n"
        " ...,\n"
        " [1850, 1851, 1852, ..., 1897, 1898, 1899],\n"
        " [1900, 1901, 1902, ..., 1947, 1948, 1949],\n"
        " [1950, 1951, 1952, ..., 1997, 1998, 1999]], shape=[40,50], dtype=f32)");
  // 1000 elements is not yet summarized.
  CHECK(fmt::format("{}", tg::arange(1000)).find("...") == std::string::npos);
}

TEST_CASE("format: rank 3 nests brackets") {
  CHECK(fmt::format("{}", k::reshape(tg::arange(12), {2, 2, 3})) ==
        "tensor([[[0, 1, 2],\n  [3, 4, 5]],\n [[6, 7, 8],\n  [9, 10, 11]]], shape=[2,2,3], "
        "dtype=f32)");
}
