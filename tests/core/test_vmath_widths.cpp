// vmath's f32 exp runs libmvec's AVX-512 expf where the CPU has AVX-512 and its AVX2 expf
// otherwise: both must give the same bits, or results would depend on the machine.
#include <cstring>
#include <vector>

#include <doctest/doctest.h>
#include <immintrin.h>

#include <tapegrad/core/vmath.hpp>

extern "C" __m256 _ZGVdN8v_expf(__m256);

namespace {

__attribute__((target("avx2,fma"))) std::vector<float> avx2_expf(const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (std::size_t i = 0; i + 8 <= x.size(); i += 8) {
    _mm256_storeu_ps(y.data() + i, _ZGVdN8v_expf(_mm256_loadu_ps(x.data() + i)));
  }
  return y;
}

}  // namespace

TEST_CASE("vmath: f32 exp gives the bits of libmvec's AVX2 expf on every vector width") {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return;
  // Every 997th float bit pattern from -inf to +inf, NaNs and denormals included.
  std::vector<float> x;
  for (std::uint64_t bits = 0; bits < (std::uint64_t{1} << 32); bits += 997) {
    const auto b = static_cast<std::uint32_t>(bits);
    float v;
    std::memcpy(&v, &b, sizeof v);
    x.push_back(v);
  }
  x.resize(x.size() / 16 * 16);  // whole vectors: the tails are padded in vmath
  std::vector<float> y(x.size());
  tapegrad::vmath::exp(x.data(), y.data(), static_cast<int64_t>(x.size()));
  const std::vector<float> want = avx2_expf(x);
  std::size_t differing = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    differing += std::memcmp(&y[i], &want[i], sizeof(float)) != 0;
  }
  CHECK(differing == 0);
}
