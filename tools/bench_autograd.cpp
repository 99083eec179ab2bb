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
//   new         calls of the global operator new (this file replaces it with a counting one
//               over malloc), i.e. heap traffic that bypasses the caching allocator.
//
// The goal is 0 of both. With --trace-new N the first N operator-new calls after warm-up are
// printed with a backtrace (the binary is linked with -rdynamic so frames have names).
//
// Times are thread CPU time (CLOCK_THREAD_CPUTIME_ID): the machine is shared, and this counts
// only what this thread spent. Each figure is the median over --reps repetitions of a batch
// that runs for about --batch-ms; the three loops are interleaved repetition by repetition.
// Prints a table and one JSON line ("bench":"autograd_op","impl":"tapegrad").
//
// usage: bench_autograd [--k K] [--reps R] [--batch-ms MS] [--trace-new N]
//                       [--only fwd+bwd|fwd|no-grad] [--quick]
#include <execinfo.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include <fmt/core.h>

#include <tapegrad/autograd/autograd.hpp>
#include <tapegrad/core/core.hpp>
#include <tapegrad/ops/ops.hpp>

namespace tg = tapegrad;

// ---- counting global operator new ------------------------------------------------------------

namespace {

std::atomic<std::uint64_t> g_new_calls{0};
// When > 0, the next operator-new calls print a backtrace (and decrement it).
std::atomic<int> g_trace_left{0};
thread_local bool t_in_trace = false;

void trace_new(std::size_t bytes) {
  if (t_in_trace) return;
  if (g_trace_left.load(std::memory_order_relaxed) <= 0) return;
  t_in_trace = true;
  g_trace_left.fetch_sub(1, std::memory_order_relaxed);
  void* frames[24];
  const int n = backtrace(frames, 24);
  char line[64];
  const int len = std::snprintf(line, sizeof line, "--- operator new(%zu)\n", bytes);
  if (write(STDERR_FILENO, line, static_cast<std::size_t>(len)) < 0) {
  }
  // Skip this function and operator new itself.
  backtrace_symbols_fd(frames + 2, std::max(0, n - 2), STDERR_FILENO);
  t_in_trace = false;
}

void* counted_alloc(std::size_t bytes, std::size_t align) {
  g_new_calls.fetch_add(1, std::memory_order_relaxed);
  trace_new(bytes);
  if (bytes == 0) bytes = 1;
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(bytes);
  } else {
    p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
  }
  return p;
}

void* counted_alloc_or_throw(std::size_t bytes, std::size_t align) {
  void* p = counted_alloc(bytes, align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t n) {
  return counted_alloc_or_throw(n, 0);
}
void* operator new[](std::size_t n) {
  return counted_alloc_or_throw(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n, 0);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}

// ---- the benchmark ----------------------------------------------------------------------------

namespace {

struct Args {
  int64_t k = 256;
  int reps = 9;
  double batch_ms = 100;
  int trace_new = 0;
  std::string only;  // run just this loop (for profilers)
};

double now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Leaves {
  tg::Tensor a;
  tg::Tensor b;
};

// One chain of K recorded adds, then backward through all of them.
void chain_fwd_bwd(const Leaves& l, int64_t k) {
  tg::Tensor y = l.a;
  for (int64_t i = 0; i < k; ++i) y = y + l.b;
  tg::sum(y).backward();
}

// The same chain recorded, dropped without backward.
void chain_fwd(const Leaves& l, int64_t k) {
  tg::Tensor y = l.a;
  for (int64_t i = 0; i < k; ++i) y = y + l.b;
}

// The same chain with nothing recorded.
void chain_no_grad(const Leaves& l, int64_t k) {
  tg::NoGradGuard no_grad;
  tg::Tensor y = l.a;
  for (int64_t i = 0; i < k; ++i) y = y + l.b;
}

struct Loop {
  const char* name;
  void (*run)(const Leaves&, int64_t);
  int64_t chains_per_batch = 1;
  std::vector<double> ns_per_op;
  double sys_allocs_per_op = 0;
  double new_calls_per_op = 0;
};

// Chains per batch so that a batch runs for about `seconds`.
int64_t calibrate(const Loop& loop, const Leaves& l, int64_t k, double seconds) {
  int64_t n = 1;
  while (true) {
    const double t0 = now_seconds();
    for (int64_t i = 0; i < n; ++i) loop.run(l, k);
    const double t = now_seconds() - t0;
    if (t > seconds / 4 || n > (int64_t{1} << 24)) {
      return std::max<int64_t>(
          1, static_cast<int64_t>(static_cast<double>(n) * seconds / std::max(t, 1e-9)));
    }
    n *= 4;
  }
}

// Allocations per op over `chains` chains, after the warm-up already done by calibrate.
void count_allocations(Loop& loop, const Leaves& l, int64_t k, int64_t chains, int trace) {
  const std::uint64_t sys0 = tg::memory_stats().system_allocations;
  const std::uint64_t new0 = g_new_calls.load();
  g_trace_left.store(trace);
  for (int64_t i = 0; i < chains; ++i) loop.run(l, k);
  g_trace_left.store(0);
  const std::uint64_t sys1 = tg::memory_stats().system_allocations;
  const std::uint64_t new1 = g_new_calls.load();
  const double ops = static_cast<double>(chains * k);
  loop.sys_allocs_per_op = static_cast<double>(sys1 - sys0) / ops;
  loop.new_calls_per_op = static_cast<double>(new1 - new0) / ops;
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        fmt::print(stderr, "bench_autograd: {} needs a value\n", flag);
        std::exit(2);
      }
      return argv[++i];
    };
    if (flag == "--k") {
      a.k = std::atoll(value());
    } else if (flag == "--reps") {
      a.reps = std::atoi(value());
    } else if (flag == "--batch-ms") {
      a.batch_ms = std::atof(value());
    } else if (flag == "--trace-new") {
      a.trace_new = std::atoi(value());
    } else if (flag == "--only") {
      a.only = value();
    } else if (flag == "--quick") {
      a.reps = 3;
      a.batch_ms = 20;
    } else {
      fmt::print(stderr,
                 "usage: bench_autograd [--k K] [--reps R] [--batch-ms MS] [--trace-new N] "
                 "[--only fwd+bwd|fwd|no-grad] [--quick]\n");
      std::exit(flag == "--help" || flag == "-h" ? 0 : 2);
    }
  }
  if (a.k < 1 || a.reps < 1 || a.batch_ms <= 0) {
    fmt::print(stderr, "bench_autograd: --k, --reps and --batch-ms must be positive\n");
    std::exit(2);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  {
    // backtrace() loads libgcc on its first call, which allocates: do it before counting.
    void* frames[4];
    backtrace(frames, 4);
  }

  tg::manual_seed(0);
  Leaves l{tg::rand({4, 4}), tg::rand({4, 4})};
  l.a.requires_grad_();
  l.b.requires_grad_();

  std::vector<Loop> loops{{.name = "fwd+bwd", .run = chain_fwd_bwd},
                          {.name = "fwd", .run = chain_fwd},
                          {.name = "no-grad", .run = chain_no_grad}};
  if (!args.only.empty()) {
    std::erase_if(loops, [&](const Loop& loop) { return args.only != loop.name; });
    if (loops.empty()) {
      fmt::print(stderr, "bench_autograd: --only takes fwd+bwd, fwd or no-grad\n");
      return 2;
    }
  }
  const double batch_s = args.batch_ms * 1e-3;
  for (Loop& loop : loops) {
    for (int i = 0; i < 3; ++i) loop.run(l, args.k);  // warm-up: allocator caches, tape
    loop.chains_per_batch = calibrate(loop, l, args.k, batch_s);
  }
  for (Loop& loop : loops) {
    if (args.trace_new > 0) fmt::print(stderr, "=== operator new calls in {}\n", loop.name);
    count_allocations(loop, l, args.k, std::max<int64_t>(loop.chains_per_batch, 10),
                      args.trace_new);
  }
  for (int r = 0; r < args.reps; ++r) {
    for (Loop& loop : loops) {
      const double t0 = now_seconds();
      for (int64_t i = 0; i < loop.chains_per_batch; ++i) loop.run(l, args.k);
      const double t = now_seconds() - t0;
      loop.ns_per_op.push_back(t * 1e9 / static_cast<double>(loop.chains_per_batch * args.k));
    }
  }

  fmt::print("tapegrad: chain of K={} recorded 4x4 f32 adds, median of {} reps (thread CPU time)\n",
             args.k, args.reps);
  fmt::print("{:<10} {:>10} {:>10} {:>10} {:>13} {:>11}\n", "loop", "ns/op", "min", "max",
             "sys-alloc/op", "new/op");
  for (const Loop& loop : loops) {
    const auto [lo, hi] = std::minmax_element(loop.ns_per_op.begin(), loop.ns_per_op.end());
    fmt::print("{:<10} {:>10.1f} {:>10.1f} {:>10.1f} {:>13.3f} {:>11.3f}\n", loop.name,
               median(loop.ns_per_op), *lo, *hi, loop.sys_allocs_per_op, loop.new_calls_per_op);
  }
  if (loops.size() != 3) return 0;  // --only: no JSON line
  const Loop& fb = loops[0];
  const Loop& f = loops[1];
  const Loop& ng = loops[2];
  fmt::print(
      "{{\"bench\":\"autograd_op\",\"impl\":\"tapegrad\",\"k\":{},\"reps\":{},"
      "\"fwd_bwd_ns\":{:.2f},\"fwd_ns\":{:.2f},\"no_grad_ns\":{:.2f},"
      "\"sys_allocs_per_op\":{{\"fwd_bwd\":{:.4f},\"fwd\":{:.4f},\"no_grad\":{:.4f}}},"
      "\"new_calls_per_op\":{{\"fwd_bwd\":{:.4f},\"fwd\":{:.4f},\"no_grad\":{:.4f}}}}}\n",
      args.k, args.reps, median(fb.ns_per_op), median(f.ns_per_op), median(ng.ns_per_op),
      fb.sys_allocs_per_op, f.sys_allocs_per_op, ng.sys_allocs_per_op, fb.new_calls_per_op,
      f.new_calls_per_op, ng.new_calls_per_op);
  return 0;
}
