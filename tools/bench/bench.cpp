#include "bench.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include <cblas.h>

#include <tapegrad/autograd/autograd.hpp>
#include <tapegrad/core/core.hpp>
#include <tapegrad/core/error.hpp>
#include <tapegrad/nn/data.hpp>
#include <tapegrad/ops/ops.hpp>

namespace tapegrad::tools {
namespace {

void check_options(const Tensor& X, const Tensor& y, const TrainingBenchmarkOptions& opts) {
  if (opts.batch < 1) {
    throw_error<ValueError>("benchmark_training: batch must be >= 1, got {}", opts.batch);
  }
  if (opts.epochs < 0) {
    throw_error<ValueError>("benchmark_training: epochs must be >= 0, got {}", opts.epochs);
  }
  if (X.dim() == 0 || y.dim() == 0 || X.shape()[0] != y.shape()[0]) {
    throw_error<ValueError>(
        "benchmark_training: X {} and y {} need the same number of rows (samples first)", X.shape(),
        y.shape());
  }
}

// One epoch in shuffled batches; the sample-weighted mean of the batch losses.
double train_epoch(nn::Module& model, optim::Optimizer& opt, const Tensor& X, const Tensor& y,
                   int64_t batch) {
  const int64_t n = X.shape()[0];
  const std::vector<int64_t> perm = randperm(n);
  double total = 0.0;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t stop = std::min(start + batch, n);
    const std::vector<int64_t> rows(perm.begin() + start, perm.begin() + stop);
    const Tensor xb = data::take(X, rows);
    const Tensor yb = data::take(y, rows);
    opt.zero_grad();  // set-to-none, like the references
    const Tensor loss = mean(square(model(xb) - yb));
    loss.backward();
    opt.step();
    total += loss.item() * static_cast<double>(stop - start);
  }
  return total / static_cast<double>(n);
}

// The warm-up epoch, then the weights as they were before it and no gradients.
void warm_up(nn::Module& model, const Tensor& X, const Tensor& y,
             const TrainingBenchmarkOptions& opts) {
  const std::vector<Tensor> params = model.parameters();
  std::vector<Tensor> initial;
  for (const Tensor& p : params) initial.push_back(p.detach().clone());
  optim::Adam warm(model.named_parameters(), opts.adam);
  train_epoch(model, warm, X, y, opts.batch);
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params.size(); ++i) kernel::copy_into(params[i], initial[i]);
  model.zero_grad();
}

}  // namespace

double TrainingBenchmark::median_ms() const {
  if (epoch_ms.empty()) return 0.0;
  std::vector<double> v = epoch_ms;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size();
  return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

double TrainingBenchmark::min_ms() const {
  return epoch_ms.empty() ? 0.0 : *std::min_element(epoch_ms.begin(), epoch_ms.end());
}

double TrainingBenchmark::total_s() const {
  return std::accumulate(epoch_ms.begin(), epoch_ms.end(), 0.0) * 1e-3;
}

TrainingBenchmark benchmark_training(nn::Module& model, const Tensor& X, const Tensor& y,
                                     const TrainingBenchmarkOptions& opts) {
  check_options(X, y, opts);
  warm_up(model, X, y, opts);
  optim::Adam opt(model.named_parameters(), opts.adam);
  manual_seed(opts.seed + 1);
  TrainingBenchmark result{.final_loss = std::nan("")};
  for (int64_t e = 0; e < opts.epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    result.final_loss = train_epoch(model, opt, X, y, opts.batch);
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - t0;
    result.epoch_ms.push_back(took.count());
  }
  return result;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

std::string blas_config() {
  return std::string(openblas_get_config()) + " threads=" + std::to_string(num_threads());
}

}  // namespace tapegrad::tools
