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

}  // namespace tapegrad
