#include <tapegrad/nn/cells.hpp>

#include <limits>

#include <tapegrad/core/kernels.hpp>
#include <tapegrad/nn/dropout.hpp>
#include <tapegrad/nn/init.hpp>
#include <tapegrad/ops/ops.hpp>

namespace tapegrad::nn {

GatedCell::GatedCell(int64_t in_features, int64_t units, int64_t gates, Tensor bias_init,
                     DType dtype, DropoutRates dropout)
    : kernel(
          register_parameter("kernel", init::glorot_uniform({in_features, gates * units}, dtype))),
      recurrent_kernel(register_parameter("recurrent_kernel",
                                          init::orthogonal({units, gates * units}, 1.0, dtype))),
      bias(register_parameter("bias", std::move(bias_init))),
      units_(units),
      dropout_(dropout) {}

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

DropoutRates dropout_rates(const char* cell, double dropout, double recurrent_dropout) {
  return {check_dropout_rate(cell, "dropout", dropout),
          check_dropout_rate(cell, "recurrent_dropout", recurrent_dropout)};
}

// A mask drawn for `rate`, or none (undefined) outside train() mode or at rate 0.
Tensor sequence_mask(bool training, double rate, const Shape& shape, DType dtype) {
  return training && rate > 0 ? dropout_mask(shape, rate, dtype) : Tensor();
}

// x of shape (N, F), N = steps * B rows in time-major order (or one step's B rows), times a
// (B, F) mask on every step's rows. The mask must come from begin_sequence for this batch.
Tensor masked_rows(const char* cell, const Tensor& x, const Tensor& mask) {
  const int64_t batch = mask.shape()[0];
  if (batch == 0) return x;
  if (x.shape()[0] % batch != 0) {
    throw_error<ShapeError>(
        "{}: input of shape {} is not whole steps of the batch of {} the dropout mask was "
        "drawn for; call begin_sequence(batch) before each sequence (RNN does)",
        cell, x.shape(), batch);
  }
  const int64_t features = x.shape()[1];
  return reshape(reshape(x, {x.shape()[0] / batch, batch, features}) * mask, x.shape());
}

}  // namespace

void GatedCell::begin_sequence(int64_t batch) {
  input_mask_ = sequence_mask(is_training(), dropout_.input, {batch, kernel.shape()[0]}, dtype());
  recurrent_mask_ = sequence_mask(is_training(), dropout_.recurrent, {batch, units_}, dtype());
}

Tensor GatedCell::recurrent_input(const Tensor& h) const {
  if (!recurrent_mask_.defined() || !is_training()) return h;
  if (h.dim() != 2 || h.shape() != recurrent_mask_.shape()) {
    throw_error<ShapeError>(
        "{}: state of shape {} does not fit the recurrent dropout mask {} drawn for this "
        "sequence; call begin_sequence(batch) before each sequence (RNN does)",
        label(), h.shape(), recurrent_mask_.shape());
  }
  return h * recurrent_mask_;
}

Tensor GatedCell::project_inputs(const Tensor& x) {
  if (x.dim() != 2 || x.shape()[1] != kernel.shape()[0]) {
    throw_error<ShapeError>(
        "{}: input of shape {} does not fit parameter kernel of shape {} (expects (batch, {}))",
        label(), x.shape(), kernel.shape(), kernel.shape()[0]);
  }
  // The mask applies to x before the kernel (Keras): masking the projection instead would
  // drop whole gate pre-activations rather than input features.
  const Tensor input =
      input_mask_.defined() && is_training() ? masked_rows(label().c_str(), x, input_mask_) : x;
  // One GEMM onto the bias (addmm): matmul + bias would make a second sequence-sized tensor
  // (105 MB for LSTM 512, 100 steps, batch 128) only to free the first.
  return addmm(input_bias(), input, kernel);
}

State GatedCell::step(const Tensor& x_t, const State& state) {
  return step_projected(project_inputs(x_t), state);
}

ModuleConfig GatedCell::sizes_config() const {
  return {{"in_features", kernel.shape()[0]},
          {"units", units()},
          {"dtype", std::string(dtype_name(kernel.dtype()))}};
}

namespace {

// A built-in cell on its own: its sizes and its dropout rates.
ModuleConfig gated_cell_config(const GatedCell& cell) {
  ModuleConfig c = cell.sizes_config();
  c.emplace("dropout", cell.dropout());
  c.emplace("recurrent_dropout", cell.recurrent_dropout());
  return c;
}

}  // namespace

SimpleRNNCell::SimpleRNNCell(int64_t in_features, int64_t units, SimpleRNNCellOptions opts)
    : GatedCell(in_features, units, 1,
                init::zeros({cell_units("SimpleRNNCell", in_features, units, 1)}, opts.dtype),
                opts.dtype, dropout_rates("SimpleRNNCell", opts.dropout, opts.recurrent_dropout)),
      activation_(opts.activation) {}

State SimpleRNNCell::step_projected(const Tensor& p_t, const State& state) {
  return {activate(activation_, addmm(p_t, recurrent_input(state[0]), recurrent_kernel))};
}

std::optional<ModuleConfig> SimpleRNNCell::config() const {
  ModuleConfig c = gated_cell_config(*this);
  c.emplace("activation", to_string(activation_));
  return c;
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
                opts.dtype, dropout_rates("LSTMCell", opts.dropout, opts.recurrent_dropout)),
      unit_forget_bias_(opts.unit_forget_bias) {}

State LSTMCell::initial_state(int64_t batch) const {
  return {zeros({batch, units()}, dtype()), zeros({batch, units()}, dtype())};
}

State LSTMCell::step_projected(const Tensor& p_t, const State& state) {
  const Tensor z = addmm(p_t, recurrent_input(state[0]), recurrent_kernel);
  if (ExpandGatesGuard::enabled()) {
    const auto [h, c] = lstm_gate_ops(z, state[1]);
    return {h, c};
  }
  // The gates and the c/h updates are one fused op (one pass, one record, the gates kept for
  // backward in its output); h and c are views of its stacked output.
  const Tensor y = lstm_gates(z, state[1]);
  return {select(y, 0, 0), select(y, 0, 1)};
}

std::optional<ModuleConfig> LSTMCell::config() const {
  ModuleConfig c = gated_cell_config(*this);
  c.emplace("unit_forget_bias", unit_forget_bias_);
  return c;
}

GRUCell::GRUCell(int64_t in_features, int64_t units, GRUCellOptions opts)
    : GatedCell(in_features, units, 3,
                init::zeros({2, 3 * cell_units("GRUCell", in_features, units, 3)}, opts.dtype),
                opts.dtype, dropout_rates("GRUCell", opts.dropout, opts.recurrent_dropout)) {}

Tensor GRUCell::input_bias() const {
  return select(bias, 0, 0);
}

State GRUCell::step_projected(const Tensor& p_t, const State& state) {
  const Tensor& h = state[0];
  const Tensor mh = addmm(select(bias, 0, 1), recurrent_input(h), recurrent_kernel);
  if (ExpandGatesGuard::enabled()) return {gru_gate_ops(p_t, mh, h)};
  // The gates and the update of h are one fused op; h' is a view of its stacked output.
  return {select(gru_gates(p_t, mh, h), 0, 0)};
}

std::optional<ModuleConfig> GRUCell::config() const {
  return gated_cell_config(*this);
}

}  // namespace tapegrad::nn
