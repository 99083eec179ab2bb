#include "counting_new.hpp"

#include <execinfo.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace {

std::atomic<std::uint64_t> g_calls{0};
std::atomic<int> g_trace_left{0};
// The backtrace machinery may allocate; its own calls are counted but not traced.
thread_local bool t_in_trace = false;

void trace(std::size_t bytes) {
  if (t_in_trace || g_trace_left.load(std::memory_order_relaxed) <= 0) return;
  t_in_trace = true;
  g_trace_left.fetch_sub(1, std::memory_order_relaxed);
  void* frames[24];
  const int n = backtrace(frames, 24);
  std::fprintf(stderr, "--- operator new(%zu)\n", bytes);
  std::fflush(stderr);
  // Skip this function's own frame; the allocator's frames above it show where it came from.
  backtrace_symbols_fd(frames + 1, std::max(0, n - 1), STDERR_FILENO);
  t_in_trace = false;
}

void* counted_alloc(std::size_t bytes, std::size_t align) noexcept {
  g_calls.fetch_add(1, std::memory_order_relaxed);
  trace(bytes);
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

namespace counting_new {

std::uint64_t calls() {
  return g_calls.load(std::memory_order_relaxed);
}

void trace_next(int n) {
  g_trace_left.store(n, std::memory_order_relaxed);
}

void prepare_tracing() {
  void* frames[4];
  backtrace(frames, 4);
}

}  // namespace counting_new

// Every replaceable form, so that no allocation escapes the count; all free with free().
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
