#include "inference.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include <tapegrad/autograd/autograd.hpp>
#include <tapegrad/core/core.hpp>
#include <tapegrad/core/error.hpp>
#include <tapegrad/nn/fit.hpp>
#include <tapegrad/nn/model_config.hpp>
#include <tapegrad/nn/rnn.hpp>
#include <tapegrad/ops/ops.hpp>

#include "bench.hpp"

namespace tapegrad::tools {
namespace {

using Clock = std::chrono::steady_clock;

double elapsed_us(Clock::time_point since) {
  return std::chrono::duration<double, std::micro>(Clock::now() - since).count();
}

void check_options(const Tensor& X, const InferenceBenchmarkOptions& opts) {
  if (opts.batch < 1) {
    throw_error<ValueError>("benchmark_inference: batch must be >= 1, got {}", opts.batch);
  }
  if (opts.warmup < 0 || opts.repeats < 0) {
    throw_error<ValueError>("benchmark_inference: warmup and repeats must be >= 0, got {} and {}",
                            opts.warmup, opts.repeats);
  }
  if (X.dim() != 3 || X.shape()[0] == 0 || X.shape()[1] == 0) {
    throw_error<ValueError>(
        "benchmark_inference: X must be (samples, time, features) with samples and time "
        ">= 1, got {}",
        X.shape());
  }
}

// Puts the model in eval mode and gives it back its previous mode on exit.
class EvalGuard {
 public:
  explicit EvalGuard(nn::Module& model) : model_(model), was_training_(model.is_training()) {
    model_.eval();
  }
  ~EvalGuard() { model_.train(was_training_); }
  EvalGuard(const EvalGuard&) = delete;
  EvalGuard& operator=(const EvalGuard&) = delete;

 private:
  nn::Module& model_;
  bool was_training_;
};

// The time steps of sequence `row` of X as the forecast's inputs, each (1, 1, features) and
// contiguous, as an online forecast receives its observations.
std::vector<Tensor> step_inputs(const Tensor& X, int64_t row) {
  const Tensor sequence = select(X, 0, row);
  std::vector<Tensor> steps;
  for (int64_t t = 0; t < sequence.shape()[0]; ++t) {
    steps.push_back(reshape(select(sequence, 0, t), {1, 1, X.shape()[2]}).contiguous());
  }
  return steps;
}

// One pass of the forecast over `steps`, timed; returns its time per step and leaves the
// last step's output in `last`.
double timed_pass(nn::Module& forecaster, const std::vector<Tensor>& steps, Tensor& last) {
  const Clock::time_point t0 = Clock::now();
  for (const Tensor& x_t : steps) last = forecaster(x_t);
  return elapsed_us(t0) / static_cast<double>(steps.size());
}

// |a - b|'s largest element.
double max_abs_diff(const Tensor& a, const Tensor& b) {
  return max(abs(reshape(a, {-1}) - reshape(b, {-1}))).item();
}

void time_predict(nn::Module& model, const Tensor& X, const InferenceBenchmarkOptions& opts,
                  InferenceBenchmark& result) {
  for (int64_t i = 0; i < opts.warmup; ++i) nn::predict(model, X, opts.batch);
  for (int64_t i = 0; i < opts.repeats; ++i) {
    const Clock::time_point t0 = Clock::now();
    nn::predict(model, X, opts.batch);
    result.predict_ms.push_back(elapsed_us(t0) * 1e-3);
  }
}

// Each pass checks its last output against `predicted`, predict's outputs for all of X.
void time_forecast(nn::Sequential& forecaster, const Tensor& X, const Tensor& predicted,
                   const InferenceBenchmarkOptions& opts, InferenceBenchmark& result) {
  const int64_t samples = X.shape()[0];
  for (int64_t pass = 0; pass < opts.warmup + opts.repeats; ++pass) {
    const int64_t row = pass % samples;
    const std::vector<Tensor> steps = step_inputs(X, row);
    Tensor last;
    const double per_step = timed_pass(forecaster, steps, last);
    for (std::size_t i = 0; i < forecaster.size(); ++i) {
      if (auto* layer = dynamic_cast<nn::RNN*>(&forecaster[i])) layer->reset_states();
    }
    if (pass < opts.warmup) continue;
    result.step_us.push_back(per_step);
    result.step_vs_predict_max_abs_diff = std::max(result.step_vs_predict_max_abs_diff,
                                                   max_abs_diff(last, select(predicted, 0, row)));
  }
}

double per_second(double median, double unit) {
  return median > 0 ? unit / median : 0.0;
}

}  // namespace

double InferenceBenchmark::predict_ms_median() const {
  return median_of(predict_ms);
}
double InferenceBenchmark::predict_ms_min() const {
  return min_of(predict_ms);
}
double InferenceBenchmark::predict_samples_per_s() const {
  return per_second(predict_ms_median(), 1e3 * static_cast<double>(samples));
}
double InferenceBenchmark::step_us_median() const {
  return median_of(step_us);
}
double InferenceBenchmark::step_us_min() const {
  return min_of(step_us);
}
double InferenceBenchmark::steps_per_s() const {
  return per_second(step_us_median(), 1e6);
}

InferenceBenchmark benchmark_inference(nn::Module& model, const Tensor& X,
                                       const InferenceBenchmarkOptions& opts) {
  check_options(X, opts);
  const std::shared_ptr<nn::Sequential> forecaster = stateful_copy(model);
  EvalGuard model_eval(model), forecaster_eval(*forecaster);
  NoGradGuard no_grad;
  InferenceBenchmark result{.samples = X.shape()[0]};
  time_predict(model, X, opts, result);
  time_forecast(*forecaster, X, nn::predict(model, X, opts.batch), opts, result);
  return result;
}

std::shared_ptr<nn::Sequential> stateful_copy(const nn::Module& model) {
  const auto* layers = dynamic_cast<const nn::Sequential*>(&model);
  if (!layers) {
    throw_error<ValueError>(
        "stateful_copy: {} is not a Sequential; build its stateful twin in code",
        model.type_name());
  }
  auto copy = std::make_shared<nn::Sequential>();
  for (std::size_t i = 0; i < layers->size(); ++i) {
    const nn::Module& layer = (*layers)[i];
    const bool recurrent = dynamic_cast<const nn::RNN*>(&layer) != nullptr;
    copy->push_back(recurrent ? nn::clone_model(layer, {{"stateful", true}})
                              : nn::clone_model(layer));
  }
  NoGradGuard no_grad;
  const std::vector<Tensor> from = model.parameters(), to = copy->parameters();
  for (std::size_t i = 0; i < from.size(); ++i) kernel::copy_into(to[i], from[i]);
  return copy;
}

}  // namespace tapegrad::tools
