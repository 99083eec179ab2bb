#include <tapegrad/core/allocator.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace tapegrad {
namespace {

constexpr std::size_t kAlignment = 64;

// 64-byte granules up to 1 KiB, then four size classes per power of two, so rounding
// wastes at most a quarter of a block.
std::size_t size_class(std::size_t bytes) {
  bytes = std::max<std::size_t>(bytes, 1);
  if (bytes <= 1024) return (bytes + kAlignment - 1) / kAlignment * kAlignment;
  const std::size_t octave = std::bit_floor(bytes);
  const std::size_t step = octave / 4;
  return (bytes + step - 1) / step * step;
}

// Index of a size class: 0..15 for the 64-byte granules, then four per octave.
constexpr std::size_t kClasses = 16 + 4 * 54;
std::size_t class_index(std::size_t cls) {
  if (cls <= 1024) return cls / kAlignment - 1;
  const std::size_t octave = std::bit_floor(cls);
  return 16 + 4 * (std::countr_zero(octave) - 10) + (cls - octave) / (octave / 4) - 1;
}

class Cache {
 public:
  void* allocate(std::size_t bytes) {
    const std::size_t cls = size_class(bytes);
    std::lock_guard lock(mutex_);
    ++stats_.allocations;
    stats_.bytes_in_use += cls;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.bytes_in_use);
    auto& list = free_[class_index(cls)];
    if (!list.empty()) {
      void* p = list.back();
      list.pop_back();
      stats_.cached_bytes -= cls;
      return p;
    }
    ++stats_.system_allocations;
    void* p = std::aligned_alloc(kAlignment, cls);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }

  void free(void* p, std::size_t bytes) {
    const std::size_t cls = size_class(bytes);
    std::lock_guard lock(mutex_);
    stats_.bytes_in_use -= cls;
    stats_.cached_bytes += cls;
    free_[class_index(cls)].push_back(p);
  }

  void empty() {
    std::lock_guard lock(mutex_);
    for (auto& list : free_) {
      for (void* p : list) std::free(p);
      list.clear();
    }
    stats_.cached_bytes = 0;
  }

  MemoryStats stats() {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard lock(mutex_);
    stats_.peak_bytes = stats_.bytes_in_use;
  }

 private:
  std::mutex mutex_;
  std::array<std::vector<void*>, kClasses> free_;
  MemoryStats stats_;
};

// Never destroyed: tensors in other static objects may be freed after main returns.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

}  // namespace

MemoryStats memory_stats() {
  return cache().stats();
}
void reset_peak_memory() {
  cache().reset_peak();
}
void empty_cache() {
  cache().empty();
}

namespace detail {
void* cached_allocate(std::size_t bytes) {
  return cache().allocate(bytes);
}
void cached_free(void* p, std::size_t bytes) {
  cache().free(p, bytes);
}
}  // namespace detail

}  // namespace tapegrad
