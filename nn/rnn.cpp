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

}  // namespace

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

RNNOutput RNN::run(const Tensor& x, const State& initial) {
  check_input(x);
  // Every record of this call carries it; the steps' records also carry their index.
  TimeStepScope call;
  const int64_t batch = x.shape()[0];
  const int64_t steps = x.shape()[1];
  const int64_t features = x.shape()[2];
  cell_->begin_sequence(batch);
  // Time-major and contiguous: step t reads rows [t*B, (t+1)*B).
  Tensor inputs = reshape(permute(x, {1, 0, 2}), {steps * batch, features});
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

  State state = starting_state(batch, initial);
  std::vector<Tensor> outputs;
  outputs.reserve(opts_.return_sequences ? steps : 0);
  for (int64_t i = 0; i < steps; ++i) {
    const int64_t t = opts_.go_backwards ? steps - 1 - i : i;
    if (opts_.tbptt > 0 && i > 0 && i % opts_.tbptt == 0) state = detached(state);
    call.set_step(t);
    try {
      const Tensor x_t = select(inputs, 0, t);
      state = projected ? cell_->step_projected(x_t, state) : cell_->step(x_t, state);
    } catch (const ShapeError& e) {
      throw ShapeError(fmt::format("{} at time step {} (input of shape {}): {}", label(), t,
                                   x.shape(), e.what()));
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

SimpleRNN::SimpleRNN(int64_t in_features, int64_t units, RNNOptions opts, DType dtype)
    : RNN(make_cell<SimpleRNNCell>("SimpleRNN", in_features, units,
                                   SimpleRNNCellOptions{.dtype = dtype}),
          opts) {}

LSTM::LSTM(int64_t in_features, int64_t units, RNNOptions opts, DType dtype)
    : RNN(make_cell<LSTMCell>("LSTM", in_features, units, LSTMCellOptions{.dtype = dtype}), opts) {}

GRU::GRU(int64_t in_features, int64_t units, RNNOptions opts, DType dtype)
    : RNN(make_cell<GRUCell>("GRU", in_features, units, GRUCellOptions{.dtype = dtype}), opts) {}

}  // namespace tapegrad::nn
