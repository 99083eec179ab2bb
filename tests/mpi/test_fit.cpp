// fit with .distributed = true on every rank of the job: the global batch split over the
// ranks follows a one-process run, the replicas stay bitwise equal, one rank prints and
// writes.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <test_util.hpp>

#include "ranks.hpp"

namespace dist = tapegrad::dist;

namespace {

// The reference model of the README (Keras's SimpleRNN(64, return_sequences) ->
// SimpleRNN(32) -> Dense(1)), on the same weights everywhere.
tg::nn::Sequential reference_model() {
  tg::manual_seed(42);
  return tg::nn::Sequential{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
                            tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
}

struct Data {
  tg::Tensor X, y;
  explicit Data(int64_t samples) {
    tg::manual_seed(1);
    X = tg::rand({samples, 10, 1});
    y = tg::rand({samples, 1});
  }
};

// Checks at every epoch that every rank holds the same parameters, bit for bit.
class ReplicasEqual : public tg::nn::Callback {
 public:
  void on_epoch_end(int /*epoch*/, const tg::nn::Logs& /*logs*/) override {
    equal_ = equal_ && tg_test::same_on_every_rank(tg_test::parameters_hash(model()));
  }
  bool equal() const { return equal_; }

 private:
  bool equal_ = true;
};

tg::nn::History train(const Data& data, tg::nn::FitOptions opts, tg::nn::Sequential& model) {
  tg::optim::Adam opt(model.parameters());
  tg::manual_seed(7);  // the batch order
  return tg::nn::fit(model, tg::nn::MSE(), opt, data.X, data.y, opts);
}

void check_follows(const std::vector<double>& distributed, const std::vector<double>& alone) {
  REQUIRE(distributed.size() == alone.size());
  for (std::size_t e = 0; e < alone.size(); ++e) {
    CAPTURE(e);
    CHECK(distributed[e] == doctest::Approx(alone[e]).epsilon(1e-5));
  }
}

}  // namespace

TEST_CASE("mpi: distributed fit of the reference model follows one process for 20 epochs") {
  // 100 samples in batches of 32: shares 16/16 on 2 ranks, 10/11/11 on 3, and the last
  // batch of 4 split 2/2 and 1/1/2.
  const Data data(100);
  const tg::nn::FitOptions opts{
      .epochs = 20, .batch_size = 32, .validation_split = 0.2, .verbose = 0};
  tg::nn::Sequential alone = reference_model();
  const tg::nn::History one = train(data, opts, alone);

  tg::nn::Sequential model = reference_model();
  auto replicas = std::make_shared<ReplicasEqual>();
  tg::nn::FitOptions distributed = opts;
  distributed.callbacks = {replicas};
  distributed.distributed = true;
  const tg::nn::History many = train(data, distributed, model);
  check_follows(many["loss"], one["loss"]);
  check_follows(many["val_loss"], one["val_loss"]);
  CHECK(replicas->equal());
  // The logged losses are the global ones: the same bits on every rank.
  CHECK(tg_test::same_on_every_rank(std::hash<double>{}(many["loss"].back())));
}

TEST_CASE("mpi: a batch smaller than the job leaves some ranks an empty share, without harm") {
  const Data data(5);
  const tg::nn::FitOptions opts{.epochs = 3, .batch_size = 2, .verbose = 0};
  tg::nn::Sequential alone = reference_model();
  const tg::nn::History one = train(data, opts, alone);
  tg::nn::Sequential model = reference_model();
  tg::nn::FitOptions distributed = opts;
  distributed.distributed = true;
  check_follows(train(data, distributed, model)["loss"], one["loss"]);
  CHECK(tg_test::same_on_every_rank(tg_test::parameters_hash(model)));
}

TEST_CASE("mpi: in a distributed fit rank 0 alone prints and writes the CSV log") {
  const Data data(20);
  tg_test::ScratchDir dir("tg-mpi-fit");  // one per rank: each rank's own path
  const std::string log = dir / "log.csv";
  std::ostringstream out;
  tg::nn::Sequential model = reference_model();
  tg::nn::FitOptions opts{.epochs = 2, .batch_size = 8, .verbose = 2, .out = &out};
  opts.callbacks = {std::make_shared<tg::nn::CSVLogger>(log)};
  opts.distributed = true;
  train(data, opts, model);
  if (dist::is_root()) {
    CHECK(out.str().find("Epoch 2/2") != std::string::npos);
    CHECK(std::filesystem::exists(log));
  } else {
    CHECK(out.str().empty());
    CHECK_FALSE(std::filesystem::exists(log));
  }
}

TEST_CASE("mpi: a distributed fit's metrics are the global ones, the same bits on every rank") {
  // 40 training samples in batches of 16, 16 and 8: uneven shares on 3 ranks.
  const Data data(50);
  const tg::nn::FitOptions opts{.epochs = 3,
                                .batch_size = 16,
                                .validation_split = 0.2,
                                .metrics = {"mae", "rmse", "r2"},
                                .verbose = 0};
  tg::nn::Sequential alone = reference_model();
  const tg::nn::History one = train(data, opts, alone);
  tg::nn::Sequential model = reference_model();
  tg::nn::FitOptions distributed = opts;
  distributed.distributed = true;
  const tg::nn::History many = train(data, distributed, model);
  for (const std::string key : {"mae", "rmse", "r2", "val_mae", "val_rmse", "val_r2"}) {
    CAPTURE(key);
    check_follows(many[key], one[key]);
    CHECK(tg_test::same_on_every_rank(std::hash<double>{}(many[key].back())));
  }
}
