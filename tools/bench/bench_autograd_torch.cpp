// bench_autograd_torch: the libtorch side of bench_autograd, the same loops with torch::Tensor.
//
//   y = a;  for k in 0..K: y = y + b;  y.sum().backward();
//
// with leaves a, b (4x4 float, requires_grad), at one intra-op thread. Figures per op, in ns:
// fwd+bwd (chain and backward, divided by K), fwd (chain recorded, then dropped), no-grad
// (chain under torch::NoGradGuard). Timing and the count of global operator new calls per op
// after warm-up are chain_bench.hpp's, shared with bench_autograd (libtorch's tensor data
// goes through its own CPU allocator, posix_memalign, which is not counted). libtorch runs
// the backward of a CPU graph on the calling thread, so thread CPU time is its cost here too.
//
// Prints a table and one JSON line ("bench":"autograd_op","impl":"libtorch").
//
// usage: bench_autograd_torch [--k K] [--reps R] [--batch-ms MS] [--trace-new N]
//                             [--only fwd+bwd|fwd|no-grad] [--quick]
#include <torch/torch.h>

#include <cstdint>

#include <fmt/core.h>

#include "chain_bench.hpp"

namespace {

void chain_fwd_bwd(const torch::Tensor& a, const torch::Tensor& b, int64_t k) {
  torch::Tensor y = a;
  for (int64_t i = 0; i < k; ++i) y = y + b;
  y.sum().backward();
}

void chain_fwd(const torch::Tensor& a, const torch::Tensor& b, int64_t k) {
  torch::Tensor y = a;
  for (int64_t i = 0; i < k; ++i) y = y + b;
}

void chain_no_grad(const torch::Tensor& a, const torch::Tensor& b, int64_t k) {
  torch::NoGradGuard no_grad;
  torch::Tensor y = a;
  for (int64_t i = 0; i < k; ++i) y = y + b;
}

}  // namespace

int main(int argc, char** argv) {
  const chain_bench::Options opts = chain_bench::parse_options(argc, argv, "bench_autograd_torch");
  torch::set_num_threads(1);
  torch::manual_seed(0);
  const torch::Tensor a = torch::rand({4, 4}).requires_grad_();
  const torch::Tensor b = torch::rand({4, 4}).requires_grad_();

  const auto chain = [&](auto fn) { return [&, fn](int64_t k) { fn(a, b, k); }; };
  const auto loops = chain_bench::measure({{.name = "fwd+bwd", .run = chain(chain_fwd_bwd)},
                                           {.name = "fwd", .run = chain(chain_fwd)},
                                           {.name = "no-grad", .run = chain(chain_no_grad)}},
                                          opts, nullptr, "bench_autograd_torch");
  chain_bench::report(loops, opts,
                      fmt::format("libtorch {}: chain of K={} recorded 4x4 f32 adds, median of {} "
                                  "reps (thread CPU time), {} thread",
                                  TORCH_VERSION, opts.k, opts.reps, torch::get_num_threads()),
                      "libtorch", fmt::format("\"version\":\"{}\",", TORCH_VERSION));
  return 0;
}
