// tools::benchmark_training: the reference benchmarks' protocol, as a library call.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include "test_util.hpp"

namespace tg = tapegrad;

namespace {

std::shared_ptr<tg::nn::Sequential> tiny_model() {
  return std::make_shared<tg::nn::Sequential>(tg::nn::SimpleRNN(2, 3), tg::nn::Dense(3, 1));
}

}  // namespace

TEST_CASE("benchmark_training: one time per epoch, their median, min and total") {
  tg::manual_seed(0);
  const tg::Tensor X = tg::rand({10, 4, 2}), y = tg::rand({10, 1});
  const auto model = tiny_model();
  const tg::tools::TrainingBenchmark b =
      tg::tools::benchmark_training(*model, X, y, {.batch = 4, .epochs = 3, .seed = 5});
  REQUIRE(b.epoch_ms.size() == 3);
  CHECK(b.min_ms() > 0);
  CHECK(b.min_ms() <= b.median_ms());
  CHECK(b.total_s() * 1e3 >= 3 * b.min_ms());
  CHECK(std::isfinite(b.final_loss));
  CHECK(tg::tools::peak_rss_mb() > 0);
  CHECK(tg_test::contains(tg::tools::blas_config(), "threads="));
}

TEST_CASE("benchmark_training: the warm-up epoch's training is undone") {
  tg::manual_seed(0);
  const tg::Tensor X = tg::rand({10, 4, 2}), y = tg::rand({10, 1});
  const auto model = tiny_model();
  std::vector<std::vector<float>> before;
  for (const tg::Tensor& p : model->parameters()) before.push_back(p.to_vector<float>());
  const tg::tools::TrainingBenchmark b =
      tg::tools::benchmark_training(*model, X, y, {.batch = 4, .epochs = 0});
  CHECK(b.epoch_ms.empty());
  CHECK(b.median_ms() == 0);
  CHECK(std::isnan(b.final_loss));
  const std::vector<tg::Tensor> after = model->parameters();
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    CAPTURE(i);
    CHECK(after[i].to_vector<float>() == before[i]);
    CHECK_FALSE(after[i].grad().defined());
  }
}

TEST_CASE("benchmark_training: bad options and mismatched data are ValueErrors naming them") {
  tg::manual_seed(0);
  const tg::Tensor X = tg::rand({6, 4, 2}), y = tg::rand({6, 1});
  const auto model = tiny_model();
  CHECK_THROWS_WITH_AS(tg::tools::benchmark_training(*model, X, y, {.batch = 0}),
                       doctest::Contains("benchmark_training: batch must be >= 1, got 0"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::tools::benchmark_training(*model, X, y, {.epochs = -1}),
                       doctest::Contains("epochs must be >= 0, got -1"), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::tools::benchmark_training(*model, X, tg::rand({5, 1})),
                       doctest::Contains("X [6,4,2] and y [5,1]"), tg::ValueError);
}

TEST_CASE("benchmark_training: data-parallel in a world of one trains as one process") {
  tg::manual_seed(0);
  const tg::Tensor X = tg::rand({10, 4, 2}), y = tg::rand({10, 1});
  const tg::tools::TrainingBenchmarkOptions alone{.batch = 4, .epochs = 2, .seed = 5};
  tg::tools::TrainingBenchmarkOptions data_parallel = alone;
  data_parallel.data_parallel = tg::dist::DataParallelOptions{};
  tg::manual_seed(1);
  const tg::tools::TrainingBenchmark one =
      tg::tools::benchmark_training(*tiny_model(), X, y, alone);
  tg::manual_seed(1);
  const tg::tools::TrainingBenchmark many =
      tg::tools::benchmark_training(*tiny_model(), X, y, data_parallel);
  CHECK(many.final_loss == one.final_loss);  // the same batches, the same steps
  // DataParallel does nothing in a world of one: no buckets, no communication.
  CHECK(many.buckets == 0);
  CHECK(many.communication.steps == 0);
  CHECK(many.communication.communicating_seconds == 0);
  CHECK(many.exposed_communication_share() == 0);
}
