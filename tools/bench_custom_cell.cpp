// A user's own cell against the built-in cell of the same math (issue 13: within 10%, and >= 5x
// faster than the same cell in PyTorch's Python loop, tools/bench_custom_cell.py). Not a test:
// run it by hand, on a quiet machine, in a Release build,
//   cmake --build build -j2 --target bench_custom_cell
//   ./build/tools/bench_custom_cell [--config A|B|both] [--runs 5]
//   /usr/bin/python3 tools/bench_custom_cell.py [--config A|B|both] [--runs 5]
// UserSimpleRNNCell below is written as a user would write it in their own file: a tg::nn::Cell
// with three registered parameters and step = tanh(x W + h U + b), unrolled by tg::nn::RNN
// (no input projection over the whole sequence, no fusion). The built-in tg::nn::SimpleRNN
// gets the same initial weights, and both train on the same data by the protocol of
// tools::benchmark_training (the reference benchmarks': warm-up epoch, Adam, MSE, epochs timed
// whole) at one thread. Configs: A, the reference workload (64,32 stacked, T10, F1, 100
// samples, bs 32, 100 epochs); B, a GEMM-sized one (units 128, T50, F32, 512 samples, bs 64,
// 10 epochs). Built-in and custom runs alternate `--runs` times, fresh weights each run; one
// JSON line per config with the medians over runs of the median epoch, their ratio, and both
// final losses (the same math: equal to fp rounding).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

namespace {

// h_t = tanh(x_t W + h_{t-1} U + b), the built-in SimpleRNNCell's math and parameter names.
struct UserSimpleRNNCell : tg::nn::Cell {
  UserSimpleRNNCell(int64_t in, int64_t units)
      : kernel(register_parameter("kernel", tg::nn::init::glorot_uniform({in, units}))),
        recurrent_kernel(
            register_parameter("recurrent_kernel", tg::nn::init::orthogonal({units, units}))),
        bias(register_parameter("bias", tg::nn::init::zeros({units}))) {}

  int64_t units() const override { return recurrent_kernel.shape()[0]; }
  std::string type_name() const override { return "UserSimpleRNNCell"; }

  tg::nn::State step(const tg::Tensor& x, const tg::nn::State& s) override {
    return {tg::tanh(tg::matmul(x, kernel) + tg::matmul(s[0], recurrent_kernel) + bias)};
  }

  tg::Tensor kernel, recurrent_kernel, bias;
};

struct BenchConfig {
  std::string name;
  std::vector<int64_t> units;  // stacked layers; all but the last return sequences
  int64_t seq, features, samples, batch, epochs;
};

const BenchConfig kConfigA{"A", {64, 32}, 10, 1, 100, 32, 100};
const BenchConfig kConfigB{"B", {128}, 50, 32, 512, 64, 10};

// Stacked recurrent layers and a Dense(1): the built-in SimpleRNN or the user's cell.
std::shared_ptr<tg::nn::Sequential> make_model(const BenchConfig& c, bool custom) {
  auto model = std::make_shared<tg::nn::Sequential>();
  int64_t in = c.features;
  for (std::size_t i = 0; i < c.units.size(); ++i) {
    const tg::nn::RNNOptions opts{.return_sequences = i + 1 < c.units.size()};
    if (custom) {
      model->push_back(tg::nn::RNN(std::make_shared<UserSimpleRNNCell>(in, c.units[i]), opts));
    } else {
      model->push_back(tg::nn::SimpleRNN(in, c.units[i], opts));
    }
    in = c.units[i];
  }
  model->push_back(tg::nn::Dense(in, 1));
  return model;
}

// The built-in model's weights into the custom one, which must name them alike.
void copy_weights(const tg::nn::Module& from, tg::nn::Module& to) {
  const tg::NamedTensors source = from.named_parameters();
  const tg::NamedTensors target = to.named_parameters();
  if (source.size() != target.size()) {
    tg::throw_error<tg::ValueError>("copy_weights: {} parameters into {}", source.size(),
                                    target.size());
  }
  tg::NoGradGuard no_grad;
  for (std::size_t i = 0; i < source.size(); ++i) {
    const auto& [name, value] = source[i];
    if (name != target[i].first || value.shape() != target[i].second.shape()) {
      tg::throw_error<tg::ValueError>("copy_weights: {} {} does not match {} {}", name,
                                      value.shape(), target[i].first, target[i].second.shape());
    }
    tg::kernel::copy_into(target[i].second, value);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size();
  return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

struct Side {
  std::vector<double> epoch_ms;  // each run's median epoch
  double final_loss = 0;         // of the last run (every run starts from the same weights)
};

void record(Side& side, const tg::tools::TrainingBenchmark& b) {
  side.epoch_ms.push_back(b.median_ms());
  side.final_loss = b.final_loss;
}

// Runs alternate which side goes first, so that a load change on a shared machine hits both.
void run_config(const BenchConfig& c, int runs) {
  tg::manual_seed(0);
  const tg::Tensor X = tg::rand({c.samples, c.seq, c.features});
  const tg::Tensor y = tg::rand({c.samples, 1});
  const tg::tools::TrainingBenchmarkOptions opts{.batch = c.batch, .epochs = c.epochs};
  Side builtin, custom;
  for (int r = 0; r < runs; ++r) {
    tg::manual_seed(static_cast<std::uint64_t>(r) + 1);
    const auto builtin_model = make_model(c, false);
    const auto custom_model = make_model(c, true);
    copy_weights(*builtin_model, *custom_model);
    const auto time_builtin = [&] {
      record(builtin, tg::tools::benchmark_training(*builtin_model, X, y, opts));
    };
    const auto time_custom = [&] {
      record(custom, tg::tools::benchmark_training(*custom_model, X, y, opts));
    };
    if (r % 2 == 0) {
      time_builtin();
      time_custom();
    } else {
      time_custom();
      time_builtin();
    }
  }
  const double builtin_ms = median(builtin.epoch_ms), custom_ms = median(custom.epoch_ms);
  fmt::print(
      "{{\"config\": \"{}\", \"units\": [{}], \"seq\": {}, \"features\": {}, \"samples\": {}, "
      "\"batch\": {}, \"epochs\": {}, \"runs\": {}, \"builtin_epoch_ms\": {:.3f}, "
      "\"custom_epoch_ms\": {:.3f}, \"custom_over_builtin\": {:.3f}, \"builtin_final_loss\": "
      "{:.9g}, \"custom_final_loss\": {:.9g}, \"loss_rel_diff\": {:.2e}}}\n",
      c.name, fmt::join(c.units, ", "), c.seq, c.features, c.samples, c.batch, c.epochs, runs,
      builtin_ms, custom_ms, custom_ms / builtin_ms, builtin.final_loss, custom.final_loss,
      std::abs(custom.final_loss - builtin.final_loss) / std::abs(builtin.final_loss));
}

}  // namespace

int main(int argc, char** argv) {
  tg::tools::ScriptArgs args("bench_custom_cell",
                             "A user's SimpleRNN-like cell against the built-in SimpleRNN.");
  std::string config = "both";
  int runs = 5;
  args.option("--config", config, "which workload").one_of({"A", "B", "both"});
  args.option("--runs", runs, "alternating runs per side").range(1, 1000);
  if (const auto exit_code = args.parse(argc, argv)) return *exit_code;
  tg::set_num_threads(1);
  fmt::print("# {}\n", tg::tools::blas_config());
  if (config != "B") run_config(kConfigA, runs);
  if (config != "A") run_config(kConfigB, runs);
}
