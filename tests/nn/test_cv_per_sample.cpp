// Cross-validation with per-sample fit options: opts.fit.mask and opts.fit.sample_weight
// hold one row per sample of X, so each fold must train and validate on its own rows of them.
// Before, they reached fit whole and every fold threw a shape error.
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;
namespace nn = tapegrad::nn;

namespace {

constexpr int64_t kSamples = 12, kSteps = 4;

std::shared_ptr<nn::Module> tiny_model() {
  return std::make_shared<nn::Sequential>(nn::SimpleRNN(1, 3), nn::Dense(3, 1));
}

nn::CVOptions quick() {
  return {.folds = 3, .fit = {.epochs = 2, .batch_size = 4, .verbose = 0}};
}

// Every third sample weighs 0.
tg::Tensor every_third_ignored() {
  std::vector<float> w;
  for (int64_t i = 0; i < kSamples; ++i) w.push_back(i % 3 == 0 ? 0.f : 1.f);
  return tg::from_vector(w, {kSamples});
}

// Sample i is valid for its first 2 + i % 3 steps.
tg::Tensor post_padding() {
  std::vector<float> m;
  for (int64_t i = 0; i < kSamples; ++i) {
    for (int64_t t = 0; t < kSteps; ++t) m.push_back(t < 2 + i % 3 ? 1.f : 0.f);
  }
  return tg::from_vector(m, {kSamples, kSteps});
}

}  // namespace

TEST_CASE("cross_validate: zero-weight samples do not count, whatever their targets") {
  tg::manual_seed(1);
  const tg::Tensor X = tg::rand({kSamples, kSteps, 1});
  const tg::Tensor y = tg::rand({kSamples, 1});
  const tg::Tensor w = every_third_ignored();
  // The ignored samples' targets replaced by garbage: fit's gradients and evaluate's losses
  // weigh them by 0, so every fold loss is the same bit for bit.
  const tg::Tensor garbage = tg::where(tg::reshape(w, {kSamples, 1}), y, y * 0.0 + 1000.0);
  nn::CVOptions opts = quick();
  opts.fit.sample_weight = w;
  const nn::CVResult clean = nn::cross_validate(tiny_model, X, y, opts);
  const nn::CVResult dirty = nn::cross_validate(tiny_model, X, garbage, opts);
  CHECK(clean.fold_losses == dirty.fold_losses);
  // Without the weights the garbage does count.
  const nn::CVResult unweighted = nn::cross_validate(tiny_model, X, garbage, quick());
  CHECK(unweighted.mean() > 100 * clean.mean());
}

TEST_CASE("cross_validate: each fold's mask hides its padded steps") {
  tg::manual_seed(2);
  const tg::Tensor X = tg::rand({kSamples, kSteps, 1});
  const tg::Tensor y = tg::rand({kSamples, 1});
  const tg::Tensor mask = post_padding();
  const tg::Tensor padded_garbage =
      tg::where(tg::reshape(mask, {kSamples, kSteps, 1}), X, X * 0.0 + 50.0);
  nn::CVOptions opts = quick();
  opts.fit.mask = mask;
  const nn::CVResult clean = nn::cross_validate(tiny_model, X, y, opts);
  const nn::CVResult dirty = nn::cross_validate(tiny_model, padded_garbage, y, opts);
  CHECK(clean.fold_losses == dirty.fold_losses);
}

TEST_CASE("cross_validate: a mask or weights of the wrong length is a ValueError") {
  const tg::Tensor X = tg::rand({kSamples, kSteps, 1});
  const tg::Tensor y = tg::rand({kSamples, 1});
  nn::CVOptions opts = quick();
  opts.fit.sample_weight = tg::ones({kSamples - 1});
  CHECK_THROWS_WITH_AS(nn::cross_validate(tiny_model, X, y, opts),
                       doctest::Contains("opts.fit.sample_weight has shape [11]"), tg::ValueError);
  opts = quick();
  opts.fit.mask = tg::ones({kSamples + 1, kSteps});
  CHECK_THROWS_WITH_AS(nn::cross_validate(tiny_model, X, y, opts),
                       doctest::Contains("one row per sample of X [12,4,1]"), tg::ValueError);
}
