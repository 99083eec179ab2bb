#include <tapegrad/core/denormal.hpp>

#include <atomic>

#if defined(__SSE2__)
#include <xmmintrin.h>
#define TAPEGRAD_HAS_MXCSR 1
#else
#define TAPEGRAD_HAS_MXCSR 0
#endif

namespace tapegrad {
namespace {

std::atomic<bool> flush_setting{TAPEGRAD_HAS_MXCSR != 0};

#if TAPEGRAD_HAS_MXCSR
constexpr unsigned kFlushToZero = 0x8000;       // MXCSR.FZ: subnormal results become 0
constexpr unsigned kDenormalsAreZero = 0x0040;  // MXCSR.DAZ: subnormal inputs read as 0
constexpr unsigned kFlushBits = kFlushToZero | kDenormalsAreZero;
#endif

}  // namespace

bool set_flush_denormal(bool on) {
  if (!TAPEGRAD_HAS_MXCSR) return false;
  flush_setting.store(on, std::memory_order_relaxed);
  return true;
}

bool flush_denormal() {
  return flush_setting.load(std::memory_order_relaxed);
}

FlushDenormalScope::FlushDenormalScope() {
#if TAPEGRAD_HAS_MXCSR
  if (!flush_denormal()) return;
  saved_ = _mm_getcsr();
  if ((saved_ & kFlushBits) == kFlushBits) return;  // already flushing (a nested scope)
  _mm_setcsr(saved_ | kFlushBits);
  changed_ = true;
#endif
}

FlushDenormalScope::~FlushDenormalScope() {
#if TAPEGRAD_HAS_MXCSR
  if (changed_) _mm_setcsr(saved_);
#endif
}

}  // namespace tapegrad
