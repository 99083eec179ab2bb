#include <tapegrad/nn/rnn.hpp>

#include <fmt/format.h>

#include <tapegrad/nn/cells.hpp>
#include <tapegrad/ops/ops.hpp>

namespace tapegrad::nn {
namespace {

State detached(const State& s) {
  State out;
  for (const Tensor& t : s) out.push_back(t.detach());
  return out;
}

// The cell of a built-in layer, its sizes checked under the layer's name.
template <class C, class Options>
std::shared_ptr<C> make_cell(const char* layer, int64_t in_features, int64_t units, Options opts) {
  positive_size(layer, "in_features", in_features);
  positive_size(layer, "units", units);
  return std::make_shared<C>(in_features, units, opts);
}

// The mask as 1/0 (valid/masked) in `dtype`, time-major (T, B, 1): step t selects a (B, 1)
// slab that broadcasts over the units of every state tensor.
Tensor time_major_mask(const std::vector<double>& mask, int64_t batch, int64_t steps, DType dtype) {
  std::vector<double> values(mask.size());
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < steps; ++t) values[t * batch + b] = mask[b * steps + t] != 0 ? 1 : 0;
  }
  return from_vector(values, {steps, batch, 1}).to(dtype);
}

// How many samples a time step is valid for.
enum class Coverage { all, some, none };

// Per step; every step is Coverage::all without a mask (`mask` empty).
std::vector<Coverage> step_coverage(const std::vector<double>& mask, int64_t batch, int64_t steps) {
  std::vector<Coverage> coverage(static_cast<std::size_t>(steps), Coverage::all);
  if (mask.empty()) return coverage;
  for (int64_t t = 0; t < steps; ++t) {
    int64_t valid = 0;
    for (int64_t b = 0; b < batch; ++b) valid += mask[b * steps + t] != 0 ? 1 : 0;
    coverage[t] = valid == batch ? Coverage::all : valid == 0 ? Coverage::none : Coverage::some;
  }
  return coverage;
}

// x (B, T, F) with each sample's valid steps reversed in place (masked steps keep their
// positions): one gather of the (B*T, F) rows, differentiable, no per-sample loop at run time.
Tensor reversed_within_length(const Tensor& x, const std::vector<double>& mask) {
  const int64_t batch = x.shape()[0], steps = x.shape()[1], features = x.shape()[2];
  std::vector<int64_t> rows(static_cast<std::size_t>(batch * steps));
  std::vector<int64_t> valid;
  for (int64_t b = 0; b < batch; ++b) {
    valid.clear();
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t row = b * steps + t;
      rows[row] = row;
      if (mask[row] != 0) valid.push_back(row);
    }
    const auto n = static_cast<int64_t>(valid.size());
    for (int64_t k = 0; k < n; ++k) rows[valid[k]] = valid[n - 1 - k];
  }
  const Tensor flat = reshape(x, {batch * steps, features});
  return reshape(index_select(flat, 0, rows), x.shape());
}

// The mask read once on the host, as doubles.
std::vector<double> host_mask(const Tensor& mask) {
  return mask.detach().contiguous().to(f64).to_vector<double>();
}

}  // namespace

Tensor reverse_within_length(const Tensor& x, const Tensor& mask) {
  if (x.dim() != 3 || mask.dim() != 2 || mask.shape()[0] != x.shape()[0] ||
      mask.shape()[1] != x.shape()[1]) {
    throw_error<ShapeError>(
        "reverse_within_length: expected x (batch, time, features) and a mask (batch, time), "
        "got x of shape {} and a mask of shape {}",
        x.shape(), mask.shape());
  }
  return reversed_within_length(x, host_mask(mask));
}

RNN::RNN(std::shared_ptr<Cell> cell, RNNOptions opts) : cell_(std::move(cell)), opts_(opts) {
  if (!cell_) throw ValueError("RNN: the cell is null");
  if (opts_.tbptt < 0) throw_error<ValueError>("RNN: tbptt must be >= 0, got {}", opts_.tbptt);
  register_module("cell", cell_);
}

void RNN::check_input(const Tensor& x) const {
  if (x.dim() != 3) {
    throw_error<ShapeError>("{}: expected input (batch, time, features), got shape {}", label(),
                            x.shape());
  }
  if (x.shape()[1] == 0)
    throw_error<ShapeError>("{}: the input has no time steps ({})", label(), x.shape());
}

void RNN::check_mask(const Tensor& x, const Tensor& mask) const {
  if (mask.dim() != 2 || mask.shape()[0] != x.shape()[0] || mask.shape()[1] != x.shape()[1]) {
    throw_error<ShapeError>(
        "{}: the mask has shape {}, expected {} (batch, time) to match the input of shape {}",
        label(), mask.shape(), Shape{x.shape()[0], x.shape()[1]}, x.shape());
  }
}

State RNN::starting_state(int64_t batch, const State& initial) const {
  if (!initial.empty()) {
    // The cell indexes its state blindly (LSTM reads state[1]): check it against the cell's.
    const State expected = cell_->initial_state(batch);
    if (initial.size() != expected.size()) {
      throw_error<ShapeError>("{}: the initial state has {} tensors, the cell's state has {}",
                              label(), initial.size(), expected.size());
    }
    for (std::size_t i = 0; i < initial.size(); ++i) {
      check_defined("RNN initial state", initial[i]);
      if (initial[i].shape() != expected[i].shape()) {
        throw_error<ShapeError>("{}: initial state {} has shape {}, expected {}", label(), i,
                                initial[i].shape(), expected[i].shape());
      }
    }
    return initial;
  }
  if (opts_.stateful && !carried_.empty()) {
    if (carried_[0].shape()[0] != batch) {
      throw_error<ShapeError>(
          "{}: stateful layer got batch {} but carries state for batch {}; "
          "call reset_states() first",
          label(), batch, carried_[0].shape()[0]);
    }
    return carried_;
  }
  return cell_->initial_state(batch);
}

RNNOutput RNN::run(const Tensor& x, const State& initial, const Tensor& mask) {
  check_input(x);
  const bool masked = mask.defined();
  if (masked) check_mask(x, mask);
  // Every record of this call carries it; the steps' records also carry their index.
  TimeStepScope call;
  const int64_t batch = x.shape()[0];
  const int64_t steps = x.shape()[1];
  const int64_t features = x.shape()[2];
  cell_->begin_sequence(batch);
  // The mask is a constant: read once on the host, it becomes 0/1 slabs for the selects.
  const std::vector<double> mask_values = masked ? host_mask(mask) : std::vector<double>{};
  Tensor step_mask;
  if (masked) step_mask = time_major_mask(mask_values, batch, steps, x.dtype());
  // go_backwards with a mask reverses each sample within its length, then runs forwards.
  const bool reverse_in_place = opts_.go_backwards && masked;
  const Tensor sequence = reverse_in_place ? reversed_within_length(x, mask_values) : x;
  // Time-major and contiguous: step t reads rows [t*B, (t+1)*B).
  Tensor inputs = reshape(permute(sequence, {1, 0, 2}), {steps * batch, features});
  const bool projected = cell_->has_input_projection();
  if (projected) {
    NameScope scope("input_projection");
    try {
      inputs = cell_->project_inputs(inputs);
    } catch (const ShapeError& e) {
      // The cell saw the time-major (T*B, F) reshape: name the layer and the user's shape.
      throw ShapeError(fmt::format("{}: input of shape {}: {}", label(), x.shape(), e.what()));
    }
  }
  // The width is given, not inferred (-1): with batch 0 there is nothing to infer it from.
  inputs = reshape(inputs, {steps, batch, inputs.shape()[1]});

  // Steps where the mask is all ones (or all zeros) need no select (or no step at all): with
  // padding at one end, most steps are such, which keeps the mask's cost low.
  const std::vector<Coverage> coverage = step_coverage(mask_values, batch, steps);
  State state = starting_state(batch, initial);
  std::vector<Tensor> outputs;
  outputs.reserve(opts_.return_sequences ? steps : 0);
  for (int64_t i = 0; i < steps; ++i) {
    const int64_t t = opts_.go_backwards && !reverse_in_place ? steps - 1 - i : i;
    if (opts_.tbptt > 0 && i > 0 && i % opts_.tbptt == 0) state = detached(state);
    call.set_step(t);
    if (coverage[t] == Coverage::none) {  // every sample is masked here: nothing to compute
      if (opts_.return_sequences)
        outputs.push_back(opts_.zero_output_for_mask ? zeros_like(state[0]) : state[0]);
      continue;
    }
    State next;
    try {
      const Tensor x_t = select(inputs, 0, t);
      next = projected ? cell_->step_projected(x_t, state) : cell_->step(x_t, state);
    } catch (const ShapeError& e) {
      throw ShapeError(fmt::format("{} at time step {} (input of shape {}): {}", label(), t,
                                   x.shape(), e.what()));
    }
    if (coverage[t] == Coverage::all) {
      state = std::move(next);
    } else {
      // Keras: h_t = m_t ? h_new : h_{t-1}, per sample, for every state tensor.
      const Tensor m_t = select(step_mask, 0, t);
      for (std::size_t k = 0; k < state.size(); ++k) state[k] = where(m_t, next[k], state[k]);
      if (opts_.return_sequences && opts_.zero_output_for_mask) {
        outputs.push_back(next[0] * m_t);
        continue;
      }
    }
    if (opts_.return_sequences) outputs.push_back(state[0]);
  }
  call.set_step(TimeStep::kNoStep);
  if (opts_.stateful) carried_ = detached(state);
  if (opts_.return_state) last_state_ = state;
  Tensor output = opts_.return_sequences ? stack(outputs, 1) : state[0];
  return {std::move(output), std::move(state)};
}

Tensor RNN::forward(const Tensor& x) {
  return run(x).output;
}

Tensor RNN::forward_masked(const Tensor& x, const Tensor& mask) {
  return run(x, {}, mask).output;
}

SimpleRNN::SimpleRNN(int64_t in_features, int64_t units, RNNOptions opts, DType dtype)
    : SimpleRNN(in_features, units, opts, SimpleRNNCellOptions{.dtype = dtype}) {}

SimpleRNN::SimpleRNN(int64_t in_features, int64_t units, RNNOptions opts, SimpleRNNCellOptions cell)
    : RNN(make_cell<SimpleRNNCell>("SimpleRNN", in_features, units, cell), opts) {}

LSTM::LSTM(int64_t in_features, int64_t units, RNNOptions opts, DType dtype)
    : LSTM(in_features, units, opts, LSTMCellOptions{.dtype = dtype}) {}

LSTM::LSTM(int64_t in_features, int64_t units, RNNOptions opts, LSTMCellOptions cell)
    : RNN(make_cell<LSTMCell>("LSTM", in_features, units, cell), opts) {}

GRU::GRU(int64_t in_features, int64_t units, RNNOptions opts, DType dtype)
    : GRU(in_features, units, opts, GRUCellOptions{.dtype = dtype}) {}

GRU::GRU(int64_t in_features, int64_t units, RNNOptions opts, GRUCellOptions cell)
    : RNN(make_cell<GRUCell>("GRU", in_features, units, cell), opts) {}

}  // namespace tapegrad::nn
