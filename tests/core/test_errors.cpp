// Every misuse throws a tg::Error subclass whose message names the op and the shapes.
#include <doctest/doctest.h>

#include <string>

#include <test_util.hpp>

#include "reference.hpp"

namespace tg = tapegrad;
namespace k = tapegrad::kernel;

using tg_test::contains;
using tg_test::message_of;

TEST_CASE("errors: broadcasting mismatch is a ShapeError naming op and shapes") {
  for (auto kernel : {k::add, k::sub, k::mul, k::div, k::maximum}) {
    const std::string msg = message_of<tg::ShapeError>([&] {
      kernel(tg::zeros({2, 3}), tg::zeros({4}));
    });
    CHECK(contains(msg, "[2,3]"));
    CHECK(contains(msg, "[4]"));
    CHECK(contains(msg, "cannot be broadcast"));
  }
  CHECK(message_of<tg::ShapeError>([] {
          k::mul(tg::zeros({2, 3}), tg::zeros({4}));
        }).starts_with("mul: shapes [2,3] and [4] cannot be broadcast together"));
  CHECK_THROWS_AS(k::where(tg::zeros({2}), tg::zeros({3}), tg::zeros({3})), tg::ShapeError);
  // Every tg error is also a tg::Error and a std::runtime_error.
  CHECK_THROWS_AS(k::add(tg::zeros({2}), tg::zeros({3})), tg::Error);
  CHECK_THROWS_AS(k::add(tg::zeros({2}), tg::zeros({3})), std::runtime_error);
}

TEST_CASE("errors: matmul shape errors") {
  CHECK(message_of<tg::ShapeError>([] {
          k::matmul(tg::zeros({32, 64}), tg::zeros({32, 64}));
        }) ==
        "matmul: shapes [32,64] and [32,64] cannot be multiplied (inner dimensions 64 and 32 "
        "differ)");
  CHECK(contains(message_of<tg::ShapeError>([] {
                   k::matmul(tg::zeros({2, 3, 4}), tg::zeros({3, 4, 5}));
                 }),
                 "batch sizes"));
  CHECK(contains(message_of<tg::ShapeError>([] {
                   k::matmul(tg::zeros({4}), tg::zeros({4, 2}));
                 }),
                 "not supported"));
}

TEST_CASE("errors: mixing f32 and f64 is a DTypeError") {
  const tg::Tensor a = tg::zeros({2, 2});
  const tg::Tensor b = tg::zeros({2, 2}, tg::f64);
  const std::string msg = message_of<tg::DTypeError>([&] { k::add(a, b); });
  CHECK(contains(msg, "add"));
  CHECK(contains(msg, "f32"));
  CHECK(contains(msg, "f64"));
  CHECK_THROWS_AS(k::matmul(a, b), tg::DTypeError);
  CHECK_THROWS_AS(k::where(a, a, b), tg::DTypeError);
  CHECK_THROWS_AS(k::copy_into(a, b), tg::DTypeError);
  CHECK_THROWS_AS(k::concat({a, b}, 0), tg::DTypeError);
  CHECK_THROWS_AS(a.data<double>(), tg::DTypeError);
}

TEST_CASE("errors: undefined tensors are a ValueError") {
  const tg::Tensor u;
  CHECK_FALSE(u.defined());
  CHECK_THROWS_AS(u.shape(), tg::ValueError);
  CHECK_THROWS_AS(k::add(u, tg::zeros({1})), tg::ValueError);
  CHECK_THROWS_AS(k::tanh(u), tg::ValueError);
  CHECK_THROWS_AS(k::sum(u, {}, false), tg::ValueError);
  CHECK_THROWS_AS(k::matmul(u, u), tg::ValueError);
  CHECK(contains(message_of<tg::ValueError>([&] { tg::check_defined("myop", u); }), "myop"));
}

TEST_CASE("errors: bad slice steps, ranks, reshapes, axes and indices") {
  const tg::Tensor x = tg::zeros({4, 5});
  CHECK(contains(message_of<tg::ValueError>([&] { k::slice(x, 0, 0, 4, 0); }), "step"));
  CHECK_THROWS_AS(k::slice(x, 0, 0, 4, -1), tg::ValueError);
  CHECK_THROWS_AS(k::slice(x, 2, 0, 1), tg::ShapeError);

  // Rank above 8.
  CHECK(contains(message_of<tg::ShapeError>([] {
                   tg::zeros({1, 1, 1, 1, 1, 1, 1, 1, 1});
                 }),
                 "at most 8"));
  const tg::Tensor r8 = tg::zeros({1, 1, 1, 1, 1, 1, 1, 2});
  CHECK_THROWS_AS(k::unsqueeze(r8, 0), tg::ShapeError);
  CHECK_THROWS_AS(k::reshape(r8, {1, 1, 1, 1, 1, 1, 1, 1, 2}), tg::ShapeError);

  // Reshape to a wrong element count, two -1s, or a -1 that cannot be inferred.
  CHECK(message_of<tg::ShapeError>([&] {
          k::reshape(x, {3, 7});
        }) == "reshape: cannot reshape [4,5] (20 elements) into [3,7]");
  CHECK_THROWS_AS(k::reshape(x, {-1, 3}), tg::ShapeError);
  CHECK_THROWS_AS(k::reshape(x, {-1, -1}), tg::ShapeError);
  CHECK_THROWS_AS(k::reshape(tg::zeros({0, 3}), {-1, 0}), tg::ShapeError);

  // Select out of range.
  CHECK(message_of<tg::ShapeError>([&] { k::select(x, 1, 5); }) ==
        "select: index 5 is out of range for axis 1 of shape [4,5]");
  CHECK_THROWS_AS(k::select(x, 0, -5), tg::ShapeError);
  CHECK_THROWS_AS(k::select(x, 3, 0), tg::ShapeError);

  // Axes.
  CHECK(contains(message_of<tg::ShapeError>([&] { k::transpose(x, 0, 2); }), "axis 2"));
  CHECK_THROWS_AS(x.size(-3), tg::ShapeError);
  CHECK_THROWS_AS(tg::empty({2, -1}), tg::ShapeError);
  CHECK_THROWS_AS(x.item(), tg::ShapeError);
  CHECK_THROWS_AS(tg::from_vector<float>({1, 2, 3}, {2, 2}), tg::ShapeError);

  // Other values.
  CHECK_THROWS_AS(k::clamp(x, 1.0, 0.0), tg::ValueError);
  CHECK_THROWS_AS(tg::arange(0.0, 1.0, 0.0), tg::ValueError);
  CHECK_THROWS_AS(k::set_num_threads(0), tg::ValueError);
  CHECK_THROWS_AS(k::concat({}, 0), tg::ValueError);
}

TEST_CASE("quoted: an error message quotes untrusted text bounded and escaped") {
  CHECK(tg::quoted("v") == "'v'");
  CHECK(tg::quoted("a\nb\x1b") == "'a\\nb\\x1b'");
  const std::string huge(50'000'000, 'x');
  const std::string q = tg::quoted(huge);
  CHECK(q.size() < 100);
  CHECK(q == "'" + std::string(tg::kQuoteLimit, 'x') + "'... (+49999936 bytes)");
  CHECK(tg::quoted("abcdef", 3) == "'abc'... (+3 bytes)");
}
