// The built-in cells, with Keras's formulas, parameter shapes and gate order, so weights map
// one to one onto Keras (and, with transposes and the GRU gate reorder, onto PyTorch).
// Formulas: ../shared/KERAS.md. Each projects its inputs for all time steps at once:
// p = x @ kernel + bias, then per step only h_{t-1} @ recurrent_kernel remains.
#pragma once

#include <tapegrad/nn/cell.hpp>
#include <tapegrad/nn/dense.hpp>

namespace tapegrad::nn {

// What the built-in cells share: kernel (in, k*units), recurrent_kernel (units, k*units)
// and a bias, with k gates.
class GatedCell : public Cell {
 public:
  int64_t units() const override { return units_; }
  bool has_input_projection() const override { return true; }
  Tensor project_inputs(const Tensor& x) override;
  State step(const Tensor& x_t, const State& state) override;

  Tensor kernel;            // (in_features, k*units), glorot_uniform
  Tensor recurrent_kernel;  // (units, k*units), orthogonal
  Tensor bias;              // (k*units), or (2, 3*units) for GRU

 protected:
  GatedCell(int64_t in_features, int64_t units, int64_t gates, Tensor bias_init, DType dtype);
  // The part of the bias added to the input projection.
  virtual Tensor input_bias() const { return bias; }

 private:
  int64_t units_;
};

struct SimpleRNNCellOptions {
  Activation activation = Activation::tanh;
  DType dtype = f32;
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
