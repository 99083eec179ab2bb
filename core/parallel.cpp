#include "parallel.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <tapegrad/core/kernels.hpp>

namespace tapegrad::kernel::detail {
namespace {

// The floating-point mode (flush-denormal) of the calling thread, for the workers to take.
unsigned fp_mode() {
#if defined(__x86_64__)
  return _mm_getcsr();
#else
  return 0;
#endif
}

void set_fp_mode(unsigned mode) {
#if defined(__x86_64__)
  if (_mm_getcsr() != mode) _mm_setcsr(mode);
#else
  (void)mode;
#endif
}

// A call's parts are claimed through one atomic word holding the call's generation, its
// number of parts and the next unclaimed part. A worker that wakes late for a finished call
// reads that call's generation and claims nothing, so it never runs a part with the next
// call's function.
struct Ticket {
  std::uint32_t generation;
  std::uint16_t parts;
  std::uint16_t next;

  static Ticket of(std::uint64_t word) {
    return {static_cast<std::uint32_t>(word >> 32), static_cast<std::uint16_t>(word >> 16),
            static_cast<std::uint16_t>(word)};
  }
  std::uint64_t word() const {
    return std::uint64_t{generation} << 32 | std::uint64_t{parts} << 16 | next;
  }
};

constexpr int kMaxParts = 0xffff;

// How long a worker looks for work before it sleeps: longer than the gap between two time
// steps' products, so back-to-back calls find it awake. Waking a sleeping thread takes an
// interrupt between cores, which in a virtual machine can cost as much as a small product.
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(200);

class Pool {
 public:
  static Pool& instance() {
    static Pool pool;
    return pool;
  }

  ~Pool() {
    if (getpid() != owner_) {
      workers_.release();  // a forked child: its parent's workers do not exist here
      return;
    }
    stop_.store(true);
    ticket_.fetch_add(std::uint64_t{1} << 32);  // wake everyone to see stop_
    ticket_.notify_all();
    for (std::thread& w : *workers_) w.join();
  }

  void run(int parts, void (*part)(void*, int), void* context) {
    std::unique_lock lock(call_, std::try_to_lock);
    if (!lock.owns_lock() || getpid() != owner_ || parts > kMaxParts) {
      for (int i = 0; i < parts; ++i) part(context, i);  // busy, forked, or too many parts
      return;
    }
    add_workers(std::min(parts, num_threads()) - 1);
    part_ = part;
    context_ = context;
    mode_ = fp_mode();
    done_.store(0, std::memory_order_relaxed);
    const Ticket last = Ticket::of(ticket_.load(std::memory_order_relaxed));
    const Ticket first{last.generation + 1, static_cast<std::uint16_t>(parts), 0};
    ticket_.store(first.word(), std::memory_order_release);
    ticket_.notify_all();
    work_on(first.generation);
    while (done_.load(std::memory_order_acquire) != parts) pause();
  }

 private:
  Pool() = default;

  static void pause() {
#if defined(__x86_64__)
    _mm_pause();
#endif
  }

  void add_workers(int wanted) {
    while (static_cast<int>(workers_->size()) < wanted) {
      workers_->emplace_back([this] { serve(); });
    }
  }

  // Claims and runs parts of call `generation` until none is left.
  void work_on(std::uint32_t generation) {
    std::uint64_t word = ticket_.load(std::memory_order_acquire);
    for (;;) {
      Ticket t = Ticket::of(word);
      if (t.generation != generation || t.next >= t.parts) return;
      const Ticket claimed{t.generation, t.parts, static_cast<std::uint16_t>(t.next + 1)};
      if (!ticket_.compare_exchange_weak(word, claimed.word(), std::memory_order_acq_rel)) {
        continue;  // `word` now holds the current ticket
      }
      set_fp_mode(mode_);
      part_(context_, t.next);
      done_.fetch_add(1, std::memory_order_release);
      word = ticket_.load(std::memory_order_acquire);
    }
  }

  void serve() {
    std::uint32_t seen = Ticket::of(ticket_.load(std::memory_order_acquire)).generation;
    while (!stop_.load(std::memory_order_relaxed)) {
      std::uint64_t word = ticket_.load(std::memory_order_acquire);
      const auto sleep_at = std::chrono::steady_clock::now() + kSpinBeforeSleep;
      for (int spins = 1; Ticket::of(word).generation == seen; ++spins) {
        const bool spinning = spins % 64 != 0 || std::chrono::steady_clock::now() < sleep_at;
        if (spinning) {
          pause();
        } else {
          ticket_.wait(word, std::memory_order_acquire);
        }
        word = ticket_.load(std::memory_order_acquire);
      }
      seen = Ticket::of(word).generation;
      if (stop_.load(std::memory_order_relaxed)) return;
      work_on(seen);
    }
  }

  std::mutex call_;  // one call at a time; a second caller runs its parts itself
  const pid_t owner_ = getpid();
  std::unique_ptr<std::vector<std::thread>> workers_ = std::make_unique<std::vector<std::thread>>();
  std::atomic<std::uint64_t> ticket_{0};
  std::atomic<int> done_{0};
  std::atomic<bool> stop_{false};
  // The current call, written before its ticket is published and read after a part of it
  // is claimed (so while it cannot finish).
  void (*part_)(void*, int) = nullptr;
  void* context_ = nullptr;
  unsigned mode_ = 0;
};

}  // namespace

void run_parts(int parts, void (*part)(void* context, int i), void* context) {
  if (parts <= 0) return;
  if (parts == 1 || num_threads() <= 1) {
    for (int i = 0; i < parts; ++i) part(context, i);
    return;
  }
  Pool::instance().run(parts, part, context);
}

}  // namespace tapegrad::kernel::detail
