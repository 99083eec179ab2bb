// bench_autograd: the fixed cost of one recorded op.
//
// A tiny op (4x4 f32 add) does almost no arithmetic, so its time is the autograd and
// allocation machinery around the kernel. The loop is a chain, the shape of an unrolled RNN:
//
//   y = a;  for k in 0..K: y = y + b;  sum(y).backward();
//
// with leaves a, b (4x4, requires_grad). Three figures per op, in ns:
//
//   fwd+bwd   the whole chain including backward, divided by K (sum and the backward call
//             are amortized over the K adds; the gradient of every add is included);
//   fwd       the chain under recording, without backward (records are built, then freed
//             when y is dropped);
//   no-grad   the chain under NoGradGuard: the kernel, the output tensor and the op's checks.
//
// Allocations after warm-up, per op, for each of the three loops:
//
//   sys-alloc   tg::memory_stats().system_allocations delta: blocks the caching allocator had
//               to get from the system;
//   new         calls of the global operator new (counting_new.cpp replaces it with a
//               counting one over malloc), i.e. heap traffic that bypasses the caching
//               allocator.
//
// The goal is 0 of both. With --trace-new N the first N operator-new calls after warm-up are
// printed with a backtrace (the binary is linked with -rdynamic so frames have names).
//
// Timing and counting are chain_bench.hpp's, shared with bench_autograd_torch. Prints a table
// and one JSON line ("bench":"autograd_op","impl":"tapegrad").
//
// usage: bench_autograd [--k K] [--reps R] [--batch-ms MS] [--trace-new N]
//                       [--only fwd+bwd|fwd|no-grad] [--quick]
#include <cstdint>

#include <fmt/core.h>

#include <tapegrad/autograd/autograd.hpp>
#include <tapegrad/core/core.hpp>
#include <tapegrad/ops/ops.hpp>

#include "chain_bench.hpp"

namespace tg = tapegrad;

namespace {

// One chain of K recorded adds, then backward through all of them.
void chain_fwd_bwd(const tg::Tensor& a, const tg::Tensor& b, int64_t k) {
  tg::Tensor y = a;
  for (int64_t i = 0; i < k; ++i) y = y + b;
  tg::sum(y).backward();
}

// The same chain recorded, dropped without backward.
void chain_fwd(const tg::Tensor& a, const tg::Tensor& b, int64_t k) {
  tg::Tensor y = a;
  for (int64_t i = 0; i < k; ++i) y = y + b;
}

// The same chain with nothing recorded.
void chain_no_grad(const tg::Tensor& a, const tg::Tensor& b, int64_t k) {
  tg::NoGradGuard no_grad;
  tg::Tensor y = a;
  for (int64_t i = 0; i < k; ++i) y = y + b;
}

}  // namespace

int main(int argc, char** argv) {
  const chain_bench::Options opts = chain_bench::parse_options(argc, argv, "bench_autograd");
  tg::manual_seed(0);
  tg::Tensor a = tg::rand({4, 4}).requires_grad_();
  tg::Tensor b = tg::rand({4, 4}).requires_grad_();

  const auto chain = [&](auto fn) { return [&, fn](int64_t k) { fn(a, b, k); }; };
  const auto loops = chain_bench::measure(
      {{.name = "fwd+bwd", .run = chain(chain_fwd_bwd)},
       {.name = "fwd", .run = chain(chain_fwd)},
       {.name = "no-grad", .run = chain(chain_no_grad)}},
      opts, [] { return tg::memory_stats().system_allocations; }, "bench_autograd");
  chain_bench::report(
      loops, opts,
      fmt::format("tapegrad: chain of K={} recorded 4x4 f32 adds, median of {} reps (thread "
                  "CPU time)",
                  opts.k, opts.reps),
      "tapegrad", "");
  return 0;
}
