// Vectorized exp, log and tanh over contiguous arrays.
//
// These transcendentals decide how fast an RNN runs: scalar tanhf costs ~11 ns, a vector
// version well under 1 ns per element. GCC only calls glibc's vector math library (libmvec)
// on its own under -ffast-math, which would also break the NaN/Inf checks of AnomalyGuard.
// So we call libmvec's AVX2 entry points explicitly when the CPU has AVX2 (AVX-512 for the
// f32 exp, whose results are the same bits) and fall back to the scalar libm functions
// otherwise. libmvec is accurate to within 4 ulp and keeps NaN and
// Inf semantics.
#pragma once

#include <cstdint>

namespace tapegrad::vmath {

void exp(const float* x, float* y, int64_t n);
void exp(const double* x, double* y, int64_t n);
void log(const float* x, float* y, int64_t n);
void log(const double* x, double* y, int64_t n);
void tanh(const float* x, float* y, int64_t n);
void tanh(const double* x, double* y, int64_t n);
// sigmoid(x) from one vector exp(-|x|): no overflow for large |x|, no cancellation for x << 0.
void sigmoid(const float* x, float* y, int64_t n);
void sigmoid(const double* x, double* y, int64_t n);
// Correctly rounded like std::sqrt (NaN for x < 0), but vectorized: GCC will not vectorize
// std::sqrt without -fno-math-errno, since a negative input must set errno.
void sqrt(const float* x, float* y, int64_t n);
void sqrt(const double* x, double* y, int64_t n);

// False when the scalar fallback is in use (no AVX2); reported by the benchmarks.
bool vectorized();

}  // namespace tapegrad::vmath
