// Fused kernels of the recurrent cells' gate arithmetic (ops/recurrent.cpp wraps them as ops).
//
// Each kernel makes one pass over its operands, a batch row at a time: a row of every operand
// (a few KB at RNN widths) stays in L1 while the vectorized sigmoid/tanh (core/vmath) and the
// products run over it, where the composite cell reads and writes each intermediate tensor of
// the whole batch once per op. The arithmetic is the composite's, in the same order, so the
// fused forward gives the same bits as the chain of ops it replaces. Rows are independent, so
// a large step splits its rows over the threads (for_batch_rows) with the same bits.
#include <algorithm>

#include <tapegrad/core/kernels.hpp>
#include <tapegrad/core/vmath.hpp>

#include "parallel.hpp"

namespace tapegrad::kernel {
namespace {

// The units of a cell whose `what` has `gates` blocks of them per row, checked against the
// state-sized `state` (batch, units): the shape errors of the fused ops.
int64_t gate_units(const char* op, const char* what, const Tensor& gated, int64_t gates,
                   const char* state_name, const Tensor& state) {
  check_same_dtype(op, gated, state);
  const bool fits = gated.dim() == 2 && gated.shape()[1] % gates == 0 && state.dim() == 2 &&
                    state.shape()[0] == gated.shape()[0] &&
                    state.shape()[1] * gates == gated.shape()[1];
  if (!fits) {
    throw_error<ShapeError>(
        "{}: {} of shape {} and {} of shape {} do not fit (expected (batch, {} * units) and "
        "(batch, units))",
        op, what, gated.shape(), state_name, state.shape(), gates);
  }
  return state.shape()[1];
}

// A gradient or output operand of shape (blocks, batch, units), checked like gate_units.
void check_blocks(const char* op, const char* what, const Tensor& t, int64_t blocks, int64_t batch,
                  int64_t units) {
  if (t.shape() != Shape{blocks, batch, units}) {
    throw_error<ShapeError>("{}: {} has shape {}, expected ({}, {}, {}) (blocks, batch, units)", op,
                            what, t.shape(), blocks, batch, units);
  }
}

// From this many values written per step a kernel's batch rows are split over the threads:
// an LSTM(512) at batch 128 writes 6 x 64K per step, and its gate arithmetic on one core was
// the largest part of its epoch a second thread left alone; a GRU(128) at batch 32 writes
// 16K, too few to pay for handing a part to another core every step.
constexpr int64_t kSplitRowsFrom = int64_t{1} << 16;

// rows(begin, end) over the batch rows [0, batch) of a kernel writing `values` per step, in
// one call or in parts on the threads (rows are independent: each part writes its own).
template <class Rows>
void for_batch_rows(int64_t batch, int64_t values, Rows&& rows) {
  const int parts =
      values < kSplitRowsFrom ? 1 : static_cast<int>(std::min<int64_t>(num_threads(), batch));
  if (parts <= 1) {
    rows(int64_t{0}, batch);
    return;
  }
  auto part = [&](int i) { rows(batch * i / parts, batch * (i + 1) / parts); };
  detail::run_parts(parts, part);
}

}  // namespace

Tensor lstm_gates(const Tensor& z, const Tensor& c_prev) {
  const int64_t u = gate_units("lstm_gates", "pre-activations z", z, 4, "c_prev", c_prev);
  const int64_t batch = z.shape()[0];
  const Tensor zd = z.contiguous();
  const Tensor cpd = c_prev.contiguous();
  Tensor y = empty({6, batch, u}, z.dtype());
  dispatch(z.dtype(), [&]<class T>(T) {
    const int64_t block = batch * u;
    for_batch_rows(batch, 6 * block, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const T* zr = zd.data<T>() + b * 4 * u;
        const T* cp = cpd.data<T>() + b * u;
        T* h = y.data<T>() + b * u;
        T* c = h + block;
        T* i = c + block;
        T* f = i + block;
        T* g = f + block;
        T* o = g + block;
        vmath::sigmoid(zr, i, u);
        vmath::sigmoid(zr + u, f, u);
        vmath::tanh(zr + 2 * u, g, u);
        vmath::sigmoid(zr + 3 * u, o, u);
        for (int64_t j = 0; j < u; ++j) c[j] = f[j] * cp[j] + i[j] * g[j];
        vmath::tanh(c, h, u);  // tanh(c) first, in h's place
        for (int64_t j = 0; j < u; ++j) h[j] = o[j] * h[j];
      }
    });
  });
  return y;
}

Tensor lstm_gates_backward(const Tensor& dy, const Tensor& y, const Tensor& c_prev) {
  const char* op = "lstm_gates_backward";
  check_same_dtype(op, dy, y);
  check_same_dtype(op, y, c_prev);
  if (c_prev.dim() != 2) {
    throw_error<ShapeError>("{}: c_prev has shape {}, expected (batch, units)", op, c_prev.shape());
  }
  const int64_t batch = c_prev.shape()[0];
  const int64_t u = c_prev.shape()[1];
  check_blocks(op, "output y", y, 6, batch, u);
  check_blocks(op, "output gradient dy", dy, 6, batch, u);
  const Tensor dyd = dy.contiguous();
  const Tensor yd = y.contiguous();
  const Tensor cpd = c_prev.contiguous();
  Tensor d = empty({batch, 5 * u}, y.dtype());
  dispatch(y.dtype(), [&]<class T>(T) {
    const int64_t block = batch * u;
    for_batch_rows(batch, 5 * block, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const T* dh = dyd.data<T>() + b * u;
        const T* dc = dh + block;
        const T* di = dc + block;
        const T* df = di + block;
        const T* dg = df + block;
        const T* dout = dg + block;
        const T* c = yd.data<T>() + block + b * u;
        const T* i = c + block;
        const T* f = i + block;
        const T* g = f + block;
        const T* o = g + block;
        const T* cp = cpd.data<T>() + b * u;
        T* dz = d.data<T>() + b * 5 * u;
        T* dcp = dz + 4 * u;
        vmath::tanh(c, dcp, u);  // tanh(c) first, in dc_prev's place: read before overwritten
        for (int64_t j = 0; j < u; ++j) {
          const T tc = dcp[j];
          const T dct = dc[j] + dh[j] * o[j] * (T(1) - tc * tc);
          dz[j] = (di[j] + dct * g[j]) * i[j] * (T(1) - i[j]);
          dz[u + j] = (df[j] + dct * cp[j]) * f[j] * (T(1) - f[j]);
          dz[2 * u + j] = (dg[j] + dct * i[j]) * (T(1) - g[j] * g[j]);
          dz[3 * u + j] = (dout[j] + dh[j] * tc) * o[j] * (T(1) - o[j]);
          dcp[j] = dct * f[j];
        }
      }
    });
  });
  return d;
}

Tensor gru_gates(const Tensor& p, const Tensor& mh, const Tensor& h) {
  const int64_t u = gate_units("gru_gates", "input projection p", p, 3, "h", h);
  gate_units("gru_gates", "recurrent projection mh", mh, 3, "h", h);
  const int64_t batch = p.shape()[0];
  const Tensor pd = p.contiguous();
  const Tensor md = mh.contiguous();
  const Tensor hd = h.contiguous();
  Tensor y = empty({4, batch, u}, p.dtype());
  dispatch(p.dtype(), [&]<class T>(T) {
    const int64_t block = batch * u;
    for_batch_rows(batch, 4 * block, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const T* pr = pd.data<T>() + b * 3 * u;
        const T* mr = md.data<T>() + b * 3 * u;
        const T* hp = hd.data<T>() + b * u;
        T* hn = y.data<T>() + b * u;
        T* z = hn + block;
        T* r = z + block;
        T* n = r + block;
        for (int64_t j = 0; j < u; ++j) z[j] = pr[j] + mr[j];
        for (int64_t j = 0; j < u; ++j) r[j] = pr[u + j] + mr[u + j];
        vmath::sigmoid(z, z, u);
        vmath::sigmoid(r, r, u);
        for (int64_t j = 0; j < u; ++j) n[j] = pr[2 * u + j] + r[j] * mr[2 * u + j];
        vmath::tanh(n, n, u);
        for (int64_t j = 0; j < u; ++j) hn[j] = z[j] * hp[j] + (T(1) - z[j]) * n[j];
      }
    });
  });
  return y;
}

Tensor gru_gates_backward(const Tensor& dy, const Tensor& y, const Tensor& mh, const Tensor& h) {
  const char* op = "gru_gates_backward";
  check_same_dtype(op, dy, y);
  check_same_dtype(op, y, mh);
  const int64_t u = gate_units(op, "recurrent projection mh", mh, 3, "h", h);
  const int64_t batch = h.shape()[0];
  check_blocks(op, "output y", y, 4, batch, u);
  check_blocks(op, "output gradient dy", dy, 4, batch, u);
  const Tensor dyd = dy.contiguous();
  const Tensor yd = y.contiguous();
  const Tensor md = mh.contiguous();
  const Tensor hd = h.contiguous();
  Tensor d = empty({batch, 7 * u}, y.dtype());
  dispatch(y.dtype(), [&]<class T>(T) {
    const int64_t block = batch * u;
    for_batch_rows(batch, 7 * block, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const T* dhn = dyd.data<T>() + b * u;
        const T* dz = dhn + block;
        const T* dr = dz + block;
        const T* dn = dr + block;
        const T* z = yd.data<T>() + block + b * u;
        const T* r = z + block;
        const T* n = r + block;
        const T* mn = md.data<T>() + b * 3 * u + 2 * u;
        const T* hp = hd.data<T>() + b * u;
        T* dp = d.data<T>() + b * 7 * u;
        T* dm = dp + 3 * u;
        T* dh = dm + 3 * u;
        for (int64_t j = 0; j < u; ++j) {
          const T da = (dn[j] + dhn[j] * (T(1) - z[j])) * (T(1) - n[j] * n[j]);
          const T dzz = (dz[j] + dhn[j] * (hp[j] - n[j])) * z[j] * (T(1) - z[j]);
          const T dzr = (dr[j] + da * mn[j]) * r[j] * (T(1) - r[j]);
          dp[j] = dm[j] = dzz;
          dp[u + j] = dm[u + j] = dzr;
          dp[2 * u + j] = da;
          dm[2 * u + j] = da * r[j];
          dh[j] = dhn[j] * z[j];
        }
      }
    });
  });
  return d;
}

}  // namespace tapegrad::kernel
