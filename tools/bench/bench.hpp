// Training benchmarks: how long an epoch of a model's training takes, measured the way the
// PyTorch references of tools/bench/reference (torch_rnn.py, torch_rnn.cpp) measure it, so
// the figures compare one to one (`tapegrad bench` prints them as the references' JSON line).
//
//   tg::manual_seed(0);
//   const tg::Tensor X = tg::rand({100, 10, 1}), y = tg::rand({100, 1});
//   auto model = std::make_shared<tg::nn::Sequential>(tg::nn::SimpleRNN(1, 64), tg::nn::Dense(64,
//   1)); const tg::tools::TrainingBenchmark b = tg::tools::benchmark_training(*model, X, y,
//   {.epochs = 20}); std::cout << b.median_ms() << " ms per epoch, peak RSS " <<
//   tg::tools::peak_rss_mb() << " MB\n";
//
// The protocol (the references'): one untimed warm-up epoch (it fills the caching allocator
// and OpenBLAS's buffers), then the initial weights are restored, a fresh Adam is made, the
// shuffle RNG is re-seeded with seed + 1, and every epoch is timed on its own, whole:
// shuffling, gathering the batch rows, forward, MSE, backward, step and loss.item(). Gradients
// are reset to none before each step and the last batch may be short, as in the references.
//
// Data-parallel (opts.data_parallel, every rank of a tg::dist::Session calling it with the
// same arguments): the same protocol on every rank, each training on its share of every
// batch, rows [r*b/N, (r+1)*b/N) of a batch of b rows on rank r of N, as fit's distributed
// mode splits it, through a dist::DataParallel made with those options; every rank draws the
// same shuffles from the same seed. The result adds the DataParallel's communication times
// over the timed epochs, and final_loss is the global batch losses' (the same on every rank).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad/core/tensor.hpp>
#include <tapegrad/nn/data_parallel.hpp>
#include <tapegrad/nn/module.hpp>
#include <tapegrad/optim/adam.hpp>

namespace tapegrad::tools {

struct TrainingBenchmarkOptions {
  int64_t batch = 32;
  int64_t epochs = 100;    // timed epochs, after the warm-up one
  std::uint64_t seed = 0;  // the timed epochs shuffle from seed + 1
  optim::AdamOptions adam = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-7};
  // Unset: this process trains on whole batches. Set: data-parallel over the ranks (above).
  std::optional<dist::DataParallelOptions> data_parallel = std::nullopt;
};

struct TrainingBenchmark {
  std::vector<double> epoch_ms = {};  // one per timed epoch, in order
  double final_loss = 0;  // sample-weighted mean batch loss of the last epoch (NaN: no epoch)
  // Data-parallel: the communication of the timed epochs alone (zero in a world of one).
  dist::DataParallelStats communication = {};
  int64_t buckets = 0;       // data-parallel: the buckets DataParallel sends at each step
  double median_ms() const;  // 0 without timed epochs
  double min_ms() const;
  double total_s() const;
  // The part of the timed epochs' time that backward waited for communication at its end
  // (communication.exposed_seconds / total_s()); 0 without timed epochs.
  double exposed_communication_share() const;
};

// Trains `model` on (X, y) with MSE and Adam by the protocol above; `model` ends with the
// weights of the last timed epoch. Throws ValueError for a batch < 1, epochs < 0, or X and y
// of different numbers of rows.
TrainingBenchmark benchmark_training(nn::Module& model, const Tensor& X, const Tensor& y,
                                     const TrainingBenchmarkOptions& opts = {});

// The median of `values` (the mean of the middle two of an even count) and the smallest; 0
// for none.
double median_of(std::vector<double> values);
double min_of(const std::vector<double>& values);

// The process's peak resident set so far (getrusage's ru_maxrss), in MB.
double peak_rss_mb();

// The GEMM libraries and the thread count: "libxsmm 1.17 (skx) + OpenBLAS 0.3.21
// DYNAMIC_ARCH ... threads=1", the references' "blas" field.
std::string blas_config();

}  // namespace tapegrad::tools
