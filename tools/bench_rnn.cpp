// tapegrad twin of ../shared/bench/reference/torch_rnn.cpp: the stacked-RNN regression
// workload (Keras: SimpleRNN(64, return_sequences) -> SimpleRNN(32) -> Dense(1), Adam, MSE,
// X, y ~ U[0,1)), trained by a hand-written loop, printing the reference's JSON line with
// "impl": "tapegrad".
//
//   bench_rnn [--cell rnn|lstm|gru] [--hidden 64,32] [--seq 10] [--features 1]
//             [--samples 100] [--batch 32] [--epochs 100] [--threads 1]
//             [--blas-threads N (default: --threads)] [--seed 0]
//
// Same protocol as the reference: X, y and the initial weights come from manual_seed(seed);
// one untimed warm-up epoch, then the initial weights are restored, a fresh Adam is made,
// the shuffle RNG is re-seeded with seed+1 and --epochs epochs are timed one by one (whole
// epoch: shuffle, gathering the batch rows, forward, backward, step, loss.item()). Our RNG
// is not torch's, so final_loss matches only in ballpark (~0.039 for the reference
// workload). tapegrad has no intra-op thread pool: --threads sets OpenBLAS's pool (unless
// --blas-threads is given) and "torch_threads" reports 1.
#include <dlfcn.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <tapegrad/autograd/autograd.hpp>
#include <tapegrad/core/core.hpp>
#include <tapegrad/nn/data.hpp>
#include <tapegrad/nn/dense.hpp>
#include <tapegrad/nn/rnn.hpp>
#include <tapegrad/nn/sequential.hpp>
#include <tapegrad/ops/ops.hpp>
#include <tapegrad/optim/adam.hpp>

namespace tg = tapegrad;

namespace {

struct Args {
  std::string cell = "rnn";
  std::vector<int64_t> hidden = {64, 32};
  int64_t seq = 10, features = 1, samples = 100, batch = 32, epochs = 100;
  int threads = 1, blas_threads = 0;  // blas_threads 0: same as threads
  uint64_t seed = 0;
};

std::vector<int64_t> parse_hidden(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) {
    if (!t.empty()) out.push_back(std::stoll(t));
  }
  if (out.empty()) throw std::runtime_error("--hidden needs at least one layer size");
  for (int64_t h : out) {
    if (h <= 0) throw std::runtime_error("--hidden sizes must be positive");
  }
  return out;
}

std::string blas_config(int threads) {
  tg::set_num_threads(threads);
  using get_fn = int (*)();
  using cfg_fn = char* (*)();
  auto get = reinterpret_cast<get_fn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  auto cfg = reinterpret_cast<cfg_fn>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  if (!get || !cfg) return "unknown threads=" + std::to_string(tg::num_threads());
  return std::string(cfg()) + " threads=" + std::to_string(get());
}

std::shared_ptr<tg::nn::Sequential> make_model(const Args& a) {
  auto model = std::make_shared<tg::nn::Sequential>();
  int64_t in = a.features;
  for (std::size_t i = 0; i < a.hidden.size(); ++i) {
    const tg::nn::RNNOptions opts{.return_sequences = i + 1 < a.hidden.size()};
    const int64_t h = a.hidden[i];
    if (a.cell == "rnn") {
      model->push_back(std::make_shared<tg::nn::SimpleRNN>(in, h, opts));
    } else if (a.cell == "lstm") {
      model->push_back(std::make_shared<tg::nn::LSTM>(in, h, opts));
    } else {
      model->push_back(std::make_shared<tg::nn::GRU>(in, h, opts));
    }
    in = h;
  }
  model->push_back(std::make_shared<tg::nn::Dense>(in, 1));
  return model;
}

double run_epoch(tg::nn::Module& model, tg::optim::Optimizer& opt, const tg::Tensor& X,
                 const tg::Tensor& y, int64_t batch) {
  const int64_t n = X.shape()[0];
  const std::vector<int64_t> perm = tg::randperm(n);
  double total = 0.0;
  for (int64_t s = 0; s < n; s += batch) {
    const int64_t e = std::min(s + batch, n);
    const std::vector<int64_t> rows(perm.begin() + s, perm.begin() + e);
    const tg::Tensor xb = tg::data::take(X, rows);
    const tg::Tensor yb = tg::data::take(y, rows);
    opt.zero_grad();  // set-to-none, like the reference
    const tg::Tensor loss = tg::mean(tg::square(model(xb) - yb));
    loss.backward();
    opt.step();
    total += loss.item() * static_cast<double>(e - s);
  }
  return total / static_cast<double>(n);
}

double rss_mb() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

// Parses the flags; on --help or an error, exits with CLI11's code (2 for any error).
Args parse_args(int argc, char** argv) {
  Args a;
  std::string hidden_arg = "64,32";
  CLI::App app{"tapegrad stacked-RNN regression benchmark (twin of torch_rnn)"};
  app.add_option("--cell", a.cell, "cell type")->check(CLI::IsMember({"rnn", "lstm", "gru"}));
  app.add_option("--hidden", hidden_arg, "comma list, one entry per stacked layer");
  app.add_option("--seq", a.seq)->check(CLI::PositiveNumber);
  app.add_option("--features", a.features)->check(CLI::PositiveNumber);
  app.add_option("--samples", a.samples)->check(CLI::PositiveNumber);
  app.add_option("--batch", a.batch)->check(CLI::PositiveNumber);
  app.add_option("--epochs", a.epochs)->check(CLI::NonNegativeNumber);
  app.add_option("--threads", a.threads)->check(CLI::PositiveNumber);
  app.add_option("--blas-threads", a.blas_threads, "OpenBLAS pool size (default: --threads)");
  app.add_option("--seed", a.seed);
  try {
    app.parse(argc, argv);
    a.hidden = parse_hidden(hidden_arg);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e) == 0 ? 0 : 2);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    std::exit(2);
  }
  if (a.blas_threads <= 0) a.blas_threads = a.threads;
  return a;
}

// The reference's protocol: one untimed warm-up epoch, the initial weights restored, a fresh
// Adam, the shuffle RNG re-seeded with seed+1, then every epoch timed on its own (seconds).
std::vector<double> time_epochs(tg::nn::Module& model, const Args& a, const tg::Tensor& X,
                                const tg::Tensor& y, double& final_loss) {
  const std::vector<tg::Tensor> params = model.parameters();
  std::vector<tg::Tensor> init_state;
  for (const tg::Tensor& p : params) init_state.push_back(p.detach().clone());
  const tg::optim::AdamOptions opts{.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-7};
  {
    tg::optim::Adam warm(model.named_parameters(), opts);
    run_epoch(model, warm, X, y, a.batch);
    tg::NoGradGuard ng;
    for (std::size_t i = 0; i < params.size(); ++i) tg::kernel::copy_into(params[i], init_state[i]);
    model.zero_grad();
  }
  tg::optim::Adam opt(model.named_parameters(), opts);
  tg::manual_seed(a.seed + 1);

  std::vector<double> times;
  final_loss = std::nan("");
  for (int64_t e = 0; e < a.epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    final_loss = run_epoch(model, opt, X, y, a.batch);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return times;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size();
  return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  const double base_rss = rss_mb();  // libraries loaded, no data yet
  const Args a = parse_args(argc, argv);
  const std::string blas = blas_config(a.blas_threads);

  tg::manual_seed(a.seed);
  const tg::Tensor X = tg::rand({a.samples, a.seq, a.features});
  const tg::Tensor y = tg::rand({a.samples, 1});
  auto model = make_model(a);
  int64_t n_params = 0;
  for (const tg::Tensor& p : model->parameters()) n_params += p.numel();

  double loss = 0;
  const std::vector<double> times = time_epochs(*model, a, X, y, loss);
  const double fastest = times.empty() ? 0.0 : *std::min_element(times.begin(), times.end());
  double total = 0.0;
  for (double t : times) total += t;

  std::string hidden;
  for (size_t i = 0; i < a.hidden.size(); ++i) {
    hidden += (i ? ", " : "") + std::to_string(a.hidden[i]);
  }
  // The reference's keys; "torch" names our library instead, "torch_threads" is our
  // (single) op thread.
  std::printf(
      "{\"impl\": \"tapegrad\", \"cell\": \"%s\", \"hidden\": [%s], \"seq\": %lld, "
      "\"features\": %lld, \"samples\": %lld, \"batch\": %lld, \"epochs\": %lld, "
      "\"threads\": %d, \"blas_threads\": %d, \"seed\": %llu, \"params\": %lld, "
      "\"epoch_ms_median\": %.3f, \"epoch_ms_min\": %.3f, \"train_s_total\": %.4f, "
      "\"final_loss\": %.17g, \"peak_rss_mb\": %.1f, \"base_rss_mb\": %.1f, "
      "\"torch\": \"none (tapegrad)\", \"torch_threads\": 1, \"blas\": \"%s\"}\n",
      a.cell.c_str(), hidden.c_str(), (long long)a.seq, (long long)a.features, (long long)a.samples,
      (long long)a.batch, (long long)a.epochs, a.threads, a.blas_threads,
      (unsigned long long)a.seed, (long long)n_params, median(times) * 1e3, fastest * 1e3, total,
      loss, rss_mb(), base_rss, blas.c_str());
  return 0;
}
