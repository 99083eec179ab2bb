// Cross-validation with a preprocessing step (CVOptions::preprocess): fitted on each fold's
// training rows alone, as a scikit-learn Pipeline inside cross_validate, so no validation row
// shapes it; applied to the fold's training and validation rows; with a y_inverse the
// validation loss is taken in y's own unit.
#include <algorithm>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;
namespace nn = tapegrad::nn;

namespace {

constexpr int64_t kSamples = 12;

std::shared_ptr<nn::Module> tiny_model() {
  return std::make_shared<nn::Sequential>(nn::SimpleRNN(1, 3), nn::Dense(3, 1));
}

nn::CVOptions quick(nn::SplitKind split) {
  return {.folds = 3, .split = split, .fit = {.epochs = 1, .batch_size = 4, .verbose = 0}};
}

// Sample i holds the value i at every step, and i as its target: a row tells its index.
struct Indexed {
  tg::Tensor X, y;
};

Indexed indexed() {
  const tg::Tensor i = tg::arange(kSamples);
  return {tg::broadcast_to(tg::reshape(i, {kSamples, 1, 1}), {kSamples, 2, 1}).contiguous(),
          tg::reshape(i, {kSamples, 1}).contiguous()};
}

std::vector<double> values_of(const tg::Tensor& t) {
  return t.to(tg::f64).contiguous().to_vector<double>();
}

}  // namespace

TEST_CASE("cross_validate: preprocess sees each fold's training rows, once per fold, in order") {
  const Indexed d = indexed();
  for (const nn::SplitKind split : {nn::SplitKind::time, nn::SplitKind::kfold}) {
    CAPTURE(static_cast<int>(split));
    nn::CVOptions opts = quick(split);
    std::vector<std::vector<double>> seen_x, seen_y;
    opts.preprocess = [&](const tg::Tensor& X, const tg::Tensor& y) {
      std::vector<double> rows;
      const std::vector<double> steps = values_of(X);
      for (std::size_t i = 0; i < steps.size(); i += 2) rows.push_back(steps[i]);
      seen_x.push_back(rows);
      seen_y.push_back(values_of(y));
      return nn::FoldTransform{};
    };
    nn::cross_validate(tiny_model, d.X, d.y, opts);
    const std::vector<nn::Fold> folds = split == nn::SplitKind::time
                                            ? nn::time_series_splits(kSamples, 3)
                                            : nn::kfold_splits(kSamples, 3, true, 0);
    REQUIRE(seen_x.size() == folds.size());
    for (std::size_t f = 0; f < folds.size(); ++f) {
      CAPTURE(f);
      const std::vector<double> train(folds[f].train.begin(), folds[f].train.end());
      CHECK(seen_x[f] == train);
      CHECK(seen_y[f] == train);
    }
  }
}

TEST_CASE("cross_validate: a fold's scaler is fitted without its validation rows") {
  // Time folds of 12 samples in 3: validation blocks of 3 from sample 3. The last fold
  // validates on samples 9..11, which hold the largest values: its scaler, fitted on 0..8,
  // must not have seen them; its validation rows then leave [0, 1], as in scikit-learn.
  const Indexed d = indexed();
  nn::CVOptions opts = quick(nn::SplitKind::time);
  std::vector<tg::data::Scaler> fitted;
  opts.preprocess = [&](const tg::Tensor& X, const tg::Tensor& y) {
    tg::data::Scaler s;
    s.fit(tg::concat({tg::reshape(X, {X.numel()}), tg::reshape(y, {y.numel()})}));
    fitted.push_back(s);
    const auto scale = [s](const tg::Tensor& t) { return s.transform(t); };
    return nn::FoldTransform{.x = scale, .y = scale, .y_inverse = {}};
  };
  nn::cross_validate(tiny_model, d.X, d.y, opts);
  REQUIRE(fitted.size() == 3);
  CHECK(fitted[0].data_max() == 2);
  CHECK(fitted[1].data_max() == 5);
  CHECK(fitted[2].data_max() == 8);
  for (const tg::data::Scaler& s : fitted) CHECK(s.data_min() == 0);
  CHECK(fitted[2].transform(tg::full({1}, 11.0)).item() > 1.0);
}

TEST_CASE("cross_validate: with a y_inverse the validation loss is in y's unit") {
  // A model whose output, mapped back by y_inverse, is the constant 100: each fold's MSE is
  // then the mean of (100 - y)^2 over its untransformed validation targets.
  const Indexed d = indexed();
  nn::CVOptions opts = quick(nn::SplitKind::time);
  opts.preprocess = [](const tg::Tensor&, const tg::Tensor&) {
    return nn::FoldTransform{.x = {},
                             .y = [](const tg::Tensor& t) { return t * 0.001; },
                             .y_inverse = [](const tg::Tensor& t) { return t * 0.0 + 100.0; }};
  };
  const nn::CVResult r = nn::cross_validate(tiny_model, d.X, d.y, opts);
  const std::vector<nn::Fold> folds = nn::time_series_splits(kSamples, 3);
  REQUIRE(r.fold_losses.size() == 3);
  for (std::size_t f = 0; f < 3; ++f) {
    double expected = 0;
    for (int64_t i : folds[f].validation) expected += (100.0 - i) * (100.0 - i);
    expected /= static_cast<double>(folds[f].validation.size());
    CHECK(r.fold_losses[f] == doctest::Approx(expected));
  }
  // Without y_inverse the loss is against y(targets), in the transformed unit: the model's
  // raw output (near 0 after one epoch) against targets of at most 0.011.
  opts.preprocess = [](const tg::Tensor&, const tg::Tensor&) {
    return nn::FoldTransform{
        .x = {}, .y = [](const tg::Tensor& t) { return t * 0.001; }, .y_inverse = {}};
  };
  for (double loss : nn::cross_validate(tiny_model, d.X, d.y, opts).fold_losses) CHECK(loss < 10);
}

TEST_CASE("cross_validate: a preprocess map that drops rows is a ValueError") {
  const Indexed d = indexed();
  nn::CVOptions opts = quick(nn::SplitKind::time);
  opts.preprocess = [](const tg::Tensor&, const tg::Tensor&) {
    return nn::FoldTransform{
        .x = [](const tg::Tensor& t) { return tg::slice(t, 0, 0, 1); }, .y = {}, .y_inverse = {}};
  };
  CHECK_THROWS_WITH_AS(nn::cross_validate(tiny_model, d.X, d.y, opts),
                       "cross_validate: opts.preprocess's x map turned rows [3,2,1] into [1,2,1]: "
                       "it must keep one row per sample",
                       tg::ValueError);
}

TEST_CASE(
    "min_max_per_fold: each fold's scaler spans its training rows alone; losses in y's unit") {
  const Indexed d = indexed();
  nn::CVOptions opts = quick(nn::SplitKind::time);
  std::vector<tg::data::Scaler> fitted;
  opts.preprocess = nn::min_max_per_fold(&fitted);
  const nn::CVResult r = nn::cross_validate(tiny_model, d.X, d.y, opts);
  const std::vector<nn::Fold> folds = nn::time_series_splits(kSamples, 3);
  REQUIRE(fitted.size() == folds.size());
  for (std::size_t f = 0; f < folds.size(); ++f) {
    CAPTURE(f);
    // Sample i holds the value i: the range is that of the fold's training indices.
    CHECK(fitted[f].data_min() == 0);
    CHECK(fitted[f].data_max() == static_cast<double>(folds[f].train.back()));
    CHECK(fitted[f].data_max() < static_cast<double>(folds[f].validation.front()));
  }
  // The model sees [0, 1]-scaled data; its validation error, back in the unit of y (values
  // up to 11), is far above what [0, 1] predictions could miss by in the scaled unit.
  CHECK(*std::max_element(r.fold_losses.begin(), r.fold_losses.end()) > 1.0);
}
