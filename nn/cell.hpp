// Cells: one time step of a recurrent network. tg::nn::RNN unrolls any Cell over time, so a
// new cell is ~30 lines: register its parameters, say how big h_t is, and write step().
//
//   struct MyCell : tg::nn::Cell {
//     MyCell(int64_t in, int64_t units)
//         : w(register_parameter("kernel", tg::nn::init::glorot_uniform({in, units}))),
//           u(register_parameter("recurrent_kernel", tg::nn::init::orthogonal({units, units}))) {}
//     int64_t units() const override { return w.shape()[1]; }
//     tg::nn::State step(const tg::Tensor& x, const tg::nn::State& s) override {
//       return {tg::tanh(tg::matmul(x, w) + tg::matmul(s[0], u))};
//     }
//     tg::Tensor w, u;
//   };
//
// Backpropagation through time needs nothing more: the steps are recorded on the tape.
//
// A cell may also split its step into an input part that does not depend on the state and a
// recurrent part (project_inputs + step_projected). RNN then computes the input part of a
// block of time steps (about 2048 rows) as one GEMM before those steps, which is what makes
// the built-in cells fast.
//
// RNN calls begin_sequence(batch) at the start of every layer call, before the input
// projection: the place to draw what stays fixed for one sequence, such as the dropout masks
// (one per sample, reused at every step; nn/dropout.hpp's dropout_mask does the draw).
#pragma once

#include <vector>

#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

// The recurrent state; state[0] is the output h_t (LSTM: {h, c}).
using State = std::vector<Tensor>;

class Cell : public Module {
 public:
  virtual int64_t units() const = 0;
  // The state before the first step; by default {zeros(batch, units)} in the cell's dtype.
  virtual State initial_state(int64_t batch) const;
  virtual State step(const Tensor& x_t, const State& state) = 0;
  // Called by RNN once per layer call, before any project_inputs or step; by default nothing.
  virtual void begin_sequence(int64_t /*batch*/) {}

  // Optional input projection: p = project_inputs(x) for x of shape (N, F) must satisfy
  // step(x_t, s) == step_projected(p_t, s).
  virtual bool has_input_projection() const { return false; }
  virtual Tensor project_inputs(const Tensor& x);
  virtual State step_projected(const Tensor& p_t, const State& state);

  std::string type_name() const override { return "Cell"; }
};

}  // namespace tapegrad::nn
