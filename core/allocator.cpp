#include <tapegrad/core/allocator.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include <tapegrad/core/error.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define TAPEGRAD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TAPEGRAD_ASAN 1
#endif
#endif
#if defined(TAPEGRAD_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace tapegrad {
namespace {

// The cache never hands blocks back to malloc, so AddressSanitizer alone would take a use
// of freed tensor storage, or an overflow into a block's rounding slack, for an access to
// live memory. Under ASan, cached blocks are poisoned, and so is the slack of a block in use.
void mark_in_use([[maybe_unused]] void* p, [[maybe_unused]] std::size_t bytes,
                 [[maybe_unused]] std::size_t cls) {
#if defined(TAPEGRAD_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(p, bytes);
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(p) + bytes, cls - bytes);
#endif
}

void mark_cached([[maybe_unused]] void* p, [[maybe_unused]] std::size_t cls) {
#if defined(TAPEGRAD_ASAN)
  ASAN_POISON_MEMORY_REGION(p, cls);
#endif
}

constexpr std::size_t kAlignment = 64;

// The largest block: rounding it up stays below 2^64 and its class below kClasses.
constexpr std::size_t kLargestBlock = std::size_t{1} << 63;

// log2 of a quarter of the octave of `bytes` (bytes >= 4): the step between its classes.
// Every allocation and free computes it, so the steps are divided by shifting (a 64-bit
// division by a step not known at compile time costs ~40 cycles, four of them per block).
int quarter_octave_shift(std::size_t bytes) {
  return std::bit_width(bytes) - 3;
}

// 64-byte granules up to 1 KiB, then four size classes per power of two, so rounding
// wastes at most a quarter of a block.
std::size_t size_class(std::size_t bytes) {
  bytes = std::max<std::size_t>(bytes, 1);
  if (bytes <= 1024) return (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (bytes > kLargestBlock) {
    throw_error<Error>("allocator: {} bytes were asked for, more than the largest block of {}",
                       bytes, kLargestBlock);
  }
  const std::size_t step = std::size_t{1} << quarter_octave_shift(bytes);
  return (bytes + step - 1) & ~(step - 1);
}

// Index of a size class: 0..15 for the 64-byte granules, then four per octave.
constexpr std::size_t kClasses = 16 + 4 * 54;
std::size_t class_index(std::size_t cls) {
  if (cls <= 1024) return cls / kAlignment - 1;
  const int shift = quarter_octave_shift(cls);
  const std::size_t octave = std::size_t{4} << shift;
  return 16 + 4 * (shift - 8) + ((cls - octave) >> shift) - 1;
}

using FreeLists = std::array<std::vector<void*>, kClasses>;

// What one thread (or the shared pool) has counted. Each thread's counters are written by
// that thread only, so plain relaxed loads and stores suffice (no locked instructions);
// memory_stats() reads them from any thread.
struct Counters {
  std::atomic<std::int64_t> in_use{0}, peak{0}, cached{0};
  std::atomic<std::uint64_t> allocations{0}, system_allocations{0};

  static void bump(std::atomic<std::int64_t>& c, std::int64_t by) {
    c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  static void bump(std::atomic<std::uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void took(std::size_t cls, bool from_cache) {
    bump(allocations);
    if (from_cache) {
      bump(cached, -static_cast<std::int64_t>(cls));
    } else {
      bump(system_allocations);
    }
    bump(in_use, static_cast<std::int64_t>(cls));
    const std::int64_t now = in_use.load(std::memory_order_relaxed);
    if (now > peak.load(std::memory_order_relaxed)) peak.store(now, std::memory_order_relaxed);
  }
  void gave_back(std::size_t cls) {
    bump(in_use, -static_cast<std::int64_t>(cls));
    bump(cached, static_cast<std::int64_t>(cls));
  }
};

// Only on a cache miss, so the cached path pays nothing for the error.
void* system_allocate(std::size_t cls) {
  void* p = std::aligned_alloc(kAlignment, cls);
  if (p == nullptr) {
    throw_error<Error>(
        "allocator: out of memory: {} bytes ({:.2f} GiB) were asked for and the system could "
        "not provide them; free tensors, use smaller batches, or call tg::empty_cache() to "
        "return cached blocks",
        cls, static_cast<double>(cls) / (1 << 30));
  }
  return p;
}

// A block of class `cls` from `list`, or from the system when the list is empty.
void* take_block(std::vector<void*>& list, std::size_t cls, Counters& counters) {
  const bool from_cache = !list.empty();
  void* p = from_cache ? list.back() : system_allocate(cls);
  if (from_cache) list.pop_back();
  counters.took(cls, from_cache);
  return p;
}

class ThreadCache;

// The pool every thread falls back on: blocks and counts of threads that have exited, and
// the allocations of a thread whose own cache is already destroyed (static tensors freed
// after the end of main). Every access holds the mutex.
struct SharedPool {
  std::mutex mutex;
  FreeLists free;
  Counters counters;
  std::vector<ThreadCache*> threads;  // live thread caches, for memory_stats()
};

// Never destroyed: tensors in other static objects may be freed after main returns.
SharedPool& shared() {
  static SharedPool* pool = new SharedPool;
  return *pool;
}

// Per-thread free lists in front of the shared pool. The small objects every recorded op
// makes and drops (tensor handles, records, small tensors) come and go on one thread, and
// a lock around each of them cost 15-20% of a recorded op.
class ThreadCache {
 public:
  ThreadCache() {
    std::lock_guard lock(shared().mutex);
    shared().threads.push_back(this);
  }
  // At thread exit the blocks and the counts move to the shared pool.
  ~ThreadCache() {
    SharedPool& pool = shared();
    std::lock_guard lock(pool.mutex);
    std::erase(pool.threads, this);
    for (std::size_t i = 0; i < kClasses; ++i) {
      pool.free[i].insert(pool.free[i].end(), free_[i].begin(), free_[i].end());
    }
    Counters& to = pool.counters;
    Counters::bump(to.in_use, counters.in_use.load(std::memory_order_relaxed));
    Counters::bump(to.peak, counters.peak.load(std::memory_order_relaxed));
    Counters::bump(to.cached, counters.cached.load(std::memory_order_relaxed));
    to.allocations.fetch_add(counters.allocations.load(std::memory_order_relaxed));
    to.system_allocations.fetch_add(counters.system_allocations.load(std::memory_order_relaxed));
  }

  void* allocate(std::size_t cls) {
    auto& list = free_[class_index(cls)];
    if (list.empty()) refill(cls);
    return take_block(list, cls, counters);
  }

  void free(void* p, std::size_t cls) {
    free_[class_index(cls)].push_back(p);
    counters.gave_back(cls);
  }

  // Gives this thread's cached blocks back to the system.
  void empty() {
    for (auto& list : free_) {
      for (void* p : list) std::free(p);
      list.clear();
    }
    counters.cached.store(0, std::memory_order_relaxed);
  }

  Counters counters;

 private:
  // A miss first looks in the shared pool, which holds the blocks of exited threads.
  void refill(std::size_t cls) {
    SharedPool& pool = shared();
    std::lock_guard lock(pool.mutex);
    auto& from = pool.free[class_index(cls)];
    if (from.empty()) return;
    free_[class_index(cls)].push_back(from.back());
    from.pop_back();
    Counters::bump(pool.counters.cached, -static_cast<std::int64_t>(cls));
    Counters::bump(counters.cached, static_cast<std::int64_t>(cls));
  }

  FreeLists free_;
};

// Whether this thread's cache may be used; readable at any time, even during thread exit.
enum class CacheState : unsigned char { unborn, alive, dead };
thread_local CacheState t_state = CacheState::unborn;
// This thread's cache while it is alive. Every allocation and free reads it, so it is the
// one thread-local on that path: reaching the holder below means reading t_state, the
// holder's initialization guard and the holder, three TLS accesses (4% of config A).
constinit thread_local ThreadCache* t_cache = nullptr;

struct ThreadCacheHolder {
  ThreadCache cache;
  ThreadCacheHolder() {
    t_state = CacheState::alive;
    t_cache = &cache;
  }
  ~ThreadCacheHolder() {
    t_cache = nullptr;
    t_state = CacheState::dead;
  }
};

// The first use on a thread makes its cache; nullptr once the cache is destroyed.
[[gnu::noinline]] ThreadCache* make_thread_cache() {
  if (t_state == CacheState::dead) return nullptr;
  thread_local ThreadCacheHolder holder;
  return &holder.cache;
}

// This thread's cache, or nullptr once it is destroyed.
ThreadCache* thread_cache() {
  ThreadCache* t = t_cache;
  return t != nullptr ? t : make_thread_cache();
}

}  // namespace

// Exact with one thread. With several, the peak is the sum of each thread's own peak: an
// upper bound, since threads need not peak at the same moment.
MemoryStats memory_stats() {
  SharedPool& pool = shared();
  std::lock_guard lock(pool.mutex);
  std::int64_t in_use = 0, peak = 0, cached = 0;
  MemoryStats stats;
  const auto add = [&](const Counters& c) {
    in_use += c.in_use.load(std::memory_order_relaxed);
    peak += c.peak.load(std::memory_order_relaxed);
    cached += c.cached.load(std::memory_order_relaxed);
    stats.allocations += c.allocations.load(std::memory_order_relaxed);
    stats.system_allocations += c.system_allocations.load(std::memory_order_relaxed);
  };
  add(pool.counters);
  for (const ThreadCache* t : pool.threads) add(t->counters);
  stats.bytes_in_use = static_cast<std::size_t>(std::max<std::int64_t>(in_use, 0));
  stats.peak_bytes = static_cast<std::size_t>(std::max(peak, in_use));
  stats.cached_bytes = static_cast<std::size_t>(std::max<std::int64_t>(cached, 0));
  return stats;
}

void reset_peak_memory() {
  // Another thread may race its own peak update with this store; the peak is a statistic.
  SharedPool& pool = shared();
  std::lock_guard lock(pool.mutex);
  const auto reset = [](Counters& c) {
    c.peak.store(c.in_use.load(std::memory_order_relaxed), std::memory_order_relaxed);
  };
  reset(pool.counters);
  for (ThreadCache* t : pool.threads) reset(t->counters);
}

// Empties the shared pool and this thread's cache; other threads' caches are emptied into
// the pool when those threads exit.
void empty_cache() {
  if (ThreadCache* t = thread_cache()) t->empty();
  SharedPool& pool = shared();
  std::lock_guard lock(pool.mutex);
  for (auto& list : pool.free) {
    for (void* p : list) std::free(p);
    list.clear();
  }
  pool.counters.cached.store(0, std::memory_order_relaxed);
}

namespace detail {

namespace {

void* allocate_block(std::size_t cls) {
  if (ThreadCache* t = thread_cache()) return t->allocate(cls);
  SharedPool& pool = shared();
  std::lock_guard lock(pool.mutex);
  return take_block(pool.free[class_index(cls)], cls, pool.counters);
}

}  // namespace

void* cached_allocate(std::size_t bytes) {
  const std::size_t cls = size_class(bytes);
  void* p = allocate_block(cls);
  mark_in_use(p, std::max<std::size_t>(bytes, 1), cls);
  return p;
}

void cached_free(void* p, std::size_t bytes) {
  const std::size_t cls = size_class(bytes);
  mark_cached(p, cls);
  if (ThreadCache* t = thread_cache()) return t->free(p, cls);
  SharedPool& pool = shared();
  std::lock_guard lock(pool.mutex);
  pool.free[class_index(cls)].push_back(p);
  pool.counters.gave_back(cls);
}

}  // namespace detail

}  // namespace tapegrad
