#include "bench.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>
#include <span>

#include <cblas.h>

#include <tapegrad/autograd/autograd.hpp>
#include <tapegrad/core/core.hpp>
#include <tapegrad/core/error.hpp>
#include <tapegrad/core/large_gemm.hpp>
#include <tapegrad/core/small_gemm.hpp>
#include <tapegrad/nn/data.hpp>
#include <tapegrad/nn/dist.hpp>
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

// The rows [begin, end) of a batch of `rows` rows that this process trains on: all of them
// alone; data-parallel, its rank's share, as fit splits a batch.
dist::Share share_of(int64_t rows, const dist::DataParallel* ddp) {
  return ddp ? dist::share_of(rows) : dist::Share{0, rows};
}

// One step on this process's share of the batch `rows`; returns the share's term of the
// batch loss (its loss weighted by its part of the batch: the batch loss itself alone).
double train_step(nn::Module& model, optim::Optimizer& opt, dist::DataParallel* ddp,
                  const Tensor& X, const Tensor& y, std::span<const int64_t> rows) {
  const auto batch = static_cast<int64_t>(rows.size());
  const dist::Share share = share_of(batch, ddp);
  const double weight = static_cast<double>(share.end - share.begin) / static_cast<double>(batch);
  if (ddp) ddp->set_weight(weight);
  opt.zero_grad();  // set-to-none, like the references
  double term = 0.0;
  if (share.end > share.begin) {
    const std::vector<int64_t> mine(rows.begin() + share.begin, rows.begin() + share.end);
    const Tensor loss = mean(square(model(data::take(X, mine)) - data::take(y, mine)));
    loss.backward();
    term = loss.item() * weight;
  } else {
    ddp->synchronize();  // the other ranks' backward sums over this rank too
  }
  opt.step();
  return term;
}

// One epoch in shuffled batches; the sample-weighted mean of this process's terms of the
// batch losses (alone: of the batch losses).
double train_epoch(nn::Module& model, optim::Optimizer& opt, dist::DataParallel* ddp,
                   const Tensor& X, const Tensor& y, int64_t batch) {
  const int64_t n = X.shape()[0];
  const std::vector<int64_t> perm = randperm(n);
  double total = 0.0;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t stop = std::min(start + batch, n);
    const std::span<const int64_t> rows(perm.data() + start, perm.data() + stop);
    total += train_step(model, opt, ddp, X, y, rows) * static_cast<double>(stop - start);
  }
  return total / static_cast<double>(n);
}

// The warm-up epoch, then the weights as they were before it and no gradients.
void warm_up(nn::Module& model, dist::DataParallel* ddp, const Tensor& X, const Tensor& y,
             const TrainingBenchmarkOptions& opts) {
  const std::vector<Tensor> params = model.parameters();
  std::vector<Tensor> initial;
  for (const Tensor& p : params) initial.push_back(p.detach().clone());
  optim::Adam warm(model.named_parameters(), opts.adam);
  train_epoch(model, warm, ddp, X, y, opts.batch);
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params.size(); ++i) kernel::copy_into(params[i], initial[i]);
  model.zero_grad();
}

// The epoch loss of the whole batches from each rank's terms (alone: as it is).
double global_loss(double local, const dist::DataParallel* ddp) {
  if (!ddp) return local;
  const Tensor sum = scalar_tensor(local, f64);
  dist::all_reduce(sum);
  return sum.item();
}

dist::DataParallelStats since(const dist::DataParallelStats& now,
                              const dist::DataParallelStats& then) {
  return {.steps = now.steps - then.steps,
          .communicating_seconds = now.communicating_seconds - then.communicating_seconds,
          .exposed_seconds = now.exposed_seconds - then.exposed_seconds};
}

}  // namespace

double TrainingBenchmark::median_ms() const {
  return median_of(epoch_ms);
}

double TrainingBenchmark::min_ms() const {
  return min_of(epoch_ms);
}

double TrainingBenchmark::total_s() const {
  return std::accumulate(epoch_ms.begin(), epoch_ms.end(), 0.0) * 1e-3;
}

double TrainingBenchmark::exposed_communication_share() const {
  const double total = total_s();
  return total > 0 ? communication.exposed_seconds / total : 0.0;
}

TrainingBenchmark benchmark_training(nn::Module& model, const Tensor& X, const Tensor& y,
                                     const TrainingBenchmarkOptions& opts) {
  check_options(X, y, opts);
  std::optional<dist::DataParallel> data_parallel;
  if (opts.data_parallel) data_parallel.emplace(model, *opts.data_parallel);
  dist::DataParallel* ddp = data_parallel ? &*data_parallel : nullptr;
  warm_up(model, ddp, X, y, opts);
  const dist::DataParallelStats before = ddp ? ddp->stats() : dist::DataParallelStats{};
  optim::Adam opt(model.named_parameters(), opts.adam);
  manual_seed(opts.seed + 1);
  TrainingBenchmark result{.final_loss = std::nan("")};
  double last_epoch = result.final_loss;
  for (int64_t e = 0; e < opts.epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    last_epoch = train_epoch(model, opt, ddp, X, y, opts.batch);
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - t0;
    result.epoch_ms.push_back(took.count());
  }
  result.final_loss = global_loss(last_epoch, ddp);
  if (ddp) {
    result.communication = since(ddp->stats(), before);
    result.buckets = static_cast<int64_t>(ddp->buckets().size());
  }
  return result;
}

double median_of(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t m = values.size();
  return m % 2 ? values[m / 2] : 0.5 * (values[m / 2 - 1] + values[m / 2]);
}

double min_of(const std::vector<double>& values) {
  return values.empty() ? 0.0 : *std::min_element(values.begin(), values.end());
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

std::string blas_config() {
  return kernel::detail::large_gemm_library() + " + " + kernel::detail::small_gemm_library() +
         " + " + openblas_get_config() + " threads=" + std::to_string(num_threads());
}

}  // namespace tapegrad::tools
