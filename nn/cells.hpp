// The built-in cells, with Keras's formulas, parameter shapes and gate order, so weights map
// one to one onto Keras (and, with transposes and the GRU gate reorder, onto PyTorch).
// Formulas: ../shared/KERAS.md. Each projects its inputs for a block of time steps at once:
// p = x @ kernel + bias, then per step only h_{t-1} @ recurrent_kernel remains.
//
// Dropout (options .dropout, .recurrent_dropout), as Keras 3's cells do it: in train() mode,
// at the start of each layer call (Cell::begin_sequence) one inverted-dropout mask per sample
// is drawn for x_t, shape (B, in_features), and one for h_{t-1}, shape (B, units); both are
// reused at every time step of that call. One mask serves all gates (Keras 3; Keras 2's
// implementation=1 drew one per gate, and Keras 3 dropped that). x_t is masked before the
// kernel, so the block projection stays one GEMM over the masked input; h_{t-1} is masked
// where it meets recurrent_kernel only: LSTM's c_{t-1} and GRU's z * h_{t-1} use it unmasked,
// as in Keras. In eval() mode (evaluate, predict) nothing is dropped.
#pragma once

#include <tapegrad/nn/cell.hpp>
#include <tapegrad/nn/dense.hpp>

namespace tapegrad::nn {

// The dropout rates of a cell, each in [0, 1).
struct DropoutRates {
  double input = 0;      // on x_t
  double recurrent = 0;  // on h_{t-1}
};

// What the built-in cells share: kernel (in, k*units), recurrent_kernel (units, k*units)
// and a bias, with k gates.
class GatedCell : public Cell {
 public:
  int64_t units() const override { return units_; }
  bool has_input_projection() const override { return true; }
  Tensor project_inputs(const Tensor& x) override;
  State step(const Tensor& x_t, const State& state) override;
  // Draws this sequence's dropout masks (train() mode, nonzero rates), else clears them.
  void begin_sequence(int64_t batch) override;
  double dropout() const { return dropout_.input; }
  double recurrent_dropout() const { return dropout_.recurrent; }
  // {"in_features", "units", "dtype"} from the parameters (so right after Module::to(dtype)):
  // what the configs of the cell and of a built-in layer over it (SimpleRNN, ...) both hold.
  ModuleConfig sizes_config() const;

  Tensor kernel;            // (in_features, k*units), glorot_uniform
  Tensor recurrent_kernel;  // (units, k*units), orthogonal
  Tensor bias;              // (k*units), or (2, 3*units) for GRU

 protected:
  GatedCell(int64_t in_features, int64_t units, int64_t gates, Tensor bias_init, DType dtype,
            DropoutRates dropout);
  // The part of the bias added to the input projection.
  virtual Tensor input_bias() const { return bias; }
  // h_{t-1} as recurrent_kernel sees it: times this sequence's recurrent mask, if any.
  Tensor recurrent_input(const Tensor& h) const;

 private:
  int64_t units_;
  DropoutRates dropout_;
  Tensor input_mask_;      // (B, in_features), undefined when not dropping
  Tensor recurrent_mask_;  // (B, units), undefined when not dropping
};

struct SimpleRNNCellOptions {
  Activation activation = Activation::tanh;
  DType dtype = f32;
  double dropout = 0;            // on x_t, in [0, 1)
  double recurrent_dropout = 0;  // on h_{t-1}, in [0, 1)
};

// h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)
class SimpleRNNCell : public GatedCell {
 public:
  SimpleRNNCell(int64_t in_features, int64_t units, SimpleRNNCellOptions opts = {});
  State step_projected(const Tensor& p_t, const State& state) override;
  std::string type_name() const override { return "SimpleRNNCell"; }
  std::optional<ModuleConfig> config() const override;
  Activation activation() const { return activation_; }

 private:
  Activation activation_;
};

struct LSTMCellOptions {
  bool unit_forget_bias = true;  // forget-gate bias starts at 1
  DType dtype = f32;
  double dropout = 0;            // on x_t, in [0, 1)
  double recurrent_dropout = 0;  // on h_{t-1}, in [0, 1)
};

// Gates i, f, c, o: c_t = f c_{t-1} + i tanh(z_c), h_t = o tanh(c_t); state {h, c}.
class LSTMCell : public GatedCell {
 public:
  LSTMCell(int64_t in_features, int64_t units, LSTMCellOptions opts = {});
  State initial_state(int64_t batch) const override;
  State step_projected(const Tensor& p_t, const State& state) override;
  std::string type_name() const override { return "LSTMCell"; }
  std::optional<ModuleConfig> config() const override;

 private:
  bool unit_forget_bias_;
};

struct GRUCellOptions {
  DType dtype = f32;
  double dropout = 0;            // on x_t, in [0, 1)
  double recurrent_dropout = 0;  // on h_{t-1}, in [0, 1)
};

// reset_after=True, gates z, r, h; bias (2, 3u) = [input bias; recurrent bias].
// h_t = z h_{t-1} + (1 - z) tanh(mx_h + r (h_{t-1} @ R_h + b_h))
class GRUCell : public GatedCell {
 public:
  GRUCell(int64_t in_features, int64_t units, GRUCellOptions opts = {});
  State step_projected(const Tensor& p_t, const State& state) override;
  std::string type_name() const override { return "GRUCell"; }
  std::optional<ModuleConfig> config() const override;

 protected:
  Tensor input_bias() const override;
};

}  // namespace tapegrad::nn
