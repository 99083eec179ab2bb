// Fused recurrent ops: the gate arithmetic of one LSTM or GRU step as a single record.
//
// A cell step written with elementwise ops records a dozen small ops, each reading and writing
// whole (batch, units) tensors and each keeping its inputs for backward. These ops compute the
// same values in one pass (core/recurrent_kernels.cpp) and record once, so the tape still
// holds the picture of the step (graph dumps show "lstm_gates") and the cell writes no
// backward.
//
// A record has one output, so each op stacks what it makes along a leading axis of blocks,
// (blocks, batch, units): the new state first, then the activated gates. The cell takes the
// state as select() views (contiguous, no copy). The gates are part of the output rather than
// saved beside it because the rule reads them back through c.output(): with create_graph that
// output comes back linked to this record, so second derivatives flow through the gates
// without keeping the pre-activations too.
//
// Each rule is one fused kernel, wrapped as an op of its own (lstm_gates_backward,
// gru_gates_backward) whose rule is written with ordinary ops; so the first-order backward is
// one pass, and a recorded backward (create_graph) is differentiable again.
#pragma once

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

// One LSTM step's gates and state update. z (B, 4u): pre-activations in Keras gate order
// i, f, c, o; c_prev (B, u). i, f, o = sigmoid, g = tanh of their blocks,
// c = f c_prev + i g, h = o tanh(c). Returns (6, B, u): h, c, i, f, g, o.
Tensor lstm_gates(const Tensor& z, const Tensor& c_prev);
// The gradient of lstm_gates at its output y, given dy of y's shape: (B, 5u), dz in columns
// [0, 4u) and dc_prev in [4u, 5u).
Tensor lstm_gates_backward(const Tensor& dy, const Tensor& y, const Tensor& c_prev);

// One GRU step in Keras's reset_after form. p (B, 3u): the input projection (with its bias),
// mh (B, 3u): h times the recurrent kernel plus the recurrent bias, both in gate order z, r,
// n; h (B, u). z, r = sigmoid(p + mh) of their blocks, n = tanh(p_n + r mh_n),
// h' = z h + (1 - z) n. Returns (4, B, u): h', z, r, n.
Tensor gru_gates(const Tensor& p, const Tensor& mh, const Tensor& h);
// The gradient of gru_gates at its output y, given dy of y's shape: (B, 7u), dp in columns
// [0, 3u), dmh in [3u, 6u) and dh in [6u, 7u).
Tensor gru_gates_backward(const Tensor& dy, const Tensor& y, const Tensor& mh, const Tensor& h);

// The same gate arithmetic written with ordinary ops (slice, sigmoid, tanh, mul, add, sub): the
// same values as the fused ops (to rounding), a dozen records per step instead of one. The
// cells compute with these under ExpandGatesGuard, so a graph dump can draw the gate math.
struct LSTMGateState {
  Tensor h, c;
};
// One LSTM step from z (B, 4u) and c_prev (B, u), as lstm_gates: h and c.
LSTMGateState lstm_gate_ops(const Tensor& z, const Tensor& c_prev);
// One GRU step from p, mh (B, 3u) and h (B, u), as gru_gates: h'.
Tensor gru_gate_ops(const Tensor& p, const Tensor& mh, const Tensor& h);

// While one is alive on a thread, the built-in LSTM and GRU cells of that thread compute their
// gates with lstm_gate_ops and gru_gate_ops instead of the fused ops: slower, for drawing
// (`tapegrad dot --expand-gates`) and for teaching what the fused op computes.
class ExpandGatesGuard {
 public:
  ExpandGatesGuard();
  ~ExpandGatesGuard();
  ExpandGatesGuard(const ExpandGatesGuard&) = delete;
  ExpandGatesGuard& operator=(const ExpandGatesGuard&) = delete;
  static bool enabled();

 private:
  bool previous_;
};

}  // namespace tapegrad
