// bench_autograd_torch: the libtorch side of bench_autograd, the same loops with torch::Tensor.
//
//   y = a;  for k in 0..K: y = y + b;  y.sum().backward();
//
// with leaves a, b (4x4 float, requires_grad), at one intra-op thread. Figures per op, in ns:
// fwd+bwd (chain and backward, divided by K), fwd (chain recorded, then dropped), no-grad
// (chain under torch::NoGradGuard). Calls of the global operator new per op after warm-up
// are counted the same way as in bench_autograd (libtorch's tensor data goes through its own
// CPU allocator, posix_memalign, which is not counted). libtorch runs the backward of a CPU
// graph on the calling thread, so thread CPU time is its cost here too.
//
// Prints a table and one JSON line ("bench":"autograd_op","impl":"libtorch").
//
// usage: bench_autograd_torch [--k K] [--reps R] [--batch-ms MS] [--quick]
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <new>
#include <string>
#include <vector>

// ---- counting global operator new ------------------------------------------------------------

namespace {

std::atomic<std::uint64_t> g_new_calls{0};

void* counted_alloc(std::size_t bytes, std::size_t align) {
  g_new_calls.fetch_add(1, std::memory_order_relaxed);
  if (bytes == 0) bytes = 1;
  if (align <= alignof(std::max_align_t)) return std::malloc(bytes);
  return std::aligned_alloc(align, (bytes + align - 1) / align * align);
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
  torch::Tensor a;
  torch::Tensor b;
};

void chain_fwd_bwd(const Leaves& l, int64_t k) {
  torch::Tensor y = l.a;
  for (int64_t i = 0; i < k; ++i) y = y + l.b;
  y.sum().backward();
}

void chain_fwd(const Leaves& l, int64_t k) {
  torch::Tensor y = l.a;
  for (int64_t i = 0; i < k; ++i) y = y + l.b;
}

void chain_no_grad(const Leaves& l, int64_t k) {
  torch::NoGradGuard no_grad;
  torch::Tensor y = l.a;
  for (int64_t i = 0; i < k; ++i) y = y + l.b;
}

struct Loop {
  const char* name;
  void (*run)(const Leaves&, int64_t);
  int64_t chains_per_batch = 1;
  std::vector<double> ns_per_op;
  double new_calls_per_op = 0;
};

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

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_autograd_torch: %s needs a value\n", flag.c_str());
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
    } else if (flag == "--quick") {
      a.reps = 3;
      a.batch_ms = 20;
    } else {
      std::fprintf(stderr,
                   "usage: bench_autograd_torch [--k K] [--reps R] [--batch-ms MS] "
                   "[--quick]\n");
      std::exit(flag == "--help" || flag == "-h" ? 0 : 2);
    }
  }
  if (a.k < 1 || a.reps < 1 || a.batch_ms <= 0) {
    std::fprintf(stderr, "bench_autograd_torch: --k, --reps and --batch-ms must be positive\n");
    std::exit(2);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  torch::set_num_threads(1);
  torch::manual_seed(0);
  Leaves l{torch::rand({4, 4}).requires_grad_(), torch::rand({4, 4}).requires_grad_()};

  std::vector<Loop> loops{{.name = "fwd+bwd", .run = chain_fwd_bwd},
                          {.name = "fwd", .run = chain_fwd},
                          {.name = "no-grad", .run = chain_no_grad}};
  const double batch_s = args.batch_ms * 1e-3;
  for (Loop& loop : loops) {
    for (int i = 0; i < 3; ++i) loop.run(l, args.k);
    loop.chains_per_batch = calibrate(loop, l, args.k, batch_s);
  }
  for (Loop& loop : loops) {
    const int64_t chains = std::max<int64_t>(loop.chains_per_batch, 10);
    const std::uint64_t new0 = g_new_calls.load();
    for (int64_t i = 0; i < chains; ++i) loop.run(l, args.k);
    loop.new_calls_per_op =
        static_cast<double>(g_new_calls.load() - new0) / static_cast<double>(chains * args.k);
  }
  for (int r = 0; r < args.reps; ++r) {
    for (Loop& loop : loops) {
      const double t0 = now_seconds();
      for (int64_t i = 0; i < loop.chains_per_batch; ++i) loop.run(l, args.k);
      const double t = now_seconds() - t0;
      loop.ns_per_op.push_back(t * 1e9 / static_cast<double>(loop.chains_per_batch * args.k));
    }
  }

  std::printf(
      "libtorch %s: chain of K=%lld recorded 4x4 f32 adds, median of %d reps (thread CPU "
      "time), %d thread\n",
      TORCH_VERSION, static_cast<long long>(args.k), args.reps, torch::get_num_threads());
  std::printf("%-10s %10s %10s %10s %13s %11s\n", "loop", "ns/op", "min", "max", "sys-alloc/op",
              "new/op");
  for (const Loop& loop : loops) {
    const auto [lo, hi] = std::minmax_element(loop.ns_per_op.begin(), loop.ns_per_op.end());
    std::printf("%-10s %10.1f %10.1f %10.1f %13s %11.3f\n", loop.name, median(loop.ns_per_op), *lo,
                *hi, "-", loop.new_calls_per_op);
  }
  const Loop& fb = loops[0];
  const Loop& f = loops[1];
  const Loop& ng = loops[2];
  std::printf(
      "{\"bench\":\"autograd_op\",\"impl\":\"libtorch\",\"version\":\"%s\",\"k\":%lld,"
      "\"reps\":%d,\"fwd_bwd_ns\":%.2f,\"fwd_ns\":%.2f,\"no_grad_ns\":%.2f,"
      "\"new_calls_per_op\":{\"fwd_bwd\":%.4f,\"fwd\":%.4f,\"no_grad\":%.4f}}\n",
      TORCH_VERSION, static_cast<long long>(args.k), args.reps, median(fb.ns_per_op),
      median(f.ns_per_op), median(ng.ns_per_op), fb.new_calls_per_op, f.new_calls_per_op,
      ng.new_calls_per_op);
  return 0;
}
