// `tapegrad bench`: the stacked-RNN training benchmark of tools/bench/reference, the twin of
// its torch_rnn.py and torch_rnn.cpp: the same flags (defaults: the reference workload,
// Keras's SimpleRNN(64) -> SimpleRNN(32) -> Dense(1) on 100 random sequences of 10 steps,
// 100 epochs), the same workload and protocol (tools/bench/bench.hpp), and the same one JSON line
// on stdout with "impl": "tapegrad", so tools/bench_rnn.sh and the reference's summarize.py
// read it beside theirs.
//
//   tapegrad bench                                      the reference workload, 1 thread
//   tapegrad bench --cell gru --hidden 128 --seq 200 --features 16 --samples 512 --threads 2
//   mpirun -np 2 tapegrad bench --hidden 256,256 --batch 64    data-parallel on 2 ranks
//   tapegrad bench --infer                              predict and a step-by-step forecast
//
// tapegrad bench: flags, data and model as the references make them, timing by
// tools::benchmark_training, and their JSON line. tapegrad's ops run on the calling thread
// and its only thread pool is OpenBLAS's, so --threads sizes that pool (unless --blas-threads
// is given) and "torch_threads", the references' intra-op thread count, is 1.
// Under mpirun every rank trains its share of each batch (tools/bench/bench.hpp) through a
// tg::dist::DataParallel whose options are --first-bucket-kb, --bucket-kb, --any-order and
// --no-comm-thread, --threads is per rank, and rank 0 prints the line, with "ranks", the
// global "samples_per_s" and the communication per step; tools/bench/bench_dist.sh runs it
// beside PyTorch's DDP.
// With --infer nothing is trained: the same model and data are timed by
// tools::benchmark_inference (predict of all samples in batches of --batch, then a stateful
// forecast of one sequence fed one step at a time, --repeats timed calls of each), and the line
// holds those figures instead, as the references' --infer prints them.
#include "command.hpp"

#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/tapegrad.hpp>

#include "common.hpp"

namespace tapegrad::cli {
namespace {

struct BenchConfig {
  ModelConfig model;  // .units is --hidden
  int64_t seq = 10, features = 1, samples = 100, batch = 32, epochs = 100;
  int threads = 1;
  int blas_threads = 0;  // 0: --threads
  std::uint64_t seed = 0;
  int64_t first_bucket_kb = dist::DataParallelOptions{}.first_bucket_bytes / 1024;
  int64_t bucket_kb = dist::DataParallelOptions{}.bucket_bytes / 1024;
  bool any_order = false;       // DataParallelOptions::order = any_order (MPI_Allreduce)
  bool no_comm_thread = false;  // DataParallelOptions::communication_thread = false
  bool infer = false;           // time inference instead of training
  int64_t repeats = tools::InferenceBenchmarkOptions{}.repeats;
};

int64_t count_parameters(const nn::Module& model) {
  int64_t n = 0;
  for (const Tensor& p : model.parameters()) n += p.numel();
  return n;
}

// The keys both JSON lines open with: the workload, `count_key` (epochs or repeats), threads,
// seed and the parameter count.
std::string head_json(const BenchConfig& c, const char* count_key, int64_t count, int64_t params) {
  return fmt::format(
      "\"impl\": \"tapegrad\", \"cell\": \"{}\", \"hidden\": [{}], \"seq\": {}, \"features\": {}, "
      "\"samples\": {}, \"batch\": {}, \"{}\": {}, \"threads\": {}, \"blas_threads\": {}, "
      "\"seed\": {}, \"params\": {}",
      c.model.cell, fmt::join(c.model.units, ", "), c.seq, c.features, c.samples, c.batch,
      count_key, count, c.threads, c.blas_threads, c.seed, params);
}

// The keys both JSON lines carry after their figures: memory, "torch" and BLAS.
std::string environment_json(double base_rss_mb) {
  return fmt::format(
      "\"peak_rss_mb\": {:.1f}, \"base_rss_mb\": {:.1f}, \"torch\": \"none (tapegrad)\", "
      "\"torch_threads\": 1, \"blas\": \"{}\"",
      tools::peak_rss_mb(), base_rss_mb, tools::blas_config());
}

// The references' JSON line, key for key ("torch" names no torch version here), and the
// data-parallel figures: ranks, global throughput, communication per step and its share.
std::string json_line(const BenchConfig& c, int64_t params, const tools::TrainingBenchmark& b,
                      double base_rss_mb) {
  const dist::DataParallelStats& comm = b.communication;
  const double per_step_ms = comm.steps > 0 ? 1e3 / static_cast<double>(comm.steps) : 0.0;
  const double median_s = b.median_ms() * 1e-3;
  return fmt::format(
      "{{{}, \"epoch_ms_median\": {:.3f}, \"epoch_ms_min\": {:.3f}, \"train_s_total\": {:.4f}, "
      "\"final_loss\": {:.17g}, {}, \"ranks\": {}, \"samples_per_s\": {:.1f}, "
      "\"first_bucket_kb\": {}, \"bucket_kb\": {}, \"sum_order\": \"{}\", "
      "\"comm_thread\": {}, \"buckets\": {}, \"comm_ms_per_step\": {:.4f}, "
      "\"exposed_ms_per_step\": {:.4f}, \"exposed_comm_share\": {:.4f}}}",
      head_json(c, "epochs", c.epochs, params), b.median_ms(), b.min_ms(), b.total_s(),
      b.final_loss, environment_json(base_rss_mb), dist::world_size(),
      median_s > 0 ? static_cast<double>(c.samples) / median_s : 0.0, c.first_bucket_kb,
      c.bucket_kb, c.any_order ? "any" : "rank", !c.no_comm_thread, b.buckets,
      comm.communicating_seconds * per_step_ms, comm.exposed_seconds * per_step_ms,
      b.exposed_communication_share());
}

// The references' --infer JSON line: the inference figures between the same keys.
std::string infer_json_line(const BenchConfig& c, int64_t params,
                            const tools::InferenceBenchmark& b, double base_rss_mb) {
  return fmt::format(
      "{{{}, \"predict_ms_median\": {:.4f}, \"predict_ms_min\": {:.4f}, "
      "\"predict_samples_per_s\": {:.1f}, \"step_us_median\": {:.3f}, \"step_us_min\": {:.3f}, "
      "\"steps_per_s\": {:.1f}, \"step_vs_predict_max_abs_diff\": {:.3g}, {}}}",
      head_json(c, "repeats", c.repeats, params), b.predict_ms_median(), b.predict_ms_min(),
      b.predict_samples_per_s(), b.step_us_median(), b.step_us_min(), b.steps_per_s(),
      b.step_vs_predict_max_abs_diff, environment_json(base_rss_mb));
}

// Data-parallel under a launcher, with the flags' bucket sizes; alone, whole batches.
std::optional<dist::DataParallelOptions> data_parallel(const BenchConfig& c) {
  if (dist::world_size() == 1) return std::nullopt;
  return dist::DataParallelOptions{
      .first_bucket_bytes = c.first_bucket_kb * 1024,
      .bucket_bytes = c.bucket_kb * 1024,
      .order = c.any_order ? dist::Order::any_order : dist::Order::rank_order,
      .communication_thread = !c.no_comm_thread};
}

int run_bench(BenchConfig c) {
  const double base_rss_mb = tools::peak_rss_mb();  // libraries loaded, no data yet
  if (c.blas_threads == 0) c.blas_threads = c.threads;
  set_num_threads(c.blas_threads);
  // Seed, data, model: the references' order.
  manual_seed(c.seed);
  const Tensor X = rand({c.samples, c.seq, c.features});
  const Tensor y = rand({c.samples, 1});
  const auto model = build_model(c.model, c.features);
  if (c.infer) {
    const tools::InferenceBenchmark b =
        tools::benchmark_inference(*model, X, {.batch = c.batch, .repeats = c.repeats});
    if (dist::is_root())
      std::cout << infer_json_line(c, count_parameters(*model), b, base_rss_mb) << std::endl;
    return 0;
  }
  const tools::TrainingBenchmark b = tools::benchmark_training(
      *model, X, y,
      {.batch = c.batch, .epochs = c.epochs, .seed = c.seed, .data_parallel = data_parallel(c)});
  if (dist::is_root())
    std::cout << json_line(c, count_parameters(*model), b, base_rss_mb) << std::endl;
  return 0;
}

CLI::Option* add_count(CLI::App& cmd, const std::string& name, int64_t& value,
                       const std::string& help) {
  return cmd.add_option(name, value, help)
      ->check(positive_integer())
      ->type_name("N")
      ->capture_default_str();
}

void add_bench_flags(CLI::App& bench, BenchConfig& c) {
  add_cell_flag(bench, c.model);
  add_list_option(bench, "--hidden", c.model.units,
                  "Units of each stacked recurrent layer, comma-separated; a Dense(1) follows",
                  positive_integer())
      ->type_name("N,N,...")
      ->default_str("64,32");
  add_count(bench, "--seq", c.seq, "Time steps per sequence");
  add_count(bench, "--features", c.features, "Features per time step");
  add_count(bench, "--samples", c.samples, "Random sequences in the training set");
  add_count(bench, "--batch", c.batch, "Batch size (the last batch may be short)");
  add_count(bench, "--epochs", c.epochs,
            "Timed epochs, after one untimed warm-up epoch (unused with --infer)");
  bench.add_flag("--infer", c.infer,
                 "Time inference instead of training: predict, and a stateful forecast fed one "
                 "time step at a time");
  add_count(bench, "--repeats", c.repeats,
            fmt::format("With --infer: timed predict calls and timed forecast passes, after {} "
                        "untimed",
                        tools::InferenceBenchmarkOptions{}.warmup));
  bench.add_option("--threads", c.threads, "Threads: OpenBLAS's pool, unless --blas-threads")
      ->check(positive_integer())
      ->type_name("N")
      ->capture_default_str();
  bench.add_option("--blas-threads", c.blas_threads, "OpenBLAS threads (default: --threads)")
      ->check(positive_integer())
      ->type_name("N");
  bench.add_option("--seed", c.seed, "Random seed (data and initial weights)")
      ->check(unsigned_64())
      ->type_name("N")
      ->capture_default_str();
  add_count(bench, "--first-bucket-kb", c.first_bucket_kb,
            "Under mpirun: KiB of gradient in the first bucket DataParallel sends");
  add_count(bench, "--bucket-kb", c.bucket_kb,
            "Under mpirun: KiB of gradient in each later bucket");
  bench.add_flag("--any-order", c.any_order,
                 "Under mpirun: sum gradients with MPI_Allreduce in any order, not in rank order");
  bench.add_flag("--no-comm-thread", c.no_comm_thread,
                 "Under mpirun: send every bucket from backward's thread when backward ends");
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto config = std::make_shared<BenchConfig>();
  CLI::App* bench = app.add_subcommand(
      "bench", "Time training epochs of a stacked RNN, as the PyTorch reference benchmarks do");
  bench->footer(
      "Prints one JSON line, the one tools/bench/reference/torch_rnn.py prints, with\n"
      "\"impl\": \"tapegrad\". The defaults are the reference workload (Keras's SimpleRNN\n"
      "tutorial); tools/bench_rnn.sh runs this beside libtorch and PyTorch. With --infer\n"
      "the line holds inference figures instead (predict ms, forecast step us), as the\n"
      "references' --infer prints them; tools/bench_rnn.sh --infer compares them.");
  add_bench_flags(*bench, *config);
  return {bench, [config] { return run_bench(*config); }};
}

}  // namespace tapegrad::cli
