// The caching allocator.
//
// Training an RNN repeats the same sequence of tensor sizes every step. Returning freed
// blocks to the system and asking for them again costs a malloc/free pair per op; instead
// freed blocks go into per-size free lists and the next request of that size reuses them.
// After the first training step, a loop of identical steps does no system allocation.
//
// Sizes are rounded up to a size class (64-byte granules, then four classes per power of
// two), and every block is 64-byte aligned so vector kernels can use aligned loads.
//
// Each thread keeps its own free lists, so the hot path takes no lock; a block may be freed
// on another thread than the one that allocated it, and a thread's cache passes to a shared
// pool when the thread exits. empty_cache() empties that pool and the calling thread's cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace tapegrad {

// Totals over all threads. Exact with one thread; with several, peak_bytes is the sum of
// each thread's own peak, an upper bound.
struct MemoryStats {
  std::size_t bytes_in_use = 0;          // handed out and not yet freed
  std::size_t peak_bytes = 0;            // highest bytes_in_use since the last reset_peak
  std::size_t cached_bytes = 0;          // freed, kept for reuse
  std::uint64_t system_allocations = 0;  // blocks obtained from the system, ever
  std::uint64_t allocations = 0;         // blocks handed out, ever
};

MemoryStats memory_stats();
void reset_peak_memory();
// Gives all cached blocks back to the system.
void empty_cache();

namespace detail {
void* cached_allocate(std::size_t bytes);
void cached_free(void* p, std::size_t bytes);
}  // namespace detail

// A std::allocator-compatible front of the caching allocator, so control blocks of the
// shared objects made per op (tensor handles, storages, tape records) are reused as well.
template <class T>
struct CachingAllocator {
  using value_type = T;
  CachingAllocator() = default;
  template <class U>
  CachingAllocator(const CachingAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(detail::cached_allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) { detail::cached_free(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const CachingAllocator<U>&) const {
    return true;
  }
};

template <class T, class... Args>
std::shared_ptr<T> make_cached(Args&&... args) {
  return std::allocate_shared<T>(CachingAllocator<T>{}, std::forward<Args>(args)...);
}

}  // namespace tapegrad
