// The reference workload end to end: SimpleRNN(1->64, seq) -> SimpleRNN(64->32) -> Dense(1)
// trained by fit() with Keras Adam (optim::Adam's default keras formulation, eps 1e-7),
// batch 32, no shuffle, 100 epochs, against the PyTorch run in
// tests/fixtures/train_reference_f32.json (same initial parameters and data).
#include <doctest/doctest.h>

#include <iomanip>

#include <fixture.hpp>

using namespace tg_test;

TEST_CASE("fit reproduces the 100 epoch losses of the PyTorch reference run") {
  const nlohmann::json f = load_fixture("train_reference_f32.json");
  const tg::Tensor X = fixture_tensor(f["inputs"]["x"], tg::f32);
  const tg::Tensor y = fixture_tensor(f["inputs"]["y"], tg::f32);
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
                           tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
  load_parameters(model, f["parameters"]);
  const auto& o = f["optimizer"];
  REQUIRE(o["formulation"] == "keras");
  tg::optim::Adam opt(
      model.named_parameters(),
      {.lr = o["lr"], .beta1 = o["beta_1"], .beta2 = o["beta_2"], .eps = o["epsilon"]});
  tg::nn::MSE loss;

  const tg::nn::History h = tg::nn::fit(
      model, loss, opt, X, y,
      {.epochs = f["epochs"], .batch_size = f["batch_size"], .verbose = 0, .shuffle = false});

  const auto expected = f["epoch_losses"].get<std::vector<double>>();
  REQUIRE(h.epochs == static_cast<int>(expected.size()));
  REQUIRE(h["loss"].size() == expected.size());
  CHECK(opt.iterations() == 4 * static_cast<int64_t>(expected.size()));
  double worst = 0;
  std::size_t worst_epoch = 0;
  for (std::size_t e = 0; e < expected.size(); ++e) {
    const double dev = std::abs(h["loss"][e] - expected[e]) / std::abs(expected[e]);
    if (dev > worst) worst = dev, worst_epoch = e;
  }
  MESSAGE(std::setprecision(8) << "final epoch loss: ours " << h["loss"].back() << ", PyTorch "
                               << expected.back() << "; max relative deviation " << worst
                               << " at epoch " << worst_epoch + 1);
  CHECK(worst < 1e-4);
  CHECK(h["loss"].back() < 0.1 * h["loss"].front());  // it did learn
}
