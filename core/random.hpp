// Random numbers that are the same on every machine and compiler.
//
// The generator is std::mt19937_64, whose output sequence the C++ standard fixes exactly;
// the std:: distributions are implementation-defined, so the transforms to uniform and
// normal values are our own: uniform floats take the top 24 (f32) or 53 (f64) bits,
// normals come from the Box-Muller transform in double precision.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) { seed_(seed); }
  void seed_(std::uint64_t seed);
  std::uint64_t next_u64() { return engine_(); }
  double uniform();                      // U[0, 1) with 53 random bits
  float uniform_f32();                   // U[0, 1) with 24 random bits
  double normal();                       // N(0, 1)
  std::uint64_t below(std::uint64_t n);  // uniform integer in [0, n), unbiased

  // The full state as text, for checkpoints; restore with set_state.
  std::string state() const;
  void set_state(const std::string& state);

 private:
  std::mt19937_64 engine_;
  double spare_normal_ = 0;
  bool has_spare_ = false;
};

// The generator used by every random factory and initializer.
Generator& default_generator();
void manual_seed(std::uint64_t seed);

Tensor rand(const Shape& shape, DType dtype = f32);   // U[0, 1)
Tensor randn(const Shape& shape, DType dtype = f32);  // N(0, 1)
Tensor uniform(const Shape& shape, double lo, double hi, DType dtype = f32);
Tensor normal(const Shape& shape, double mean, double stddev, DType dtype = f32);
// A random permutation of 0..n-1 (Fisher-Yates).
std::vector<int64_t> randperm(int64_t n, Generator& gen = default_generator());

}  // namespace tapegrad
