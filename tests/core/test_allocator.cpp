// The caching allocator: a repeated workload stops asking the system for memory after its
// first iteration, bytes in use return to their level, the peak is tracked, and empty_cache
// gives the cache back.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "reference.hpp"

namespace tg = tapegrad;
namespace k = tapegrad::kernel;

namespace {

// A small training-step-like workload on fixed shapes; returns a value so it is not idle.
double step(const tg::Tensor& x, const tg::Tensor& w, const tg::Tensor& b) {
  tg::Tensor h = k::tanh(k::add(k::matmul(x, w), b));
  tg::Tensor y = k::mul(h, h);
  y = k::sub(y, k::transpose(k::matmul(k::transpose(w, 0, 1), k::transpose(x, 0, 1)), 0, 1));
  y = k::sigmoid(k::reshape(y, {-1}));
  y = k::exp(k::neg(y));
  return k::sum(k::max(k::reshape(y, {8, 16}), {1}, true), {}, false).item();
}

}  // namespace

TEST_CASE("allocator: a repeated workload allocates from the system only while warming up") {
  const tg::Tensor x = tg::rand({8, 32});
  const tg::Tensor w = tg::rand({32, 16});
  const tg::Tensor b = tg::rand({16});
  step(x, w, b);  // warm-up
  const tg::MemoryStats warm = tg::memory_stats();
  double total = 0;
  for (int i = 0; i < 50; ++i) total += step(x, w, b);
  const tg::MemoryStats after = tg::memory_stats();
  CHECK(total > 0);
  CHECK(after.system_allocations == warm.system_allocations);
  CHECK(after.allocations > warm.allocations);  // the workload does allocate, from the cache
  CHECK(after.bytes_in_use == warm.bytes_in_use);
}

TEST_CASE("allocator: bytes in use, peak and cached bytes") {
  const tg::MemoryStats s0 = tg::memory_stats();
  tg::reset_peak_memory();
  CHECK(tg::memory_stats().peak_bytes == s0.bytes_in_use);
  {
    tg::Tensor big = tg::zeros({1 << 18});  // 1 MiB
    const tg::MemoryStats s1 = tg::memory_stats();
    CHECK(s1.bytes_in_use >= s0.bytes_in_use + (1u << 20));
    CHECK(s1.peak_bytes >= s1.bytes_in_use);
  }
  const tg::MemoryStats s2 = tg::memory_stats();
  CHECK(s2.bytes_in_use == s0.bytes_in_use);
  CHECK(s2.peak_bytes >= s0.bytes_in_use + (1u << 20));  // the peak remembers
  CHECK(s2.cached_bytes >= (1u << 20));                  // the block went to the cache
  // The same size again comes from the cache.
  {
    tg::Tensor again = tg::zeros({1 << 18});
    CHECK(tg::memory_stats().system_allocations == s2.system_allocations);
  }
  tg::reset_peak_memory();
  CHECK(tg::memory_stats().peak_bytes == s0.bytes_in_use);

  tg::empty_cache();
  const tg::MemoryStats s3 = tg::memory_stats();
  CHECK(s3.cached_bytes == 0);
  CHECK(s3.bytes_in_use == s0.bytes_in_use);
  {
    tg::Tensor fresh = tg::zeros({1 << 18});  // the cache is empty: a system allocation
    CHECK(tg::memory_stats().system_allocations > s3.system_allocations);
  }
}

TEST_CASE("allocator: blocks are 64-byte aligned, also for odd sizes") {
  for (int64_t n : {1, 3, 17, 255, 1000, 4097, 100003}) {
    tg::Tensor t = tg::empty({n});
    CHECK(reinterpret_cast<std::uintptr_t>(t.data<float>()) % 64 == 0);
    tg::Tensor d = tg::empty({n}, tg::f64);
    CHECK(reinterpret_cast<std::uintptr_t>(d.data<double>()) % 64 == 0);
  }
}

TEST_CASE("allocator: per-thread caches; an exiting thread hands its blocks to the others") {
  tg::empty_cache();
  const tg::MemoryStats s0 = tg::memory_stats();
  tg::Tensor made_there;
  std::thread([&] {
    made_there = tg::zeros({1 << 16});              // 256 KiB, freed later on main
    { tg::Tensor dropped = tg::zeros({1 << 17}); }  // 512 KiB, left in the thread's cache
  }).join();
  const tg::MemoryStats s1 = tg::memory_stats();
  CHECK(s1.bytes_in_use >= s0.bytes_in_use + (1u << 18));  // the thread's counts are kept
  CHECK(s1.cached_bytes >= (1u << 19));                    // and its cache is handed over
  {
    tg::Tensor reused = tg::zeros({1 << 17});  // the exited thread's block, no new one
    CHECK(tg::memory_stats().system_allocations == s1.system_allocations);
  }
  made_there = tg::Tensor();  // allocated there, freed here: the totals still balance
  CHECK(tg::memory_stats().bytes_in_use == s0.bytes_in_use);
}

#if defined(__SANITIZE_ADDRESS__)
// Under ASan the cache poisons the blocks it holds and the slack of blocks in use, so the
// sanitizer sees a read of freed tensor storage. The read happens in a child process, which
// ASan ends; the parent checks that it did not get past the read.
TEST_CASE("under AddressSanitizer a read of freed tensor storage is reported") {
  auto child_survives = [](auto bad_read) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(::open("/dev/null", O_WRONLY), STDERR_FILENO);  // the expected report
      bad_read();
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  };
  CHECK_FALSE(child_survives([] {
    const float* p = nullptr;
    {
      tg::Tensor t = tg::ones({10});
      p = t.data<float>();
    }
    volatile float v = p[0];  // the block is back in the cache
    (void)v;
  }));
  CHECK_FALSE(child_survives([] {
    tg::Tensor t = tg::ones({10});  // 40 bytes in a 64-byte block
    volatile float v = t.data<float>()[12];
    (void)v;
  }));
  CHECK(child_survives([] {
    tg::Tensor t = tg::ones({10});
    volatile float v = t.data<float>()[9];
    (void)v;
  }));
}
#endif
