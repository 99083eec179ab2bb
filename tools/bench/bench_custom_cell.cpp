// A user's own cell against the built-in cell of the same math (the goal: within 10%, and >= 5x
// faster than the same cell in PyTorch's Python loop, tools/bench/bench_custom_cell.py). Not a
// test: run it by hand, on a quiet machine, in a Release build,
//   cmake --build build -j2 --target bench_custom_cell
//   ./build/tools/bench_custom_cell [--config A|B|both] [--runs 5]
//   /usr/bin/python3 tools/bench/bench_custom_cell.py [--config A|B|both] [--runs 5]
// UserSimpleRNNCell below is written as a user would write it in their own file: a tg::nn::Cell
// with three registered parameters and step = tanh(x W + h U + b), unrolled by tg::nn::RNN
// (no input projection before the loop, no fusion), and the same cell split as cell.hpp
// describes (its input part projected before the loop). The built-in tg::nn::SimpleRNN and
// both variants get the same initial weights and train on the same data by the protocol of
// tools::benchmark_training (the reference benchmarks': warm-up epoch, Adam, MSE, epochs timed
// whole) at one thread. Configs: A, the reference workload (64,32 stacked, T10, F1, 100
// samples, bs 32, 100 epochs); B, a GEMM-sized one (units 128, T50, F32, 512 samples, bs 64,
// 10 epochs). The three rotate `--runs` times, fresh weights each run; one JSON line per
// config with the medians over runs of the median epoch, the ratios to the built-in, and the
// final losses (the same math: equal to fp rounding).
#include <algorithm>
#include <array>
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
// `split` writes it the second way cell.hpp offers: an input part RNN projects block by block
// before the loop (project_inputs) and the recurrent part (step_projected), with addmm.
struct UserSimpleRNNCell : tg::nn::Cell {
  UserSimpleRNNCell(int64_t in, int64_t units, bool split)
      : kernel(register_parameter("kernel", tg::nn::init::glorot_uniform({in, units}))),
        recurrent_kernel(
            register_parameter("recurrent_kernel", tg::nn::init::orthogonal({units, units}))),
        bias(register_parameter("bias", tg::nn::init::zeros({units}))),
        split_(split) {}

  int64_t units() const override { return recurrent_kernel.shape()[0]; }
  std::string type_name() const override { return "UserSimpleRNNCell"; }

  tg::nn::State step(const tg::Tensor& x, const tg::nn::State& s) override {
    return {tg::tanh(tg::matmul(x, kernel) + tg::matmul(s[0], recurrent_kernel) + bias)};
  }

  bool has_input_projection() const override { return split_; }
  tg::Tensor project_inputs(const tg::Tensor& x) override { return tg::addmm(bias, x, kernel); }
  tg::nn::State step_projected(const tg::Tensor& p, const tg::nn::State& s) override {
    return {tg::tanh(tg::addmm(p, s[0], recurrent_kernel))};
  }

  tg::Tensor kernel, recurrent_kernel, bias;
  bool split_;
};

struct BenchConfig {
  std::string name;
  std::vector<int64_t> units;  // stacked layers; all but the last return sequences
  int64_t seq, features, samples, batch, epochs;
};

const BenchConfig kConfigA{"A", {64, 32}, 10, 1, 100, 32, 100};
const BenchConfig kConfigB{"B", {128}, 50, 32, 512, 64, 10};

enum class Kind { builtin, custom, custom_split };

// Stacked recurrent layers and a Dense(1): the built-in SimpleRNN or the user's cell.
std::shared_ptr<tg::nn::Sequential> make_model(const BenchConfig& c, Kind kind) {
  auto model = std::make_shared<tg::nn::Sequential>();
  int64_t in = c.features;
  for (std::size_t i = 0; i < c.units.size(); ++i) {
    const tg::nn::RNNOptions opts{.return_sequences = i + 1 < c.units.size()};
    if (kind != Kind::builtin) {
      const bool split = kind == Kind::custom_split;
      model->push_back(
          tg::nn::RNN(std::make_shared<UserSimpleRNNCell>(in, c.units[i], split), opts));
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

// Runs rotate which side goes first, so that a load change on a shared machine hits all.
void run_config(const BenchConfig& c, int runs) {
  tg::manual_seed(0);
  const tg::Tensor X = tg::rand({c.samples, c.seq, c.features});
  const tg::Tensor y = tg::rand({c.samples, 1});
  const tg::tools::TrainingBenchmarkOptions opts{.batch = c.batch, .epochs = c.epochs};
  const std::array kinds{Kind::builtin, Kind::custom, Kind::custom_split};
  std::array<Side, 3> sides;
  for (int r = 0; r < runs; ++r) {
    tg::manual_seed(static_cast<std::uint64_t>(r) + 1);
    std::array<std::shared_ptr<tg::nn::Sequential>, 3> models;
    for (std::size_t k = 0; k < kinds.size(); ++k) {
      models[k] = make_model(c, kinds[k]);
      if (k > 0) copy_weights(*models[0], *models[k]);
    }
    for (std::size_t i = 0; i < kinds.size(); ++i) {
      const std::size_t k = (i + static_cast<std::size_t>(r)) % kinds.size();
      record(sides[k], tg::tools::benchmark_training(*models[k], X, y, opts));
    }
  }
  const double builtin_ms = median(sides[0].epoch_ms);
  const double custom_ms = median(sides[1].epoch_ms);
  const double split_ms = median(sides[2].epoch_ms);
  const auto rel_diff = [&](const Side& s) {
    return std::abs(s.final_loss - sides[0].final_loss) / std::abs(sides[0].final_loss);
  };
  fmt::print(
      "{{\"config\": \"{}\", \"units\": [{}], \"seq\": {}, \"features\": {}, \"samples\": {}, "
      "\"batch\": {}, \"epochs\": {}, \"runs\": {}, \"builtin_epoch_ms\": {:.3f}, "
      "\"custom_epoch_ms\": {:.3f}, \"custom_over_builtin\": {:.3f}, "
      "\"custom_split_epoch_ms\": {:.3f}, \"custom_split_over_builtin\": {:.3f}, "
      "\"builtin_final_loss\": {:.9g}, \"custom_final_loss\": {:.9g}, \"loss_rel_diff\": {:.2e}, "
      "\"split_loss_rel_diff\": {:.2e}}}\n",
      c.name, fmt::join(c.units, ", "), c.seq, c.features, c.samples, c.batch, c.epochs, runs,
      builtin_ms, custom_ms, custom_ms / builtin_ms, split_ms, split_ms / builtin_ms,
      sides[0].final_loss, sides[1].final_loss, rel_diff(sides[1]), rel_diff(sides[2]));
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
