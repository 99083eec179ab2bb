#include <tapegrad/ops/recurrent.hpp>

#include <tapegrad/autograd/record.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/ops/activation.hpp>
#include <tapegrad/ops/elementwise.hpp>
#include <tapegrad/ops/shape.hpp>

namespace tapegrad {
namespace {

// Block k, (B, u), of a stacked (blocks, B, u) output or its gradient.
Tensor block(const Tensor& t, int64_t k) {
  return select(t, 0, k);
}

// Columns [k u, (k + 1) u) of a (B, n u) gradient.
Tensor columns(const Tensor& t, int64_t k, int64_t u) {
  return slice(t, 1, k * u, (k + 1) * u);
}

}  // namespace

Tensor lstm_gates(const Tensor& z, const Tensor& c_prev) {
  return record(
      {.op = "lstm_gates", .inputs = {z, c_prev}, .save = {c_prev}, .save_output = true},
      kernel::lstm_gates(z, c_prev), [](const BackwardContext& c) -> Grads {
        const int64_t u = c.input_shape(1)[1];
        const Tensor d = lstm_gates_backward(c.grad, c.output(), c.saved(0));
        return {columns(d, 0, 4 * u), c.needs_input_grad(1) ? columns(d, 4, u) : Tensor()};
      });
}

Tensor lstm_gates_backward(const Tensor& dy, const Tensor& y, const Tensor& c_prev) {
  // d, the gradient of lstm_gates (see the kernel), is linear in dy; so its derivative along
  // dy is the forward's tangent map applied to the incoming g, and the one along y and c_prev
  // differentiates the gate derivatives s = a (1 - a) (1 - g^2 for g) and tanh(c).
  return record(
      {.op = "lstm_gates_backward", .inputs = {dy, y, c_prev}, .save = {dy, y, c_prev}},
      kernel::lstm_gates_backward(dy, y, c_prev), [](const BackwardContext& c) -> Grads {
        const Tensor dy = c.saved(0), y = c.saved(1), cp = c.saved(2);
        const int64_t u = c.input_shape(2)[1];
        const Tensor dh = block(dy, 0), dc = block(dy, 1), di = block(dy, 2), df = block(dy, 3),
                     dg = block(dy, 4), d_o = block(dy, 5);
        const Tensor cell = block(y, 1), i = block(y, 2), f = block(y, 3), g = block(y, 4),
                     o = block(y, 5);
        const Tensor gi = columns(c.grad, 0, u), gf = columns(c.grad, 1, u),
                     gg = columns(c.grad, 2, u), go = columns(c.grad, 3, u),
                     gcp = columns(c.grad, 4, u);
        const Tensor tc = tanh(cell), st = 1.0 - tc * tc;
        const Tensor si = i * (1.0 - i), sf = f * (1.0 - f), sg = 1.0 - g * g, so = o * (1.0 - o);
        const Tensor dct = dc + dh * o * st;  // the cell state's total gradient
        const Tensor tangent_c = gi * g * si + gf * cp * sf + gg * i * sg + gcp * f;
        const Tensor d_dy = stack(
            {go * tc * so + tangent_c * o * st, tangent_c, gi * si, gf * sf, gg * sg, go * so});
        const Tensor d_y = stack({zeros_like(cell), st * dh * (go * so - 2.0 * tangent_c * o * tc),
                                  gi * (di + dct * g) * (1.0 - 2.0 * i) + gg * dct * sg,
                                  gf * (df + dct * cp) * (1.0 - 2.0 * f) + gcp * dct,
                                  gi * dct * si - 2.0 * gg * (dg + dct * i) * g,
                                  go * (d_o + dh * tc) * (1.0 - 2.0 * o) + tangent_c * dh * st});
        return {d_dy, d_y, gf * dct * sf};
      });
}

Tensor gru_gates(const Tensor& p, const Tensor& mh, const Tensor& h) {
  return record({.op = "gru_gates", .inputs = {p, mh, h}, .save = {mh, h}, .save_output = true},
                kernel::gru_gates(p, mh, h), [](const BackwardContext& c) -> Grads {
                  const int64_t u = c.input_shape(2)[1];
                  const Tensor d = gru_gates_backward(c.grad, c.output(), c.saved(0), c.saved(1));
                  return {columns(d, 0, 3 * u), columns(d, 1, 3 * u),
                          c.needs_input_grad(2) ? columns(d, 6, u) : Tensor()};
                });
}

Tensor gru_gates_backward(const Tensor& dy, const Tensor& y, const Tensor& mh, const Tensor& h) {
  // As for lstm_gates_backward: along dy the forward's tangent map applied to g, along the
  // rest the derivatives of the gate derivatives, of (h - n) and of r mh_n.
  return record(
      {.op = "gru_gates_backward", .inputs = {dy, y, mh, h}, .save = {dy, y, mh, h}},
      kernel::gru_gates_backward(dy, y, mh, h), [](const BackwardContext& c) -> Grads {
        const Tensor dy = c.saved(0), y = c.saved(1), mh = c.saved(2), h = c.saved(3);
        const int64_t u = c.input_shape(3)[1];
        const Tensor dhn = block(dy, 0), dz = block(dy, 1), dr = block(dy, 2), dn = block(dy, 3);
        const Tensor z = block(y, 1), r = block(y, 2), n = block(y, 3);
        const Tensor mn = columns(mh, 2, u);
        const Tensor sz = z * (1.0 - z), sr = r * (1.0 - r), sn = 1.0 - n * n;
        const Tensor dn_total = dn + dhn * (1.0 - z);
        const Tensor da = dn_total * sn;  // n's pre-activation
        // Tangents of the z and r pre-activations and of n's, along g.
        const Tensor tz = columns(c.grad, 0, u) + columns(c.grad, 3, u);
        const Tensor tr = columns(c.grad, 1, u) + columns(c.grad, 4, u);
        const Tensor gmn = columns(c.grad, 5, u), gh = columns(c.grad, 6, u);
        const Tensor ta = columns(c.grad, 2, u) + gmn * r + tr * mn * sr;
        const Tensor d_dy =
            stack({tz * sz * (h - n) + ta * sn * (1.0 - z) + gh * z, tz * sz, tr * sr, ta * sn});
        const Tensor d_y = stack(
            {zeros_like(z), tz * (dz + dhn * (h - n)) * (1.0 - 2.0 * z) - ta * dhn * sn + gh * dhn,
             tr * (dr + da * mn) * (1.0 - 2.0 * r) + gmn * da,
             -(tz * dhn * sz) - 2.0 * ta * dn_total * n});
        const Tensor d_mh = concat({zeros({h.shape()[0], 2 * u}, h.dtype()), tr * da * sr}, 1);
        return {d_dy, d_y, d_mh, tz * dhn * sz};
      });
}

namespace {

thread_local bool expand_gates = false;

}  // namespace

LSTMGateState lstm_gate_ops(const Tensor& z, const Tensor& c_prev) {
  const int64_t u = c_prev.shape()[1];
  const Tensor i = sigmoid(columns(z, 0, u));
  const Tensor f = sigmoid(columns(z, 1, u));
  const Tensor g = tanh(columns(z, 2, u));
  const Tensor o = sigmoid(columns(z, 3, u));
  const Tensor c = f * c_prev + i * g;
  return {o * tanh(c), c};
}

Tensor gru_gate_ops(const Tensor& p, const Tensor& mh, const Tensor& h) {
  const int64_t u = h.shape()[1];
  const Tensor z = sigmoid(columns(p, 0, u) + columns(mh, 0, u));
  const Tensor r = sigmoid(columns(p, 1, u) + columns(mh, 1, u));
  const Tensor n = tanh(columns(p, 2, u) + r * columns(mh, 2, u));
  return z * h + (1.0 - z) * n;
}

ExpandGatesGuard::ExpandGatesGuard() : previous_(expand_gates) {
  expand_gates = true;
}

ExpandGatesGuard::~ExpandGatesGuard() {
  expand_gates = previous_;
}

bool ExpandGatesGuard::enabled() {
  return expand_gates;
}

}  // namespace tapegrad
