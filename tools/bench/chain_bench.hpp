// The harness shared by bench_autograd (tapegrad) and bench_autograd_torch (libtorch): both
// time the same loops, count allocations and print the same table and JSON line, so their
// figures compare one to one (tools/bench_autograd.sh puts them side by side).
//
// A loop runs one chain of K tiny ops per call. Each figure is the median over --reps
// repetitions of a batch of chains that runs for about --batch-ms, the loops interleaved
// repetition by repetition. Times are thread CPU time (CLOCK_THREAD_CPUTIME_ID): the machine
// is shared, and this counts only what this thread spent.
#pragma once

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "counting_new.hpp"

namespace chain_bench {

struct Options {
  int64_t k = 256;
  int reps = 9;
  double batch_ms = 100;
  int trace_new = 0;  // backtraces of the first N operator-new calls after warm-up
  std::string only;   // run just this loop (for profilers)
};

struct Loop {
  std::string name;
  std::function<void(int64_t k)> run;  // one chain of k ops
  int64_t chains_per_batch = 1;
  std::vector<double> ns_per_op = {};
  std::optional<double> sys_allocs_per_op = {};
  double new_calls_per_op = 0;
};

// The library's own count of blocks taken from the system, where it keeps one.
using SystemAllocations = std::function<std::uint64_t()>;

inline Options parse_options(int argc, char** argv, const std::string& program) {
  const std::string usage = fmt::format(
      "usage: {} [--k K] [--reps R] [--batch-ms MS] [--trace-new N] [--only LOOP] [--quick]",
      program);
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{}: {} needs a value\n", program, flag);
        std::exit(2);
      }
      return argv[++i];
    };
    if (flag == "--k") {
      o.k = std::atoll(value());
    } else if (flag == "--reps") {
      o.reps = std::atoi(value());
    } else if (flag == "--batch-ms") {
      o.batch_ms = std::atof(value());
    } else if (flag == "--trace-new") {
      o.trace_new = std::atoi(value());
    } else if (flag == "--only") {
      o.only = value();
    } else if (flag == "--quick") {
      o.reps = 3;
      o.batch_ms = 20;
    } else {
      fmt::print(stderr, "{}\n", usage);
      std::exit(flag == "--help" || flag == "-h" ? 0 : 2);
    }
  }
  if (o.k < 1 || o.reps < 1 || o.batch_ms <= 0) {
    fmt::print(stderr, "{}: --k, --reps and --batch-ms must be positive\n", program);
    std::exit(2);
  }
  return o;
}

inline double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Chains per batch so that a batch runs for about `seconds`.
inline int64_t calibrate(const Loop& loop, int64_t k, double seconds) {
  for (int64_t n = 1;; n *= 4) {
    const double t0 = thread_seconds();
    for (int64_t i = 0; i < n; ++i) loop.run(k);
    const double t = thread_seconds() - t0;
    if (t > seconds / 4 || n > (int64_t{1} << 24)) {
      return std::max<int64_t>(
          1, static_cast<int64_t>(static_cast<double>(n) * seconds / std::max(t, 1e-9)));
    }
  }
}

// Allocations per op over `chains` chains, after the warm-up already done by calibrate.
inline void count_allocations(Loop& loop, const Options& o, const SystemAllocations& system) {
  const int64_t chains = std::max<int64_t>(loop.chains_per_batch, 10);
  const double ops = static_cast<double>(chains * o.k);
  if (o.trace_new > 0) fmt::print(stderr, "=== operator new calls in {}\n", loop.name);
  const std::uint64_t sys0 = system ? system() : 0;
  const std::uint64_t new0 = counting_new::calls();
  counting_new::trace_next(o.trace_new);
  for (int64_t i = 0; i < chains; ++i) loop.run(o.k);
  counting_new::trace_next(0);
  loop.new_calls_per_op = static_cast<double>(counting_new::calls() - new0) / ops;
  if (system) loop.sys_allocs_per_op = static_cast<double>(system() - sys0) / ops;
}

// Warms up, calibrates, counts allocations and times every loop (those named by --only).
// Exits with 2 when --only names no loop.
inline std::vector<Loop> measure(std::vector<Loop> loops, const Options& o,
                                 const SystemAllocations& system, const std::string& program) {
  if (!o.only.empty()) {
    std::erase_if(loops, [&](const Loop& loop) { return o.only != loop.name; });
    if (loops.empty()) {
      fmt::print(stderr, "{}: --only names no loop\n", program);
      std::exit(2);
    }
  }
  if (o.trace_new > 0) counting_new::prepare_tracing();
  for (Loop& loop : loops) {
    for (int i = 0; i < 3; ++i) loop.run(o.k);  // warm-up: allocator caches, graph structures
    loop.chains_per_batch = calibrate(loop, o.k, o.batch_ms * 1e-3);
  }
  for (Loop& loop : loops) count_allocations(loop, o, system);
  for (int r = 0; r < o.reps; ++r) {
    for (Loop& loop : loops) {
      const double t0 = thread_seconds();
      for (int64_t i = 0; i < loop.chains_per_batch; ++i) loop.run(o.k);
      const double t = thread_seconds() - t0;
      loop.ns_per_op.push_back(t * 1e9 / static_cast<double>(loop.chains_per_batch * o.k));
    }
  }
  return loops;
}

// "fwd+bwd" -> "fwd_bwd": loop names as JSON keys.
inline std::string json_key(std::string name) {
  std::replace_if(
      name.begin(), name.end(), [](char c) { return c == '+' || c == '-'; }, '_');
  return name;
}

// The table, then one JSON line {"bench":"autograd_op","impl":IMPL,<extra>...}; `extra_json`
// is either empty or fields ending in a comma.
inline void report(const std::vector<Loop>& loops, const Options& o, const std::string& title,
                   const std::string& impl, const std::string& extra_json) {
  fmt::print("{}\n{:<10} {:>10} {:>10} {:>10} {:>13} {:>11}\n", title, "loop", "ns/op", "min",
             "max", "sys-alloc/op", "new/op");
  for (const Loop& loop : loops) {
    const auto [lo, hi] = std::minmax_element(loop.ns_per_op.begin(), loop.ns_per_op.end());
    const std::string sys =
        loop.sys_allocs_per_op ? fmt::format("{:.3f}", *loop.sys_allocs_per_op) : "-";
    fmt::print("{:<10} {:>10.1f} {:>10.1f} {:>10.1f} {:>13} {:>11.3f}\n", loop.name,
               median(loop.ns_per_op), *lo, *hi, sys, loop.new_calls_per_op);
  }
  std::string times, sys_allocs, new_calls;
  for (const Loop& loop : loops) {
    const std::string key = json_key(loop.name);
    times += fmt::format("\"{}_ns\":{:.2f},", key, median(loop.ns_per_op));
    if (loop.sys_allocs_per_op) {
      sys_allocs += fmt::format("{}\"{}\":{:.4f}", sys_allocs.empty() ? "" : ",", key,
                                *loop.sys_allocs_per_op);
    }
    new_calls +=
        fmt::format("{}\"{}\":{:.4f}", new_calls.empty() ? "" : ",", key, loop.new_calls_per_op);
  }
  fmt::print("{{\"bench\":\"autograd_op\",\"impl\":\"{}\",{}\"k\":{},\"reps\":{},{}", impl,
             extra_json, o.k, o.reps, times);
  if (!sys_allocs.empty()) fmt::print("\"sys_allocs_per_op\":{{{}}},", sys_allocs);
  fmt::print("\"new_calls_per_op\":{{{}}}}}\n", new_calls);
}

}  // namespace chain_bench
