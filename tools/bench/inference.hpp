// Inference benchmarks: how fast a model answers once trained, measured the way the PyTorch
// references of tools/bench/reference (torch_rnn.cpp --infer, torch_rnn.py --infer) measure
// libtorch and PyTorch under torch::NoGradGuard, so the figures compare one to one
// (`tapegrad bench --infer` prints them as the references' JSON line).
//
//   tg::manual_seed(0);
//   const tg::Tensor X = tg::rand({100, 10, 1});
//   tg::nn::Sequential model{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
//                            tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
//   const tg::tools::InferenceBenchmark b = tg::tools::benchmark_inference(model, X);
//   std::cout << b.predict_ms_median() << " ms per predict, " << b.step_us_median()
//             << " us per forecast step\n";
//
// Two measurements, each in eval mode under NoGradGuard (nothing is recorded):
// - predict: nn::predict(model, X, opts.batch), all of X batch by batch, timed call by call.
// - a step-by-step forecast: a copy of the model whose recurrent layers are stateful
//   (stateful_copy: what a Keras user builds for online forecasting, the same layers with
//   stateful=True and the trained weights) is fed one sequence of X one time step at a time,
//   each call a (1, 1, features) input: the layers carry their state from call to call and
//   each call answers with the model's output after that step. Each pass over a sequence is
//   timed whole (the steps' inputs are cut from X before, and reset_states() runs after, both
//   untimed) and counts as its time / its steps per step. Pass r reads row r % samples of X.
// Protocol: opts.warmup untimed calls of each (they fill the caching allocator and the GEMM
// kernel caches), then opts.repeats timed predict calls and opts.repeats timed passes.
// The last output of each pass is checked against predict's row for its sequence:
// step_vs_predict_max_abs_diff is the largest difference seen (rounding only).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <tapegrad/core/tensor.hpp>
#include <tapegrad/nn/module.hpp>
#include <tapegrad/nn/sequential.hpp>

namespace tapegrad::tools {

struct InferenceBenchmarkOptions {
  int64_t batch = 32;     // predict's batch_size
  int64_t warmup = 10;    // untimed predict calls and forecast passes
  int64_t repeats = 200;  // timed predict calls and timed forecast passes
};

struct InferenceBenchmark {
  std::vector<double> predict_ms = {};  // one per timed predict call, in order
  std::vector<double> step_us = {};     // one per timed forecast pass: its time / its steps
  int64_t samples = 0;                  // rows of X, each predict call's work
  double step_vs_predict_max_abs_diff = 0;
  double predict_ms_median() const;  // 0 without timed calls
  double predict_ms_min() const;
  double predict_samples_per_s() const;  // samples / the median call; 0 without timed calls
  double step_us_median() const;         // 0 without timed passes
  double step_us_min() const;
  double steps_per_s() const;  // 1 / the median step; 0 without timed passes
};

// Measures `model` (a Sequential: (samples, time, features) in, (samples, outputs) out) on X
// by the protocol above; the model's mode and weights are left as they were. Throws
// ValueError for a batch < 1, warmup < 0, repeats < 0, or an X that is not 3-D with rows.
InferenceBenchmark benchmark_inference(nn::Module& model, const Tensor& X,
                                       const InferenceBenchmarkOptions& opts = {});

// A new model with the layers of `model` (a Sequential of layers nn::clone_model can copy),
// its recurrent layers stateful, holding copies of its weights. Throws ValueError for
// another kind of model, naming it.
std::shared_ptr<nn::Sequential> stateful_copy(const nn::Module& model);

}  // namespace tapegrad::tools
