#include <tapegrad/core/random.hpp>

#include <cmath>
#include <cstdlib>
#include <numbers>
#include <sstream>

namespace tapegrad {

void Generator::seed_(std::uint64_t seed) {
  engine_.seed(seed);
  has_spare_ = false;
}

double Generator::uniform() {
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

float Generator::uniform_f32() {
  return static_cast<float>(engine_() >> 40) * 0x1.0p-24f;
}

double Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_normal_;
  }
  // 1 - uniform() lies in (0, 1], so the log is finite.
  const double radius = std::sqrt(-2.0 * std::log(1.0 - uniform()));
  const double angle = 2.0 * std::numbers::pi * uniform();
  spare_normal_ = radius * std::sin(angle);
  has_spare_ = true;
  return radius * std::cos(angle);
}

std::uint64_t Generator::below(std::uint64_t n) {
  if (n == 0) throw ValueError("Generator::below: the range [0, n) is empty for n = 0");
  // Rejection keeps the draw unbiased: retry values in the incomplete last block.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t v;
  do {
    v = engine_();
  } while (v >= limit);
  return v % n;
}

std::string Generator::state() const {
  std::ostringstream out;
  out << engine_ << ' ' << has_spare_ << ' ' << std::hexfloat << spare_normal_;
  return out.str();
}

// The state comes from a file (a checkpoint), so all of it must read back: the engine, the
// 0/1 flag, a finite spare normal spelled in full, and nothing after them.
void Generator::set_state(const std::string& state) {
  std::istringstream in(state);
  std::mt19937_64 engine;
  bool has_spare = false;
  std::string spare;
  in >> engine >> has_spare >> spare;
  char* spare_end = nullptr;
  const double spare_normal = std::strtod(spare.c_str(), &spare_end);
  const bool spare_ok =
      !spare.empty() && spare_end == spare.c_str() + spare.size() && std::isfinite(spare_normal);
  if (in.fail() || !spare_ok || !(in >> std::ws).eof()) {
    throw ValueError(
        "Generator::set_state: malformed generator state (expected what Generator::state() "
        "writes: the engine's words, a 0/1 flag and a finite hex float, nothing after)");
  }
  engine_ = engine;
  has_spare_ = has_spare;
  spare_normal_ = spare_normal;
}

Generator& default_generator() {
  thread_local Generator gen(0);
  return gen;
}

void manual_seed(std::uint64_t seed) {
  default_generator().seed_(seed);
}

namespace {

template <class Draw>
Tensor generate(const Shape& shape, DType dtype, Draw draw) {
  Tensor out = empty(shape, dtype);
  dispatch(dtype, [&]<class T>(T) {
    T* p = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) p[i] = draw(T{});
  });
  return out;
}

}  // namespace

Tensor rand(const Shape& shape, DType dtype) {
  Generator& g = default_generator();
  return generate(shape, dtype, [&]<class T>(T) -> T {
    if constexpr (std::is_same_v<T, float>) return g.uniform_f32();
    return g.uniform();
  });
}

Tensor uniform(const Shape& shape, double lo, double hi, DType dtype) {
  Generator& g = default_generator();
  return generate(shape, dtype,
                  [&]<class T>(T) { return static_cast<T>(lo + (hi - lo) * g.uniform()); });
}

Tensor normal(const Shape& shape, double mean, double stddev, DType dtype) {
  Generator& g = default_generator();
  return generate(shape, dtype,
                  [&]<class T>(T) { return static_cast<T>(mean + stddev * g.normal()); });
}

Tensor randn(const Shape& shape, DType dtype) {
  return normal(shape, 0.0, 1.0, dtype);
}

std::vector<int64_t> randperm(int64_t n, Generator& gen) {
  if (n < 0) throw_error<ValueError>("randperm: n must be non-negative, got {}", n);
  std::vector<int64_t> perm(n);
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(perm[i], perm[gen.below(static_cast<std::uint64_t>(i) + 1)]);
  }
  return perm;
}

}  // namespace tapegrad
