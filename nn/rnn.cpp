#include <tapegrad/nn/rnn.hpp>

#include <algorithm>
#include <string>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/autograd/checkpoint.hpp>
#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/core/denormal.hpp>
#include <tapegrad/core/random.hpp>

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

// One layer call's time loop: what each step reads and does. The plain loop runs all steps
// through it; a checkpointed call runs each segment through it twice (unrecorded in the
// forward pass, recorded again in backward), so the two cannot drift apart.
struct Unroll {
  std::shared_ptr<Cell> cell;
  RNNOptions opts;
  std::string layer;  // the layer's label, for messages
  Shape input_shape;  // the user's input, for messages
  int64_t steps = 0;
  int64_t batch = 0;
  bool projected = false;
  bool backwards_in_time = false;  // go_backwards without a mask: step i reads time T-1-i
  std::vector<Coverage> coverage;
  TimeStep call;  // the layer call, which a recomputing segment re-enters

  int64_t time_of(int64_t i) const { return backwards_in_time ? steps - 1 - i : i; }
  // Every sample is masked at every step of [begin, end) (processing order).
  bool all_masked(int64_t begin, int64_t end) const {
    for (int64_t i = begin; i < end; ++i) {
      if (coverage[time_of(i)] != Coverage::none) return false;
    }
    return true;
  }

  // The time steps [lo, hi) read by the steps [begin, end) of processing order.
  std::pair<int64_t, int64_t> time_range(int64_t begin, int64_t end) const {
    return backwards_in_time ? std::pair{steps - end, steps - begin} : std::pair{begin, end};
  }

  // The cell's input for n time steps from their raw time-major rows (n*B, F): (n, B, W),
  // through the cell's input projection if it has one (one GEMM for all n steps).
  Tensor cell_inputs(const Tensor& raw, int64_t n) const {
    Tensor rows = raw;
    if (projected) {
      NameScope scope("input_projection");
      try {
        rows = cell->project_inputs(rows);
      } catch (const ShapeError& e) {
        // The cell saw the time-major (T*B, F) reshape: name the layer and the user's shape.
        throw ShapeError(fmt::format("{}: input of shape {}: {}", layer, input_shape, e.what()));
      }
    }
    // The width is given, not inferred (-1): with batch 0 there is nothing to infer it from.
    return reshape(rows, {n, batch, rows.shape()[1]});
  }

  // The raw time-major rows (n*B, F) and the mask rows (n, B, 1; undefined without a mask)
  // of the steps [begin, end) of processing order.
  Tensor raw_rows(const Tensor& raw, int64_t begin, int64_t end) const {
    const auto [lo, hi] = time_range(begin, end);
    return lo == 0 && hi == steps ? raw : slice(raw, 0, lo * batch, hi * batch);
  }
  Tensor mask_rows(const Tensor& mask, int64_t begin, int64_t end) const {
    const auto [lo, hi] = time_range(begin, end);
    return !mask.defined() || (lo == 0 && hi == steps) ? mask : slice(mask, 0, lo, hi);
  }

  // Steps per input projection: the projection of a block of steps is one GEMM of about
  // kProjectionRows rows, enough for BLAS to run near its peak, while the projection and its
  // gradient stay small and their buffers are reused from block to block. A whole sequence
  // at once would keep both for all steps: 2 x 105 MB for an LSTM(512) over 100 steps of
  // batch 128.
  static constexpr int64_t kProjectionRows = 2048;
  int64_t projection_block() const {
    return projected ? std::max<int64_t>(1, kProjectionRows / std::max<int64_t>(batch, 1)) : steps;
  }

  // Steps [begin, end) of processing order. `rows` (n, B, W) and `mask` (n, B, 1; undefined
  // without a mask) hold the time steps from `first_time` on.
  struct StepInputs {
    Tensor rows;
    Tensor mask;
    int64_t first_time = 0;
  };
  void run_steps(int64_t begin, int64_t end, const StepInputs& in, State& state,
                 std::vector<Tensor>& outputs, TimeStepScope& scope) const {
    for (int64_t i = begin; i < end; ++i) step(i, in, state, outputs, scope);
  }

  // Every step, projecting the inputs block by block (projection_block).
  void run_all(const Tensor& raw, const Tensor& mask, State& state, std::vector<Tensor>& outputs,
               TimeStepScope& scope) const {
    for (int64_t begin = 0; begin < steps; begin += projection_block()) {
      const int64_t end = std::min(steps, begin + projection_block());
      const StepInputs in{cell_inputs(raw_rows(raw, begin, end), end - begin),
                          mask_rows(mask, begin, end), time_range(begin, end).first};
      run_steps(begin, end, in, state, outputs, scope);
    }
  }

  void step(int64_t i, const StepInputs& in, State& state, std::vector<Tensor>& outputs,
            TimeStepScope& scope) const {
    const int64_t t = time_of(i);
    if (opts.tbptt > 0 && i > 0 && i % opts.tbptt == 0) state = detached(state);
    scope.set_step(t);
    if (coverage[t] == Coverage::none) {  // every sample is masked here: nothing to compute
      if (opts.return_sequences)
        outputs.push_back(opts.zero_output_for_mask ? zeros_like(state[0]) : state[0]);
      return;
    }
    State next;
    try {
      const Tensor x_t = select(in.rows, 0, t - in.first_time);
      next = projected ? cell->step_projected(x_t, state) : cell->step(x_t, state);
    } catch (const ShapeError& e) {
      throw ShapeError(fmt::format("{} at time step {} (input of shape {}): {}", layer, t,
                                   input_shape, e.what()));
    }
    Tensor m_t;
    if (coverage[t] == Coverage::all) {
      state = next;
    } else {
      // Keras: h_t = m_t ? h_new : h_{t-1}, per sample, for every state tensor.
      m_t = select(in.mask, 0, t - in.first_time);
      for (std::size_t k = 0; k < state.size(); ++k) state[k] = where(m_t, next[k], state[k]);
    }
    // What reports read as the state this step hands on, in whatever order it was made.
    mark_step_state(state[0]);
    if (!opts.return_sequences) return;
    outputs.push_back(m_t.defined() && opts.zero_output_for_mask ? next[0] * m_t : state[0]);
  }
};

// ---- Checkpointing through time (RNNOptions::checkpoint_every) ----

// What the cell's per-sequence state (its dropout masks) was drawn from, so a segment
// recomputed after the layer was called again can draw the same state again.
struct SequenceReplay {
  Generator generator;  // default_generator() just before begin_sequence
  bool training = true;
  std::uint64_t call = 0;
  std::shared_ptr<std::uint64_t> cell_sequence;  // the call the cell began a sequence for last
};

// For the life of a segment's run: the cell in the mode, and with the per-sequence state, of
// the layer call the segment belongs to (nothing to do unless backward recomputes it after
// the layer ran again).
class SequenceRestored {
 public:
  SequenceRestored(Cell& cell, const SequenceReplay& replay, int64_t batch)
      : cell_(cell), training_(cell.is_training()) {
    if (training_ != replay.training) cell_.train(replay.training);
    if (*replay.cell_sequence == replay.call) return;
    Generator& gen = default_generator();
    const Generator now = gen;
    gen = replay.generator;
    cell_.begin_sequence(batch);
    gen = now;
    *replay.cell_sequence = replay.call;
  }
  ~SequenceRestored() {
    if (cell_.is_training() != training_) cell_.train(training_);
  }
  SequenceRestored(const SequenceRestored&) = delete;
  SequenceRestored& operator=(const SequenceRestored&) = delete;

 private:
  Cell& cell_;
  bool training_;
};

// What the segments of one checkpointed call share. A segment is one tg::checkpoint of the
// function `run` over the inputs [state tensors..., raw rows (n*B, F), mask rows (n, B, 1) if
// masked]; the cell's parameters are read from the cell, and checkpoint routes their
// gradients.
struct Checkpointed {
  Unroll unroll;
  std::size_t state_size = 0;
  bool masked = false;
  SequenceReplay replay;

  // The steps [begin, end) from a segment's inputs: the final state, then with
  // return_sequences the segment's outputs (n, B, units). The forward pass and backward's
  // recompute both run it, in the layer call, step by step.
  std::vector<Tensor> run(int64_t begin, int64_t end, const std::vector<Tensor>& inputs) const {
    TimeStepScope scope(unroll.call);
    SequenceRestored sequence(*unroll.cell, replay, unroll.batch);
    State state(inputs.begin(), inputs.begin() + static_cast<std::ptrdiff_t>(state_size));
    const Unroll::StepInputs in{unroll.cell_inputs(inputs[state_size], end - begin),
                                masked ? inputs[state_size + 1] : Tensor{},
                                unroll.time_range(begin, end).first};
    std::vector<Tensor> outputs;
    unroll.run_steps(begin, end, in, state, outputs, scope);
    if (!outputs.empty()) state.push_back(stack(outputs, 0));
    return state;
  }

  std::string create_graph_refusal(int64_t begin, int64_t end) const {
    return fmt::format(
        "{}: create_graph is not supported through a layer with checkpoint_every = {} (the "
        "backward of steps {}..{} recomputes them with tg::checkpoint, which differentiates "
        "them in a nested pass that is not recorded); use checkpoint_every = 0 for "
        "higher-order derivatives",
        unroll.layer, unroll.opts.checkpoint_every, unroll.time_of(begin), unroll.time_of(end - 1));
  }

  // The cell's trainable tensors are its parameters (what optimizers, save and gradcheck
  // see): a checkpointed layer refuses a cell step that reads another tensor requiring grad.
  void check_captured(const CapturedRead& read) const {
    const std::vector<Tensor> parameters = unroll.cell->parameters();
    if (std::any_of(parameters.begin(), parameters.end(),
                    [&](const Tensor& p) { return p.impl_ptr() == read.tensor.impl_ptr(); })) {
      return;
    }
    throw_error<AutogradError>(
        "{}: with checkpoint_every = {}, the cell's {} {} reads a tensor of shape {} that "
        "requires grad but is neither the step's input or state nor a parameter of the cell. "
        "Register it with register_parameter, or use checkpoint_every = 0",
        unroll.layer, unroll.opts.checkpoint_every, read.op,
        read.step.in_step() ? fmt::format("at time step {}", read.step.index)
                            : std::string("in its input projection"),
        read.tensor.shape());
  }
};

// One segment, steps [begin, end), checkpointed. Returns the final state; appends the
// segment's outputs (n, B, units) to `pieces`.
State checkpointed_segment(const std::shared_ptr<const Checkpointed>& plan, int64_t begin,
                           int64_t end, const Tensor& raw, const Tensor& mask, const State& state,
                           std::vector<Tensor>& pieces, TimeStepScope& scope) {
  const Unroll& unroll = plan->unroll;
  std::vector<Tensor> inputs = state;
  inputs.push_back(unroll.raw_rows(raw, begin, end));
  if (plan->masked) inputs.push_back(unroll.mask_rows(mask, begin, end));
  // The segment's records carry its last step: they hand on that step's state.
  scope.set_step(unroll.time_of(end - 1));
  State out = checkpoint(
      [plan, begin, end](const std::vector<Tensor>& in) { return plan->run(begin, end, in); },
      inputs,
      {.name = "rnn_checkpoint",
       .create_graph_refusal = [plan, begin,
                                end] { return plan->create_graph_refusal(begin, end); },
       .check_captured = [plan](const CapturedRead& read) { plan->check_captured(read); }});
  if (unroll.opts.return_sequences) {
    pieces.push_back(std::move(out.back()));
    out.pop_back();
  }
  mark_step_state(out[0]);
  return out;
}

// A segment whose steps are all masked computes nothing, as without checkpointing: the
// state passes through, and its outputs depend on the state alone. (As a checkpointed
// Function, they would depend on the parameters too, and a fully masked batch would
// backpropagate "successfully" to nothing instead of failing as full BPTT does.)
void masked_segment(const Unroll& unroll, int64_t begin, int64_t end, State& state,
                    std::vector<Tensor>& pieces, TimeStepScope& scope) {
  std::vector<Tensor> outputs;
  unroll.run_steps(begin, end, {}, state, outputs, scope);
  if (!outputs.empty()) pieces.push_back(stack(outputs, 0));
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
  if (opts_.checkpoint_every < 0) {
    throw_error<ValueError>("RNN: checkpoint_every must be >= 0 (0: off), got {}",
                            opts_.checkpoint_every);
  }
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
  // A long unroll's states can decay into subnormals, which slow every op on them.
  const FlushDenormalScope flush;
  const int64_t batch = x.shape()[0];
  const int64_t steps = x.shape()[1];
  const int64_t features = x.shape()[2];
  const bool checkpointing = opts_.checkpoint_every > 0;
  // A checkpointed segment recomputed after a later call draws this call's dropout masks
  // again from the generator's state before begin_sequence.
  SequenceReplay replay{.generator = default_generator(),
                        .training = cell_->is_training(),
                        .call = TimeStepScope::current().call,
                        .cell_sequence = cell_sequence_};
  cell_->begin_sequence(batch);
  *cell_sequence_ = replay.call;
  // The mask is a constant: read once on the host, it becomes 0/1 slabs for the selects.
  const std::vector<double> mask_values = masked ? host_mask(mask) : std::vector<double>{};
  Tensor step_mask;
  if (masked) step_mask = time_major_mask(mask_values, batch, steps, x.dtype());
  // go_backwards with a mask reverses each sample within its length, then runs forwards.
  const bool reverse_in_place = opts_.go_backwards && masked;
  const Tensor sequence = reverse_in_place ? reversed_within_length(x, mask_values) : x;
  // Time-major and contiguous: step t reads rows [t*B, (t+1)*B).
  const Tensor raw = reshape(permute(sequence, {1, 0, 2}), {steps * batch, features});
  // Steps where the mask is all ones (or all zeros) need no select (or no step at all): with
  // padding at one end, most steps are such, which keeps the mask's cost low.
  Unroll unroll{.cell = cell_,
                .opts = opts_,
                .layer = label(),
                .input_shape = x.shape(),
                .steps = steps,
                .batch = batch,
                .projected = cell_->has_input_projection(),
                .backwards_in_time = opts_.go_backwards && !reverse_in_place,
                .coverage = step_coverage(mask_values, batch, steps),
                .call = TimeStepScope::current()};

  State state = starting_state(batch, initial);
  // With return_sequences, the outputs: per step, or per segment when checkpointing.
  std::vector<Tensor> outputs;
  if (checkpointing) {
    const auto plan =
        std::make_shared<const Checkpointed>(Checkpointed{.unroll = std::move(unroll),
                                                          .state_size = state.size(),
                                                          .masked = masked,
                                                          .replay = std::move(replay)});
    for (int64_t begin = 0; begin < steps; begin += opts_.checkpoint_every) {
      const int64_t end = std::min(steps, begin + opts_.checkpoint_every);
      if (plan->unroll.all_masked(begin, end)) {
        masked_segment(plan->unroll, begin, end, state, outputs, call);
      } else {
        state = checkpointed_segment(plan, begin, end, raw, step_mask, state, outputs, call);
      }
    }
  } else {
    outputs.reserve(opts_.return_sequences ? steps : 0);
    unroll.run_all(raw, step_mask, state, outputs, call);
  }
  call.set_step(TimeStep::kNoStep);
  Tensor output = state[0];
  if (opts_.return_sequences) {
    // Stored time-major, (B, T, units) as a view: a recurrent layer above reads it back
    // time-major without a copy.
    output = permute(checkpointing ? concat(outputs, 0) : stack(outputs, 0), {1, 0, 2});
  }
  if (opts_.stateful) carried_ = detached(state);
  if (opts_.return_state) last_state_ = state;
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

namespace {

ModuleConfig rnn_options_config(const RNNOptions& o) {
  return {{"return_sequences", o.return_sequences},
          {"return_state", o.return_state},
          {"go_backwards", o.go_backwards},
          {"stateful", o.stateful},
          {"tbptt", o.tbptt},
          {"zero_output_for_mask", o.zero_output_for_mask},
          {"checkpoint_every", o.checkpoint_every}};
}

// A built-in layer: its cell's sizes and the RNN options (the cell's own options are in the
// config of its child "cell").
ModuleConfig built_in_layer_config(const RNN& layer) {
  ModuleConfig c = static_cast<const GatedCell&>(layer.cell()).sizes_config();
  c.merge(rnn_options_config(layer.options()));
  return c;
}

}  // namespace

std::optional<ModuleConfig> RNN::config() const {
  return rnn_options_config(opts_);
}
std::optional<ModuleConfig> SimpleRNN::config() const {
  return built_in_layer_config(*this);
}
std::optional<ModuleConfig> LSTM::config() const {
  return built_in_layer_config(*this);
}
std::optional<ModuleConfig> GRU::config() const {
  return built_in_layer_config(*this);
}

}  // namespace tapegrad::nn
