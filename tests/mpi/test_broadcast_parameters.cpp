// broadcast_parameters on every rank of the job: equal replicas, and a clear error on
// every rank when one rank built another model.
#include <doctest/doctest.h>

#include <string>

#include <test_util.hpp>

#include "ranks.hpp"

namespace dist = tapegrad::dist;

namespace {

// A small model whose weights depend on the rank (each rank seeds its own).
tg::nn::Sequential model_of_this_rank(int64_t outputs = 1) {
  tg::manual_seed(dist::rank());
  return tg::nn::Sequential{tg::nn::SimpleRNN(1, 8), tg::nn::Dense(8, outputs)};
}

}  // namespace

TEST_CASE("mpi: broadcast_parameters makes every rank's model root's") {
  for (int root : {0, dist::world_size() - 1}) {
    CAPTURE(root);
    tg::nn::Sequential model = model_of_this_rank();
    const std::uint64_t root_hash = dist::all_gather(tg_test::parameters_hash(model))[root];
    if (dist::world_size() > 1)
      CHECK(!tg_test::same_on_every_rank(tg_test::parameters_hash(model)));
    dist::broadcast_parameters(model, root);
    CHECK(tg_test::parameters_hash(model) == root_hash);
    CHECK(tg_test::same_on_every_rank(tg_test::parameters_hash(model)));
  }
}

TEST_CASE("mpi: a different model on one rank is refused on every rank, without hanging") {
  const int last = dist::world_size() - 1;
  if (last == 0) return;  // a world of one has no other rank to differ
  SUBCASE("another shape") {
    tg::nn::Sequential model = model_of_this_rank(dist::rank() == last ? 2 : 1);
    const std::string msg =
        tg_test::message_of<tg::ValueError>([&] { dist::broadcast_parameters(model); });
    CHECK(tg_test::contains(msg, "mismatched programs"));
    CHECK(tg_test::contains(msg, fmt::format("rank(s) {} built a model", last)));
  }
  SUBCASE("another dtype") {
    tg::nn::Sequential model = model_of_this_rank();
    if (dist::rank() == last) model.to(tg::f64);
    CHECK_THROWS_AS(dist::broadcast_parameters(model), tg::ValueError);
  }
  // Nothing was left half sent: the ranks still talk in step.
  CHECK(tg_test::same_on_every_rank(42));
}
