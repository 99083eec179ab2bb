// tools::benchmark_training data-parallel on every rank of the job: each rank trains its
// share of every batch, and the run follows one process's on whole batches.
#include <doctest/doctest.h>

#include <cstring>
#include <memory>

#include <tapegrad/tools/bench/bench.hpp>

#include "ranks.hpp"

namespace {

struct Run {
  std::shared_ptr<tg::nn::Sequential> model;
  tg::tools::TrainingBenchmark result;
};

// 10 samples in batches of 4: shares 2/2 and 1/1 of the last batch of 2 on 2 ranks; 1/1/2 and
// 0/1/1 on 3, where rank 0 has nothing to backpropagate in the last step.
Run train(const tg::tools::TrainingBenchmarkOptions& opts) {
  tg::manual_seed(3);
  const tg::Tensor X = tg::rand({10, 5, 2}), y = tg::rand({10, 1});
  auto model =
      std::make_shared<tg::nn::Sequential>(tg::nn::SimpleRNN(2, 8, {.return_sequences = true}),
                                           tg::nn::SimpleRNN(8, 4), tg::nn::Dense(4, 1));
  return {model, tg::tools::benchmark_training(*model, X, y, opts)};
}

std::uint64_t bits_of(double value) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

}  // namespace

TEST_CASE("mpi: data-parallel benchmark_training follows one process; replicas stay equal") {
  const tg::tools::TrainingBenchmarkOptions alone{.batch = 4, .epochs = 3, .seed = 1};
  tg::tools::TrainingBenchmarkOptions data_parallel = alone;
  // Small buckets: the 8x8 recurrent kernel alone fills one, so there are several.
  data_parallel.data_parallel =
      tg::dist::DataParallelOptions{.first_bucket_bytes = 64, .bucket_bytes = 256};
  const Run one = train(alone);
  const Run many = train(data_parallel);
  CHECK(many.result.final_loss == doctest::Approx(one.result.final_loss).epsilon(1e-5));
  // The global loss, bit for bit the same on every rank, as are the weights.
  CHECK(tg_test::same_on_every_rank(bits_of(many.result.final_loss)));
  CHECK(tg_test::same_on_every_rank(tg_test::parameters_hash(*many.model)));
  REQUIRE(many.result.epoch_ms.size() == 3);
  if (tg::dist::world_size() == 1) {
    CHECK(many.result.communication.steps == 0);
    return;
  }
  // The timed epochs alone: 3 epochs of 3 batches, the warm-up's steps left out.
  CHECK(many.result.communication.steps == 9);
  CHECK(many.result.buckets > 1);
  CHECK(many.result.communication.communicating_seconds > 0);
  // The wait at the end of backward also covers the communication thread's wake-ups, so
  // with buckets this small it may exceed the collectives' own time: no order between them.
  CHECK(many.result.communication.exposed_seconds > 0);
  const double share = many.result.exposed_communication_share();
  CHECK(share >= 0);
  CHECK(share < 1);
}
