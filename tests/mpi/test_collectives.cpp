// all_reduce, broadcast, barrier and all_gather on every rank of the job.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <test_util.hpp>

#include "ranks.hpp"

namespace dist = tapegrad::dist;

namespace {

// Element k on rank r: (r + 1), negated for even k; every sum of these is exact in f32.
tg::Tensor signed_ramp(int64_t numel, tg::DType dtype) {
  std::vector<double> values(numel);
  for (int64_t k = 0; k < numel; ++k) values[k] = (dist::rank() + 1) * (k % 2 ? 1.0 : -1.0);
  return tg::from_vector(values, {numel}).to(dtype);
}

// The value every element k of the reduced signed_ramp must have on n ranks.
double expected(dist::Op op, int64_t k, int n) {
  const double sign = k % 2 ? 1.0 : -1.0;
  const double sum = n * (n + 1) / 2.0;
  switch (op) {
    case dist::Op::sum:
      return sign * sum;
    case dist::Op::max:
      return sign > 0 ? n : -1;
    case dist::Op::min:
      return sign > 0 ? 1 : -n;
    case dist::Op::mean:
      return sign * sum / n;
  }
  return 0;
}

// rank r's data in the rank-order test, which every rank can compute for every r.
tg::Tensor random_data_of(int r, tg::DType dtype) {
  tg::manual_seed(1000 + r);
  return tg::kernel::mul(tg::randn({1001}, dtype), tg::rand({1001}, dtype) * 1e4);
}

}  // namespace

TEST_CASE("mpi: the ranks are 0..n-1, as the launcher numbered them") {
  const int n = dist::world_size();
  if (const char* size = std::getenv("OMPI_COMM_WORLD_SIZE")) CHECK(n == std::atoi(size));
  const std::vector<std::uint64_t> ranks = dist::all_gather(dist::rank());
  REQUIRE(ranks.size() == static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) CHECK(ranks[r] == static_cast<std::uint64_t>(r));
  CHECK(dist::is_root() == (dist::rank() == 0));
}

TEST_CASE("mpi: a second session while main's is open is refused") {
  CHECK(tg_test::contains(tg_test::message_of<tg::ValueError>([] { dist::Session again; }),
                          "a session is already open"));
}

TEST_CASE("mpi: all_reduce sum, max, min and mean of known values, f32 and f64") {
  const int n = dist::world_size();
  // 0 and 1 elements: fewer than ranks, so some ranks sum an empty slice.
  for (int64_t numel : {0, 1, 2, 7, 1000}) {
    for (tg::DType dtype : {tg::f32, tg::f64}) {
      for (dist::Order order : {dist::Order::rank_order, dist::Order::any_order}) {
        for (dist::Op op : {dist::Op::sum, dist::Op::max, dist::Op::min, dist::Op::mean}) {
          CAPTURE(numel);
          CAPTURE(dtype);
          CAPTURE(static_cast<int>(order));
          CAPTURE(static_cast<int>(op));
          const tg::Tensor t = signed_ramp(numel, dtype);
          dist::all_reduce(t, op, order);
          const std::vector<double> got = t.to(tg::f64).to_vector<double>();
          for (int64_t k = 0; k < numel; ++k) CHECK(got[k] == expected(op, k, n));
        }
      }
    }
  }
}

TEST_CASE("mpi: the rank-order sum is bitwise the sum in rank order 0..n-1, on every rank") {
  for (tg::DType dtype : {tg::f32, tg::f64}) {
    CAPTURE(dtype);
    tg::Tensor in_rank_order = random_data_of(0, dtype);
    for (int r = 1; r < dist::world_size(); ++r) {
      in_rank_order = tg::kernel::add(in_rank_order, random_data_of(r, dtype));
    }
    const tg::Tensor t = random_data_of(dist::rank(), dtype);
    dist::all_reduce(t);
    CHECK(tg_test::bytes_hash(t) == tg_test::bytes_hash(in_rank_order));
    CHECK(tg_test::same_on_every_rank(tg_test::bytes_hash(t)));
  }
}

TEST_CASE("mpi: all_reduce writes in place and bumps the version autograd checks") {
  const tg::Tensor t = tg::ones({3});
  const std::uint64_t before = t.version();
  dist::all_reduce(t);
  if (dist::world_size() > 1) CHECK(t.version() > before);  // alone, nothing is written
  CHECK(t.to_vector<float>() == std::vector<float>(3, static_cast<float>(dist::world_size())));
}

TEST_CASE("mpi: broadcast gives every rank root's tensor") {
  const int last = dist::world_size() - 1;
  for (tg::DType dtype : {tg::f32, tg::f64}) {
    for (int root : {0, last}) {
      const tg::Tensor t = tg::full({4, 3}, dist::rank(), dtype);
      dist::broadcast(t, root);
      CHECK(t.to(tg::f64).to_vector<double>() == std::vector<double>(12, root));
    }
  }
}

TEST_CASE("mpi: a tensor no rank can send is refused on every rank, before any message") {
  CHECK_THROWS_AS(dist::all_reduce(tg::kernel::transpose(tg::zeros({2, 3}), 0, 1)), tg::ValueError);
  CHECK_THROWS_AS(dist::broadcast(tg::zeros({2}), dist::world_size()), tg::ValueError);
  // The ranks still talk in step.
  dist::barrier();
  CHECK(tg_test::same_on_every_rank(7));
}
