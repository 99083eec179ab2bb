#include <tapegrad/core/vmath.hpp>

#include <algorithm>
#include <cmath>

#include <immintrin.h>

#include <tapegrad/core/vectorize.hpp>

// libmvec's AVX2 variants (x86_64 vector function ABI names).
extern "C" {
__m256 _ZGVdN8v_expf(__m256);
__m256 _ZGVdN8v_logf(__m256);
__m256 _ZGVdN8v_tanhf(__m256);
__m256d _ZGVdN4v_exp(__m256d);
__m256d _ZGVdN4v_log(__m256d);
__m256d _ZGVdN4v_tanh(__m256d);
__m512 _ZGVeN16v_expf(__m512);
__m512 _ZGVeN16v_tanhf(__m512);
}

namespace tapegrad::vmath {
namespace {

const bool kHasAvx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
const bool kHasAvx512 = kHasAvx2 && __builtin_cpu_supports("avx512f");

template <class T>
void scalar_map(const T* x, T* y, int64_t n, T (*fn)(T)) {
  for (int64_t i = 0; i < n; ++i) y[i] = fn(x[i]);
}

float scalar_exp(float v) {
  return std::exp(v);
}
double scalar_exp(double v) {
  return std::exp(v);
}
float scalar_log(float v) {
  return std::log(v);
}
double scalar_log(double v) {
  return std::log(v);
}
float scalar_tanh(float v) {
  return std::tanh(v);
}
double scalar_tanh(double v) {
  return std::tanh(v);
}

// Applies an 8-wide (float) or 4-wide (double) vector function; the tail goes through a
// zero-padded vector so results do not depend on where an element sits in the array.
__attribute__((target("avx2,fma"))) void map_avx2(const float* x, float* y, int64_t n,
                                                  __m256 (*fn)(__m256)) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, fn(_mm256_loadu_ps(x + i)));
  if (i < n) {
    alignas(32) float buf[8] = {};
    for (int64_t j = i; j < n; ++j) buf[j - i] = x[j];
    _mm256_store_ps(buf, fn(_mm256_load_ps(buf)));
    for (int64_t j = i; j < n; ++j) y[j] = buf[j - i];
  }
}

__attribute__((target("avx2,fma"))) void map_avx2(const double* x, double* y, int64_t n,
                                                  __m256d (*fn)(__m256d)) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(y + i, fn(_mm256_loadu_pd(x + i)));
  if (i < n) {
    alignas(32) double buf[4] = {};
    for (int64_t j = i; j < n; ++j) buf[j - i] = x[j];
    _mm256_store_pd(buf, fn(_mm256_load_pd(buf)));
    for (int64_t j = i; j < n; ++j) y[j] = buf[j - i];
  }
}

// The same for a 16-wide function.
__attribute__((target("avx512f,avx2,fma"))) void map_avx512(const float* x, float* y, int64_t n,
                                                            __m512 (*fn)(__m512)) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, fn(_mm512_loadu_ps(x + i)));
  if (i < n) {
    alignas(64) float buf[16] = {};
    for (int64_t j = i; j < n; ++j) buf[j - i] = x[j];
    _mm512_store_ps(buf, fn(_mm512_load_ps(buf)));
    for (int64_t j = i; j < n; ++j) y[j] = buf[j - i];
  }
}

template <class T, class V>
void map(const T* x, T* y, int64_t n, V (*vector_fn)(V), T (*scalar_fn)(T)) {
  if (kHasAvx2) {
    map_avx2(x, y, n, vector_fn);
  } else {
    scalar_map(x, y, n, scalar_fn);
  }
}

// sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, with e = exp(-|x|) in
// (0, 1]: one vector exp, no overflow, and no cancellation. (0.5 + 0.5 tanh(x/2) loses all
// digits for x << 0: it returns 0 for sigmoid(-20) in f32 and is off by ~100 ulp already at
// x = -5.) Works in place: y[i] is written only after x[i] was read for the last time.
template <class T>
void sigmoid_via_exp(const T* x, T* y, int64_t n) {
  constexpr int64_t kChunk = 256;  // e stays in L1; x is read again for the sign
  T e[kChunk];
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t len = std::min(kChunk, n - start);
    const T* xs = x + start;
    detail::vectorized([&] {
      for (int64_t i = 0; i < len; ++i) e[i] = -std::abs(xs[i]);
    });
    exp(e, e, len);
    T* ys = y + start;
    detail::vectorized([&] {
      for (int64_t i = 0; i < len; ++i) {
        const T num = xs[i] >= T(0) ? T(1) : e[i];
        ys[i] = num / (T(1) + e[i]);
      }
    });
  }
}

}  // namespace

// libmvec's AVX-512 expf returns the same bits as its AVX2 expf for every float (checked
// over all 2^32 inputs, glibc 2.36) in about 60% of the time, so results do not depend on
// which one runs. Its AVX-512 tanhf takes 45% of the AVX2 one's time (tanh was 9% of the
// reference model's training) but is not bit-identical: 1.5% of the floats differ by an ulp,
// within libmvec's 4-ulp bound for both. So f32 tanh on an AVX-512 CPU rounds a little
// differently from an AVX2-only one; a trained model's loss moves by ~1e-5 relative, as it
// does between BLAS builds or thread counts.
void exp(const float* x, float* y, int64_t n) {
  if (kHasAvx512) return map_avx512(x, y, n, _ZGVeN16v_expf);
  map(x, y, n, _ZGVdN8v_expf, scalar_exp);
}
void exp(const double* x, double* y, int64_t n) {
  map(x, y, n, _ZGVdN4v_exp, scalar_exp);
}
void log(const float* x, float* y, int64_t n) {
  map(x, y, n, _ZGVdN8v_logf, scalar_log);
}
void log(const double* x, double* y, int64_t n) {
  map(x, y, n, _ZGVdN4v_log, scalar_log);
}
void tanh(const float* x, float* y, int64_t n) {
  if (kHasAvx512) return map_avx512(x, y, n, _ZGVeN16v_tanhf);
  map(x, y, n, _ZGVdN8v_tanhf, scalar_tanh);
}
void tanh(const double* x, double* y, int64_t n) {
  map(x, y, n, _ZGVdN4v_tanh, scalar_tanh);
}
void sigmoid(const float* x, float* y, int64_t n) {
  sigmoid_via_exp(x, y, n);
}
void sigmoid(const double* x, double* y, int64_t n) {
  sigmoid_via_exp(x, y, n);
}

// SSE2 is part of x86-64, so these need no CPU check; sqrtps/sqrtpd round exactly as sqrtss.
void sqrt(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(y + i, _mm_sqrt_ps(_mm_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] = _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(x[i])));
}
void sqrt(const double* x, double* y, int64_t n) {
  int64_t i = 0;
  for (; i + 2 <= n; i += 2) _mm_storeu_pd(y + i, _mm_sqrt_pd(_mm_loadu_pd(x + i)));
  for (; i < n; ++i) y[i] = _mm_cvtsd_f64(_mm_sqrt_sd(_mm_setzero_pd(), _mm_set_sd(x[i])));
}

bool vectorized() {
  return kHasAvx2;
}

}  // namespace tapegrad::vmath
