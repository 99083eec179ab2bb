// Small problems and helpers shared by the train suite.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>

namespace tg_train {

namespace tg = tapegrad;

// y = 3x + 1 on n samples x ~ U[0, 1), shapes (n, 1).
struct Regression {
  tg::Tensor X, y;
};

inline Regression linear_problem(int64_t n, tg::DType dtype = tg::f64, std::uint64_t seed = 0) {
  tg::manual_seed(seed);
  const tg::Tensor X = tg::rand({n, 1}, dtype);
  return {X, (3.0 * X + 1.0).detach()};
}

// The losses' worked example: d = pred - target = [0.5, -2, 1, -0.5]. Functions, not
// globals: tensors must not outlive the allocator at static destruction.
inline tg::Tensor pred_2x2() {
  return tg::from_vector(std::vector<double>{0.5, -1, 2, 3}, {2, 2});
}
inline tg::Tensor target_2x2() {
  return tg::from_vector(std::vector<double>{0, 1, 1, 3.5}, {2, 2});
}

// A Dense(1 -> 1) with known weights (w, b), so runs start from the same place.
inline tg::nn::Dense line(double w = 0.5, double b = 0.0, tg::DType dtype = tg::f64) {
  tg::nn::Dense d(1, 1, {.dtype = dtype});
  tg::kernel::fill(d.kernel, w);
  tg::kernel::fill(d.bias, b);
  return d;
}

// A file path under the temp directory, removed when the object dies.
class TempPath {
 public:
  explicit TempPath(const std::string& name)
      : path_((std::filesystem::temp_directory_path() /
               ("tapegrad_train_" + std::to_string(::getpid()) + "_" + name))
                  .string()) {}
  ~TempPath() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  const std::string& str() const { return path_; }

  void write(const std::string& text) const { tg_test::write_file(path_, text); }
  std::string read() const { return tg_test::read_file(path_); }

 private:
  std::string path_;
};

}  // namespace tg_train
