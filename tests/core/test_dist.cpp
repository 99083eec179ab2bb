// tg::dist in a world of one (no launcher, or a build without MPI): the same program as on
// N ranks, where every collective leaves its tensor as it is and checks its arguments as
// on N ranks. tests/mpi runs the collectives on 2 and 3 ranks.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include <test_util.hpp>

#include <tapegrad/core/core.hpp>

namespace tg = tapegrad;

using tg_test::contains;
using tg_test::message_of;

TEST_CASE("dist: without a launcher a session is a world of one") {
  tg::dist::Session session;
  CHECK(tg::dist::rank() == 0);
  CHECK(tg::dist::world_size() == 1);
  CHECK(tg::dist::is_root());
  tg::dist::barrier();
  CHECK(tg::dist::all_gather(42) == std::vector<std::uint64_t>{42});
}

TEST_CASE("dist: every collective leaves its tensor as it is in a world of one") {
  for (tg::DType dtype : {tg::f32, tg::f64}) {
    const tg::Tensor original = tg::randn({3, 5}, dtype);
    const tg::Tensor t = original.clone();
    for (tg::dist::Op op :
         {tg::dist::Op::sum, tg::dist::Op::max, tg::dist::Op::min, tg::dist::Op::mean}) {
      tg::dist::all_reduce(t, op);
      tg::dist::all_reduce(t, op, tg::dist::Order::any_order);
    }
    tg::dist::broadcast(t, 0);
    CHECK(t.to(tg::f64).to_vector<double>() == original.to(tg::f64).to_vector<double>());
  }
}

TEST_CASE("dist: a tensor a collective cannot send is refused, naming op, shape and dtype") {
  const std::string msg = message_of<tg::ValueError>([] {
    tg::dist::all_reduce(tg::kernel::transpose(tg::zeros({2, 3}, tg::f64), 0, 1));
  });
  CHECK(contains(msg, "dist::all_reduce"));
  CHECK(contains(msg, "f64"));
  CHECK(contains(msg, "[3,2]"));
  CHECK(contains(msg, "not contiguous"));
  CHECK(contains(message_of<tg::ValueError>([] { tg::dist::broadcast(tg::Tensor()); }),
                 "dist::broadcast: the tensor is undefined"));
}

TEST_CASE("dist: a root outside the world is refused") {
  CHECK(message_of<tg::ValueError>([] { tg::dist::broadcast(tg::zeros({2}), 1); }) ==
        "dist::broadcast: root 1 is not a rank of this world of 1 (0..0)");
  CHECK_THROWS_AS(tg::dist::broadcast(tg::zeros({2}), -1), tg::ValueError);
}
