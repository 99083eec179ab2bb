// DataParallel on every rank of the job: backward leaves the mean gradient of the ranks'
// shares on every rank, the replicas stay bitwise equal, and nothing waits for a gradient
// that does not come.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ranks.hpp"

namespace dist = tapegrad::dist;

namespace {

constexpr int64_t kRowsPerRank = 4;

// f64, so that the sums in another order (per rank, then over ranks) agree to 1e-12.
tg::nn::Sequential reference_model() {
  tg::manual_seed(7);
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 8, {.return_sequences = true}),
                           tg::nn::SimpleRNN(8, 4), tg::nn::Dense(4, 1)};
  model.to(tg::f64);
  return model;
}

// The whole job's data, the same on every rank; rank r's share is rows [r*k, (r+1)*k).
struct Data {
  tg::Tensor X, y;
  Data() {
    tg::manual_seed(11);
    const int64_t n = kRowsPerRank * dist::world_size();
    X = tg::rand({n, 5, 1}, tg::f64);
    y = tg::rand({n, 1}, tg::f64);
  }
  tg::Tensor share(const tg::Tensor& t, int r) const {
    return tg::slice(t, 0, r * kRowsPerRank, (r + 1) * kRowsPerRank);
  }
  tg::Tensor my_loss(tg::nn::Module& model) const {
    return tg::nn::MSE()(model(share(X, dist::rank())), share(y, dist::rank()));
  }
};

std::vector<std::vector<double>> gradients(const tg::nn::Module& model) {
  std::vector<std::vector<double>> grads;
  for (const auto& [name, p] : model.named_parameters()) {
    grads.push_back(p.grad().defined() ? p.grad().to_vector<double>() : std::vector<double>{});
  }
  return grads;
}

void check_close(const std::vector<std::vector<double>>& a,
                 const std::vector<std::vector<double>>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].size() == b[i].size());
    for (std::size_t k = 0; k < a[i].size(); ++k) {
      CHECK(a[i][k] == doctest::Approx(b[i][k]).epsilon(1e-12));
    }
  }
}

std::uint64_t gradients_hash(const tg::nn::Module& model) {
  std::uint64_t hash = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    hash = hash * 31 + (p.grad().defined() ? tg_test::bytes_hash(p.grad()) : 1);
  }
  return hash;
}

}  // namespace

TEST_CASE("mpi: DataParallel leaves the gradient of the whole batch's mean loss on every rank") {
  const Data data;
  tg::nn::Sequential whole = reference_model();
  tg::nn::MSE()(whole(data.X), data.y).backward();

  tg::nn::Sequential model = reference_model();
  dist::DataParallel ddp(model, {});
  data.my_loss(model).backward();
  check_close(gradients(model), gradients(whole));
  CHECK(tg_test::same_on_every_rank(gradients_hash(model)));
}

TEST_CASE("mpi: DataParallel sees the gradients a checkpointed RNN routes through its segments") {
  const Data data;
  auto make = [] {
    tg::manual_seed(7);
    tg::nn::Sequential model{tg::nn::LSTM(1, 6, {.checkpoint_every = 2}), tg::nn::Dense(6, 1)};
    model.to(tg::f64);
    return model;
  };
  tg::nn::Sequential whole = make();
  tg::nn::MSE()(whole(data.X), data.y).backward();
  tg::nn::Sequential model = make();
  dist::DataParallel ddp(model, {.first_bucket_bytes = 1, .bucket_bytes = 1});
  data.my_loss(model).backward();
  check_close(gradients(model), gradients(whole));
}

TEST_CASE("mpi: replicas trained by DataParallel stay bitwise equal, and so does a rerun") {
  const Data data;
  std::vector<std::uint64_t> runs;
  for (int run = 0; run < 2; ++run) {
    tg::manual_seed(100 + dist::rank());  // each rank starts from its own weights
    tg::nn::Sequential model{tg::nn::SimpleRNN(1, 8), tg::nn::Dense(8, 1)};
    model.to(tg::f64);
    dist::DataParallel ddp(model, {.first_bucket_bytes = 64, .bucket_bytes = 128});
    tg::optim::Adam opt(model.parameters(), {.lr = 0.01});
    for (int step = 0; step < 5; ++step) {
      opt.zero_grad();
      data.my_loss(model).backward();
      opt.step();
      CHECK(tg_test::same_on_every_rank(tg_test::parameters_hash(model)));
    }
    CHECK(ddp.stats().steps == (dist::world_size() > 1 ? 5 : 0));
    runs.push_back(tg_test::parameters_hash(model));
  }
  CHECK(runs[0] == runs[1]);
}

TEST_CASE("mpi: DataParallel lays its buckets out in the order backward completes gradients") {
  if (dist::world_size() == 1) return;  // a world of one has nothing to send
  const Data data;
  tg::nn::Sequential model = reference_model();
  dist::DataParallel ddp(model, {.first_bucket_bytes = 1, .bucket_bytes = 1});
  CHECK(ddp.buckets().empty());
  data.my_loss(model).backward();
  const auto buckets = ddp.buckets();
  REQUIRE(buckets.size() == model.named_parameters().size());  // one parameter per bucket
  // The Dense layer's gradients are complete first, the first RNN's last.
  CHECK(buckets.front()[0].starts_with("2."));
  CHECK(buckets.back()[0].starts_with("0."));
  std::uint64_t layout = 0;
  for (const auto& bucket : buckets) layout = layout * 31 + std::hash<std::string>{}(bucket[0]);
  CHECK(tg_test::same_on_every_rank(layout));
}

TEST_CASE("mpi: a parameter some ranks do not use neither hangs nor loses the others' gradient") {
  tg::manual_seed(3);
  tg::nn::Dense shared(2, 1), head(2, 1), unused(2, 1);
  tg::nn::Sequential all{shared, head, unused};
  dist::DataParallel ddp(all, {.first_bucket_bytes = 1, .bucket_bytes = 1});
  const tg::Tensor x = tg::ones({1, 2});
  tg::Tensor loss = tg::sum(shared(x));
  const bool uses_head = dist::rank() == 0;
  if (uses_head) loss = loss + tg::sum(head(x));
  loss.backward();
  const double n = dist::world_size();
  for (const tg::Tensor& w : shared.parameters()) {
    CHECK(w.grad().to_vector<float>()[0] == doctest::Approx(1.0));
  }
  // Only rank 0 reached the head: the mean is its gradient over n, on every rank.
  CHECK(head.parameters()[0].grad().to_vector<float>()[0] == doctest::Approx(1.0 / n));
  // No rank reached `unused`: it keeps no gradient anywhere.
  for (const tg::Tensor& w : unused.parameters()) CHECK_FALSE(w.grad().defined());
}

TEST_CASE("mpi: no_sync accumulates locally; the next backward averages all of it") {
  const Data data;
  tg::nn::Sequential whole = reference_model();
  for (int i = 0; i < 3; ++i) tg::nn::MSE()(whole(data.X), data.y).backward();

  tg::nn::Sequential model = reference_model();
  dist::DataParallel ddp(model, {});
  {
    const auto guard = ddp.no_sync();
    data.my_loss(model).backward();
    data.my_loss(model).backward();
  }
  if (dist::world_size() > 1) CHECK(ddp.stats().steps == 0);
  data.my_loss(model).backward();
  check_close(gradients(model), gradients(whole));
}

TEST_CASE("mpi: uneven shares weighted by set_weight give the whole batch's gradient") {
  // Rank r holds r + 1 rows; the last rank none, and calls synchronize() instead of backward.
  const int n = dist::world_size();
  const int last = n - 1;
  tg::manual_seed(5);
  const int64_t total = n * (n - 1) / 2 + (n == 1 ? 1 : 0);
  const tg::Tensor X = tg::rand({total, 5, 1}, tg::f64);
  const tg::Tensor y = tg::rand({total, 1}, tg::f64);
  tg::nn::Sequential whole = reference_model();
  tg::nn::MSE()(whole(X), y).backward();

  tg::nn::Sequential model = reference_model();
  dist::DataParallel ddp(model, {});
  const int64_t start = dist::rank() * (dist::rank() + 1) / 2;
  const int64_t rows = n == 1 ? total : (dist::rank() == last ? 0 : dist::rank() + 1);
  ddp.set_weight(static_cast<double>(rows) / static_cast<double>(total));
  if (rows > 0) {
    tg::nn::MSE()(model(tg::slice(X, 0, start, start + rows)), tg::slice(y, 0, start, start + rows))
        .backward();
  } else {
    ddp.synchronize();
  }
  check_close(gradients(model), gradients(whole));
  CHECK(tg_test::same_on_every_rank(gradients_hash(model)));
}

TEST_CASE("mpi: DataParallel refuses a negative weight and empty buckets") {
  tg::nn::Dense model(2, 1);
  CHECK_THROWS_AS(dist::DataParallel(model, {.bucket_bytes = 0}), tg::ValueError);
  dist::DataParallel ddp(model, {});
  CHECK_THROWS_WITH_AS(ddp.set_weight(-1), doctest::Contains("set_weight"), tg::ValueError);
}
