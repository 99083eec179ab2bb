// The minimal gated unit (MGU, Zhou et al. 2016) as a researcher writes a cell outside the
// library: ~30 lines, no input projection. test_custom_cell.cpp trains and checks it;
// test_checkpoint.cpp uses it as the cell that runs through step().
#pragma once

#include <tapegrad/tapegrad.hpp>

namespace tg_test {

namespace tg = tapegrad;

// f = sigmoid(x W_f + h U_f + b_f); h~ = tanh(x W_h + (f * h) U_h + b_h);
// h_t = (1 - f) h + f h~.  kernel = [W_f W_h], recurrent_kernel = [U_f U_h], bias = [b_f b_h].
struct MGUCell : tg::nn::Cell {
  MGUCell(int64_t in, int64_t units, tg::DType dtype = tg::f32)
      : kernel(register_parameter("kernel", tg::nn::init::glorot_uniform({in, 2 * units}, dtype))),
        recurrent_kernel(register_parameter(
            "recurrent_kernel", tg::nn::init::orthogonal({units, 2 * units}, 1.0, dtype))),
        bias(register_parameter("bias", tg::nn::init::zeros({2 * units}, dtype))),
        units_(units) {}

  int64_t units() const override { return units_; }
  std::string type_name() const override { return "MGUCell"; }

  tg::nn::State step(const tg::Tensor& x, const tg::nn::State& s) override {
    const int64_t u = units_;
    const tg::Tensor& h = s[0];
    const tg::Tensor mx = tg::matmul(x, kernel) + bias;
    const tg::Tensor f =
        tg::sigmoid(tg::slice(mx, 1, 0, u) + tg::matmul(h, tg::slice(recurrent_kernel, 1, 0, u)));
    const tg::Tensor candidate = tg::tanh(
        tg::slice(mx, 1, u, 2 * u) + tg::matmul(f * h, tg::slice(recurrent_kernel, 1, u, 2 * u)));
    return {(1.0 - f) * h + f * candidate};
  }

  tg::Tensor kernel, recurrent_kernel, bias;

 private:
  int64_t units_;
};

}  // namespace tg_test
