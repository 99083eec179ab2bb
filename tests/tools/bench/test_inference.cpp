// tools::benchmark_inference: predict and a step-by-step stateful forecast, timed.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

namespace {

// The reference model's shape, smaller: a sequence-returning layer feeding a second one.
std::shared_ptr<tg::nn::Sequential> stacked_model() {
  return std::make_shared<tg::nn::Sequential>(tg::nn::SimpleRNN(2, 5, {.return_sequences = true}),
                                              tg::nn::SimpleRNN(5, 3), tg::nn::Dense(3, 1));
}

}  // namespace

TEST_CASE("benchmark_inference: times per predict call and per step, positive, and the mode kept") {
  tg::manual_seed(0);
  const tg::Tensor X = tg::rand({7, 4, 2});
  const auto model = stacked_model();
  const tg::tools::InferenceBenchmark b =
      tg::tools::benchmark_inference(*model, X, {.batch = 3, .warmup = 1, .repeats = 5});
  REQUIRE(b.predict_ms.size() == 5);
  REQUIRE(b.step_us.size() == 5);
  CHECK(b.samples == 7);
  CHECK(b.predict_ms_min() > 0);
  CHECK(b.predict_ms_min() <= b.predict_ms_median());
  CHECK(b.predict_samples_per_s() > 0);
  CHECK(b.step_us_min() > 0);
  CHECK(b.step_us_min() <= b.step_us_median());
  CHECK(b.steps_per_s() > 0);
  CHECK(model->is_training());  // given back in the mode it came in
}

TEST_CASE("benchmark_inference: the step-by-step forecast ends where predict does") {
  tg::manual_seed(0);
  const tg::Tensor X = tg::rand({6, 5, 2});
  // LSTM and GRU too: a state of two tensors, and another cell, carried the same way.
  const std::vector<std::shared_ptr<tg::nn::Sequential>> models{
      stacked_model(),
      std::make_shared<tg::nn::Sequential>(tg::nn::LSTM(2, 5, {.return_sequences = true}),
                                           tg::nn::GRU(5, 3), tg::nn::Dense(3, 1))};
  for (const auto& model : models) {
    // More passes than rows: every sequence is forecast, the state reset between them.
    const tg::tools::InferenceBenchmark b =
        tg::tools::benchmark_inference(*model, X, {.warmup = 2, .repeats = 8});
    CHECK(b.step_vs_predict_max_abs_diff < 1e-6);
  }
}

TEST_CASE("stateful_copy: stateful recurrent layers with the model's weights, step by step") {
  tg::manual_seed(0);
  const tg::Tensor X = tg::rand({1, 4, 2});
  const auto model = stacked_model();
  const auto copy = tg::tools::stateful_copy(*model);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(dynamic_cast<tg::nn::RNN&>((*copy)[i]).options().stateful);
  }
  tg::NoGradGuard no_grad;
  tg::Tensor last;
  for (int64_t t = 0; t < 4; ++t) last = (*copy)(tg::slice(X, 1, t, t + 1));
  // The per-step GEMMs may round differently from the whole sequence's.
  const std::vector<float> stepped = last.to_vector<float>(),
                           whole = (*model)(X).to_vector<float>();
  REQUIRE(stepped.size() == 1);
  CHECK(stepped[0] == doctest::Approx(whole.at(0)).epsilon(1e-6));
}

TEST_CASE("benchmark_inference: bad options, data and models are ValueErrors naming them") {
  tg::manual_seed(0);
  const tg::Tensor X = tg::rand({6, 4, 2});
  const auto model = stacked_model();
  CHECK_THROWS_WITH_AS(tg::tools::benchmark_inference(*model, X, {.batch = 0}),
                       doctest::Contains("batch must be >= 1, got 0"), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::tools::benchmark_inference(*model, X, {.repeats = -1}),
                       doctest::Contains("warmup and repeats must be >= 0"), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::tools::benchmark_inference(*model, tg::rand({6, 2})),
                       doctest::Contains("X must be (samples, time, features)"), tg::ValueError);
  tg::nn::SimpleRNN alone(2, 3);
  CHECK_THROWS_WITH_AS(tg::tools::stateful_copy(alone), doctest::Contains("not a Sequential"),
                       tg::ValueError);
}
