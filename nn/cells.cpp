#include <tapegrad/nn/cells.hpp>

#include <limits>

#include <tapegrad/core/kernels.hpp>
#include <tapegrad/nn/init.hpp>
#include <tapegrad/ops/ops.hpp>

namespace tapegrad::nn {

GatedCell::GatedCell(int64_t in_features, int64_t units, int64_t gates, Tensor bias_init,
                     DType dtype)
    : kernel(
          register_parameter("kernel", init::glorot_uniform({in_features, gates * units}, dtype))),
      recurrent_kernel(register_parameter("recurrent_kernel",
                                          init::orthogonal({units, gates * units}, 1.0, dtype))),
      bias(register_parameter("bias", std::move(bias_init))),
      units_(units) {}

namespace {

// The units of a cell of `gates` blocks of them, checked before the first parameter (the
// bias) is made, so that gates * units and every parameter shape stay in range.
int64_t cell_units(const char* cell, int64_t in_features, int64_t units, int64_t gates) {
  positive_size(cell, "in_features", in_features);
  positive_size(cell, "units", units);
  if (units > std::numeric_limits<int64_t>::max() / gates) {
    throw_error<ValueError>("{}: {} units of {} gates are more columns than int64 counts", cell,
                            units, gates);
  }
  return units;
}

}  // namespace

Tensor GatedCell::project_inputs(const Tensor& x) {
  if (x.dim() != 2 || x.shape()[1] != kernel.shape()[0]) {
    throw_error<ShapeError>(
        "{}: input of shape {} does not fit parameter kernel of shape {} (expects (batch, {}))",
        label(), x.shape(), kernel.shape(), kernel.shape()[0]);
  }
  return matmul(x, kernel) + input_bias();
}

State GatedCell::step(const Tensor& x_t, const State& state) {
  return step_projected(project_inputs(x_t), state);
}

SimpleRNNCell::SimpleRNNCell(int64_t in_features, int64_t units, SimpleRNNCellOptions opts)
    : GatedCell(in_features, units, 1,
                init::zeros({cell_units("SimpleRNNCell", in_features, units, 1)}, opts.dtype),
                opts.dtype),
      activation_(opts.activation) {}

State SimpleRNNCell::step_projected(const Tensor& p_t, const State& state) {
  return {activate(activation_, p_t + matmul(state[0], recurrent_kernel))};
}

namespace {

Tensor lstm_bias(int64_t units, bool unit_forget_bias, DType dtype) {
  Tensor b = zeros({4 * units}, dtype);
  if (unit_forget_bias) kernel::fill(kernel::slice(b, 0, units, 2 * units), 1.0);
  return b;
}

}  // namespace

LSTMCell::LSTMCell(int64_t in_features, int64_t units, LSTMCellOptions opts)
    : GatedCell(in_features, units, 4,
                lstm_bias(cell_units("LSTMCell", in_features, units, 4), opts.unit_forget_bias,
                          opts.dtype),
                opts.dtype),
      unit_forget_bias_(opts.unit_forget_bias) {}

State LSTMCell::initial_state(int64_t batch) const {
  return {zeros({batch, units()}, dtype()), zeros({batch, units()}, dtype())};
}

State LSTMCell::step_projected(const Tensor& p_t, const State& state) {
  const int64_t u = units();
  const Tensor z = p_t + matmul(state[0], recurrent_kernel);
  // One sigmoid over all gates (the c block's sigmoid is unused): fewer, larger kernels.
  const Tensor gates = sigmoid(z);
  const Tensor i = slice(gates, 1, 0, u);
  const Tensor f = slice(gates, 1, u, 2 * u);
  const Tensor o = slice(gates, 1, 3 * u, 4 * u);
  const Tensor candidate = tanh(slice(z, 1, 2 * u, 3 * u));
  const Tensor c = f * state[1] + i * candidate;
  return {o * tanh(c), c};
}

GRUCell::GRUCell(int64_t in_features, int64_t units, GRUCellOptions opts)
    : GatedCell(in_features, units, 3,
                init::zeros({2, 3 * cell_units("GRUCell", in_features, units, 3)}, opts.dtype),
                opts.dtype) {}

Tensor GRUCell::input_bias() const {
  return select(bias, 0, 0);
}

State GRUCell::step_projected(const Tensor& p_t, const State& state) {
  const int64_t u = units();
  const Tensor& h = state[0];
  const Tensor mh = matmul(h, recurrent_kernel) + select(bias, 0, 1);
  const Tensor zr = sigmoid(slice(p_t, 1, 0, 2 * u) + slice(mh, 1, 0, 2 * u));
  const Tensor z = slice(zr, 1, 0, u);
  const Tensor r = slice(zr, 1, u, 2 * u);
  const Tensor candidate = tanh(slice(p_t, 1, 2 * u, 3 * u) + r * slice(mh, 1, 2 * u, 3 * u));
  return {z * h + (1.0 - z) * candidate};
}

}  // namespace tapegrad::nn
