// What the GEMM libraries tapegrad calls besides BLAS (core/small_gemm.cpp: libxsmm,
// core/large_gemm.cpp: oneDNN) share: a switch that the environment can turn off, where one
// hands over to the other, and the check that a product's sizes fit their int indices.
// Internal to core.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace tapegrad::kernel::detail {

// On, unless the environment variable `variable` is "0" when first read (a way to compare,
// and the tests of the fallbacks); set() turns it on or off for the whole process.
class GemmSwitch {
 public:
  explicit GemmSwitch(const char* variable) : on_(from_environment(variable)) {}
  bool on() const { return on_.load(std::memory_order_relaxed); }
  void set(bool on) { on_.store(on); }

 private:
  static bool from_environment(const char* variable) {
    const char* v = std::getenv(variable);
    return v == nullptr || std::strcmp(v, "0") != 0;
  }
  std::atomic<bool> on_;
};

// The largest transposed right operand libxsmm's path copies (a 256 x 256 recurrent kernel);
// larger ones go to oneDNN.
inline constexpr int64_t kTransposedRightAtMost = int64_t{256} * 256;

// Whether every size and leading dimension fits the libraries' int.
inline bool all_fit_int(std::initializer_list<int64_t> sizes) {
  for (const int64_t v : sizes) {
    if (v < 0 || v > INT32_MAX) return false;
  }
  return true;
}

}  // namespace tapegrad::kernel::detail
