// A first look at tapegrad: a few tensor kernels, printed with fmt.
// Built as build/tools/demo; `tools/quickstart.sh run` runs it until the `tapegrad`
// program exists.
#include <fmt/core.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

int main() {
  tg::manual_seed(0);

  tg::Tensor a = tg::ones({2, 3});
  tg::Tensor b = tg::tensor({1.f, 2.f, 3.f});
  fmt::print("a =\n{}\n\nb =\n{}\n\n", a, b);
  fmt::print("a + b (b broadcast over rows) =\n{}\n\n", tg::kernel::add(a, b));

  tg::Tensor x = tg::kernel::reshape(tg::arange(6), {2, 3});
  fmt::print("x = arange(6).reshape(2, 3) =\n{}\n\n", x);
  fmt::print("x @ x^T =\n{}\n\n", tg::kernel::matmul(x, tg::kernel::transpose(x, 0, 1)));
  fmt::print("sum of x over axis 1 =\n{}\n\n", tg::kernel::sum(x, {1}, false));
  fmt::print("tanh(x) =\n{}\n\n", tg::kernel::tanh(x));

  tg::Tensor r = tg::randn({3, 2}, tg::f64);
  fmt::print("randn(3, 2, f64) after manual_seed(0) =\n{}\n", r);
  return 0;
}
