// vectorized(loop): runs a lambda whose loops the compiler vectorizes at the CPU's widest
// vectors. For the kernels' own loops (core/elementwise.cpp, core/vmath.cpp).
//
// The library is built for baseline x86-64, whose vectors hold four floats. vectorized()
// compiles its lambda a second time for AVX2 (eight floats) and runs that copy when the CPU
// has AVX2: the lambda is inlined into the AVX2 function (its baseline target is a subset
// of AVX2's) and vectorized there again. FMA stays out of that target, so no expression is
// contracted and both copies round exactly as the scalar code does.
#pragma once

namespace tapegrad::detail {

#if defined(__x86_64__)
inline const bool kHasAvx2 = __builtin_cpu_supports("avx2");

template <class Loop>
[[gnu::target("avx2")]] void run_avx2(const Loop& loop) {
  loop();
}
#endif

template <class Loop>
void vectorized(const Loop& loop) {
#if defined(__x86_64__)
  if (kHasAvx2) return run_avx2(loop);
#endif
  loop();
}

}  // namespace tapegrad::detail
