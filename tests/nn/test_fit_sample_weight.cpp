// fit / evaluate with sample weights (Keras's fit(sample_weight=...)) and with a mask that
// reaches the loss for per-step targets: the epoch loss Keras reports, weights that follow
// their samples through shuffling and validation_split, weight 2 = a repeated sample and
// weight 0 = a removed one, padded steps that do not train, and the errors.
#include <doctest/doctest.h>

#include "train_util.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
namespace data = tapegrad::data;
using tg_train::line;
using tg_train::linear_problem;

namespace {

double max_abs_diff(const tg::Tensor& a, const tg::Tensor& b) {
  return tg::max(tg::abs(a - b)).item();
}

// X and y with their first `extra` samples appended again at the end.
std::pair<tg::Tensor, tg::Tensor> with_repeats(const tg::Tensor& X, const tg::Tensor& y,
                                               int64_t extra) {
  return {tg::concat({X, tg::slice(X, 0, 0, extra)}, 0).detach(),
          tg::concat({y, tg::slice(y, 0, 0, extra)}, 0).detach()};
}

// Weights 2 on the first `extra` samples, 1 on the rest.
tg::Tensor doubled_first(int64_t n, int64_t extra) {
  std::vector<double> w(static_cast<std::size_t>(n), 1.0);
  for (int64_t i = 0; i < extra; ++i) w[static_cast<std::size_t>(i)] = 2.0;
  return tg::from_vector(w, {n});
}

// Padded sequences (N, T, 1) of lengths 2..T, their mask, and per-step targets (N, T, 1).
struct Sequences {
  tg::Tensor X, y, mask;
};
Sequences padded_sequences(int64_t n, int64_t steps) {
  tg::manual_seed(21);
  std::vector<tg::Tensor> seqs;
  for (int64_t i = 0; i < n; ++i) seqs.push_back(tg::rand({2 + i % (steps - 1), 1}, tg::f64));
  const tg::data::PaddedSequences batch = tg::data::pad_sequences(seqs, {.padding = "post"});
  // A target at each step, padded steps included (the loss must ignore those).
  const tg::Tensor y = (2.0 * batch.values + 0.5).detach();
  return {batch.values, y, batch.mask};
}

nn::Sequential sequence_model() {
  tg::manual_seed(4);
  return nn::Sequential{nn::SimpleRNN(1, 4, {.return_sequences = true}, tg::f64),
                        nn::Dense(4, 1, {.dtype = tg::f64})};
}

}  // namespace

TEST_CASE("with lr 0 the epoch loss and evaluate are Keras's weighted loss over all samples") {
  // Batches of 32, 32, 32, 4: each batch loss is sum(l * w) / batch size, and the batch-size
  // weighted mean of them is sum(l * w) / N over the whole set.
  const auto [X, y] = linear_problem(100);
  auto model = line(0.5, 0.2);
  const tg::Tensor w = tg::uniform({100}, 0, 3, tg::f64);
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.0});
  const nn::History h =
      nn::fit(model, loss, opt, X, y, {.epochs = 2, .verbose = 0, .sample_weight = w});
  const double all = nn::mse_loss(model(X), y, w).item();
  CHECK(all != doctest::Approx(nn::mse_loss(model(X), y).item()));
  CHECK(h["loss"][0] == doctest::Approx(all).epsilon(1e-13));
  CHECK(h["loss"][1] == doctest::Approx(all).epsilon(1e-13));
  CHECK(nn::evaluate(model, loss, X, y, 7, {}, w) == doctest::Approx(all).epsilon(1e-13));
}

TEST_CASE("fit: weight 2 trains as the sample repeated, weight 0 as the sample removed") {
  const auto [X, y] = linear_problem(20);
  const int64_t extra = 5;
  const auto [Xr, yr] = with_repeats(X, y, extra);
  SUBCASE("Reduction::sum: exactly the same steps") {
    nn::MSE loss(nn::Reduction::sum);
    auto weighted = line(), repeated = line();
    tg::optim::GD opt_w(weighted.parameters(), {.lr = 0.01});
    tg::optim::GD opt_r(repeated.parameters(), {.lr = 0.01});
    const auto hw = nn::fit(weighted, loss, opt_w, X, y,
                            {.epochs = 5, .verbose = 0, .sample_weight = doubled_first(20, extra)});
    const auto hr = nn::fit(repeated, loss, opt_r, Xr, yr, {.epochs = 5, .verbose = 0});
    CHECK(max_abs_diff(weighted.kernel, repeated.kernel) < 1e-14);
    CHECK(max_abs_diff(weighted.bias, repeated.bias) < 1e-14);
    CHECK(hw["loss"].back() == doctest::Approx(hr["loss"].back()).epsilon(1e-13));
    // Weight 0 on the repeated copies: the original set.
    auto removed = line(), original = line();
    tg::optim::GD opt_0(removed.parameters(), {.lr = 0.01});
    tg::optim::GD opt_o(original.parameters(), {.lr = 0.01});
    std::vector<double> zero_tail(25, 1.0);
    for (std::size_t i = 20; i < 25; ++i) zero_tail[i] = 0.0;
    nn::fit(removed, loss, opt_0, Xr, yr,
            {.epochs = 5, .verbose = 0, .sample_weight = tg::from_vector(zero_tail, {25})});
    nn::fit(original, loss, opt_o, X, y, {.epochs = 5, .verbose = 0});
    CHECK(max_abs_diff(removed.kernel, original.kernel) < 1e-14);
  }
  SUBCASE("Reduction::mean: the same steps once lr absorbs the element counts 20 and 25") {
    // sum_over_batch_size divides by N = 20 weighted, by 25 repeated.
    nn::MSE loss;
    auto weighted = line(), repeated = line();
    tg::optim::GD opt_w(weighted.parameters(), {.lr = 0.1 * 20 / 25});
    tg::optim::GD opt_r(repeated.parameters(), {.lr = 0.1});
    const auto hw = nn::fit(weighted, loss, opt_w, X, y,
                            {.epochs = 5, .verbose = 0, .sample_weight = doubled_first(20, extra)});
    const auto hr = nn::fit(repeated, loss, opt_r, Xr, yr, {.epochs = 5, .verbose = 0});
    CHECK(max_abs_diff(weighted.kernel, repeated.kernel) < 1e-13);
    CHECK(hw["loss"][0] == doctest::Approx(hr["loss"][0] * 25 / 20).epsilon(1e-13));
  }
}

TEST_CASE("fit: weights follow their samples through shuffling; weight-0 targets do not train") {
  // Garbage targets on weight-0 samples, shuffled minibatches: the same parameters as with
  // clean targets (a weight not shuffled with its sample would let the garbage in).
  const auto [X, y] = linear_problem(40);
  std::vector<double> w(40, 1.0), garbage = y.to_vector<double>();
  for (std::size_t i = 0; i < 40; i += 3) {
    w[i] = 0.0;
    garbage[i] = 1e6;
  }
  const tg::Tensor weights = tg::from_vector(w, {40});
  auto clean = line(), dirty = line();
  nn::MSE loss;
  tg::optim::SGD opt_c(clean.parameters(), {.lr = 0.1});
  tg::optim::SGD opt_d(dirty.parameters(), {.lr = 0.1});
  tg::manual_seed(8);
  const auto hc = nn::fit(clean, loss, opt_c, X, y,
                          {.epochs = 4, .batch_size = 8, .verbose = 0, .sample_weight = weights});
  tg::manual_seed(8);
  const auto hd = nn::fit(dirty, loss, opt_d, X, tg::from_vector(garbage, {40, 1}),
                          {.epochs = 4, .batch_size = 8, .verbose = 0, .sample_weight = weights});
  CHECK(max_abs_diff(clean.kernel, dirty.kernel) == 0.0);
  CHECK(max_abs_diff(clean.bias, dirty.bias) == 0.0);
  CHECK(hc["loss"] == hd["loss"]);
}

TEST_CASE("fit: validation_split splits the weights; validation_data takes its own") {
  const auto [X, y] = linear_problem(10);
  auto model = line(0.5, 0.2);
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.0});
  const tg::Tensor w = tg::tensor({1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0, 0.0});
  // The last 2 samples validate, with their weights 3 and 0.
  const auto h = nn::fit(model, loss, opt, X, y,
                         {.epochs = 1, .validation_split = 0.2, .verbose = 0, .sample_weight = w});
  const tg::Tensor Xv = tg::slice(X, 0, 8, 10), yv = tg::slice(y, 0, 8, 10);
  const tg::Tensor Xt = tg::slice(X, 0, 0, 8), yt = tg::slice(y, 0, 0, 8);
  CHECK(h["val_loss"][0] ==
        doctest::Approx(nn::mse_loss(model(Xv), yv, tg::tensor({3.0, 0.0})).item()).epsilon(1e-13));
  CHECK(h["loss"][0] == doctest::Approx(nn::mse_loss(model(Xt), yt).item()).epsilon(1e-13));
  const tg::Tensor wv = tg::tensor({0.0, 2.0});
  const auto hv = nn::fit(model, loss, opt, Xt, yt,
                          {.epochs = 1,
                           .validation_data = std::pair{Xv, yv},
                           .verbose = 0,
                           .validation_sample_weight = wv});
  CHECK(hv["val_loss"][0] == doctest::Approx(nn::evaluate(model, loss, Xv, yv, 32, {}, wv)));
  CHECK(hv["val_loss"][0] ==
        doctest::Approx(nn::mse_loss(model(Xv), yv, wv).item()).epsilon(1e-13));
}

TEST_CASE("fit with a mask and per-step targets: padded steps do not count or train") {
  const Sequences s = padded_sequences(6, 5);
  const tg::Tensor padded = 1.0 - tg::reshape(s.mask, {6, 5, 1});
  const tg::Tensor other_y = (s.y + 100.0 * padded).detach();  // only the padding differs
  auto a = sequence_model(), b = sequence_model();
  nn::MSE loss;
  tg::optim::Adam opt_a(a.parameters(), {.lr = 0.01});
  tg::optim::Adam opt_b(b.parameters(), {.lr = 0.01});
  tg::manual_seed(1);
  const auto ha = nn::fit(a, loss, opt_a, s.X, s.y,
                          {.epochs = 3, .batch_size = 4, .verbose = 0, .mask = s.mask});
  tg::manual_seed(1);
  const auto hb = nn::fit(b, loss, opt_b, s.X, other_y,
                          {.epochs = 3, .batch_size = 4, .verbose = 0, .mask = s.mask});
  CHECK(ha["loss"] == hb["loss"]);
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    CAPTURE(pa[i].first);
    CHECK(max_abs_diff(pa[i].second, pb[i].second) == 0.0);
  }
  // evaluate: the mean over the valid steps of the model's outputs (one batch).
  const tg::Tensor out = nn::predict(a, s.X, 32, s.mask);
  const double valid_mean = nn::MSE()(out, s.y, {}, s.mask).item();
  CHECK(nn::evaluate(a, loss, s.X, s.y, 32, s.mask) == doctest::Approx(valid_mean).epsilon(1e-13));
  CHECK(nn::evaluate(a, loss, s.X, other_y, 32, s.mask) ==
        doctest::Approx(valid_mean).epsilon(1e-13));
  // Mask and weights together: a per-step weight (N, T) on top of the mask.
  const tg::Tensor w = tg::uniform({6, 5}, 0, 2, tg::f64);
  CHECK(nn::evaluate(a, loss, s.X, s.y, 32, s.mask, w) ==
        doctest::Approx(nn::MSE()(out, s.y, w, s.mask).item()).epsilon(1e-13));
}

TEST_CASE("per-sample targets (N, k) are not masked even when k == T") {
  // A model reading padded sequences and predicting 5 numbers per sample: the mask is the
  // model's business, the loss counts all 5 outputs.
  const Sequences s = padded_sequences(6, 5);
  tg::manual_seed(4);
  nn::Sequential model{nn::SimpleRNN(1, 4, {}, tg::f64), nn::Dense(4, 5, {.dtype = tg::f64})};
  const tg::Tensor y = tg::rand({6, 5}, tg::f64);
  const tg::Tensor out = nn::predict(model, s.X, 32, s.mask);
  CHECK(nn::evaluate(model, nn::MSE(), s.X, y, 32, s.mask) ==
        doctest::Approx(nn::mse_loss(out, y).item()).epsilon(1e-13));
}

TEST_CASE("fit and evaluate reject sample weights that do not match the samples") {
  const auto [X, y] = linear_problem(10);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  CHECK_THROWS_WITH_AS(
      nn::fit(model, loss, opt, X, y, {.verbose = 0, .sample_weight = tg::ones({11}, tg::f64)}),
      doctest::Contains("fit: sample_weight has shape [11], expected (samples)"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(nn::fit(model, loss, opt, X, y,
                               {.verbose = 0, .sample_weight = tg::scalar_tensor(1.0, tg::f64)}),
                       doctest::Contains("samples = 10"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(nn::fit(model, loss, opt, X, y,
                               {.verbose = 0, .validation_sample_weight = tg::ones({2}, tg::f64)}),
                       doctest::Contains("validation_sample_weight of shape [2] is given without "
                                         "validation_data"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::fit(model, loss, opt, X, y,
                               {.validation_data = std::pair{X, y},
                                .verbose = 0,
                                .validation_sample_weight = tg::ones({3}, tg::f64)}),
                       doctest::Contains("fit: validation_data: sample_weight has shape [3]"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(nn::evaluate(model, loss, X, y, 32, {}, tg::ones({9}, tg::f64)),
                       doctest::Contains("evaluate: sample_weight has shape [9]"), tg::ShapeError);
  // Per-step weights for per-sample targets: the loss names itself and both shapes.
  CHECK_THROWS_WITH_AS(
      nn::fit(model, loss, opt, X, y, {.verbose = 0, .sample_weight = tg::ones({10, 3}, tg::f64)}),
      doctest::Contains("MSE: sample_weight of shape [10,3] does not fit the per-element loss of "
                        "shape [10,1]"),
      tg::ShapeError);
}
