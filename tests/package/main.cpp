// Compiled against an installed tapegrad: only <tapegrad/...> and <fmt/...> headers.
#include <fmt/core.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

int main() {
  tg::Tensor a = tg::ones({2, 3});
  tg::Tensor b = tg::tensor({1.f, 2.f, 3.f});
  tg::Tensor c = tg::kernel::add(a, b);
  // Exercise BLAS too, so that a missing OpenBLAS link would show here.
  tg::Tensor m = tg::kernel::matmul(c, tg::kernel::transpose(c, 0, 1));
  fmt::print("{}\n{}\n", c, m);

  const std::vector<float> want_c{2, 3, 4, 2, 3, 4};
  const std::vector<float> want_m{29, 29, 29, 29};
  if (c.to_vector<float>() != want_c || m.to_vector<float>() != want_m) {
    fmt::print("package test: wrong values\n");
    return 1;
  }
  fmt::print("package test: ok\n");
  return 0;
}
