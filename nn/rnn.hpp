// RNN: unrolls any Cell over the time axis of a (batch, time, features) input.
//
// The input is made time-major and contiguous once ((T, B, F)), so each step reads a dense
// (B, F) slab. If the cell has an input projection, each block of steps (about 2048 rows; all
// T steps when T*B is smaller) is projected by one GEMM of (n*B, F) x (F, k*units) before
// its steps; otherwise each step calls cell.step(x_t, state).
// Each call runs in a TimeStepScope that marks its steps, so the tape, graph dumps and errors
// say which layer call and step an op belongs to (as fields of the record, not in its scope),
// and each step marks the record of its h_t (mark_step_state), which reports read as the
// state the step hands on. No backward is written anywhere: BPTT is the engine's reverse walk
// over the unrolled steps' records.
//
// Options follow Keras: return_sequences (B, T, units) instead of h_T; go_backwards reads
// the sequence from the end (outputs in processing order); stateful keeps the final state
// (detached) as the next call's initial state until reset_states(); tbptt = k detaches the
// state every k steps (truncated BPTT); return_state keeps the final state in last_state();
// checkpoint_every = k trades a second forward pass for memory (below).
//
// Variable-length sequences: run(x, initial, mask) with a mask (B, T), nonzero = valid step,
// follows Keras's masking. At a masked step the new state is discarded, h_t = m_t ? h_new :
// h_{t-1} (one vectorized select per state tensor, no per-sample loop), so each sample's
// final state is the one after its last valid step. The sequence output at a masked step is
// the carried state (the last valid output repeated), or zeros with zero_output_for_mask.
// With go_backwards each sample's valid steps are reversed in place (padding stays where it
// is, as PyTorch's packed sequences do): with post-padding sample b reads x[L_b-1] .. x[0]
// and its outputs, in processing order, fill positions 0 .. L_b-1. Sequential passes a mask
// to its layers (Module::forward_masked) and fit/evaluate/predict take one in their options.
//
// Checkpointing through time: checkpoint_every = k splits the steps (in processing order)
// into segments of k, and runs each through tg::checkpoint (autograd/checkpoint.hpp): its
// forward runs the steps without recording and keeps only the segment's inputs (its input
// state, its raw input rows, since the input projection is done per segment, inside it, so
// no (T*B, k*units) projection is kept, and its mask rows); its backward runs the same steps
// again (the loop body is shared), recorded in the same layer call and time steps, and
// differentiates them in a nested pass: the gradients are those of full BPTT (in f64 to
// rounding). The layer only cuts the steps into segments. The forward keeps O(T/k) states
// and the backward O(k) steps of records at a time (k ~ sqrt(T) balances the two), for one
// more forward pass in time. Measured by tools/bench_checkpoint (T = 10,000, B = 8, units
// 64, k = 100): peak memory 1/20 (SimpleRNN) and 1/50 (LSTM) of full BPTT's; time 0.6-0.7x
// (SimpleRNN) and 0.7-1.5x (LSTM; runs on a loaded machine): the forward pass without
// recording is ~3x faster than the recorded one, and the recompute works on a segment's
// records while they are in cache.
// Every option works with it: go_backwards, masks, return_sequences, return_state, stateful
// and tbptt (the recompute cuts at the same steps).
// Limits: create_graph through a checkpointed layer throws AutogradError (use
// checkpoint_every = 0 for higher derivatives). The cell's step may read, of the tensors
// that require grad, its input, its state and its registered parameters only: backward
// throws AutogradError naming the op and step that read another one (a cell's trainable
// tensors are its parameters). The recompute needs the cell's per-sequence state (dropout
// masks) of the forward pass: if the layer ran again before backward, it draws them again
// from the generator state saved before that call's begin_sequence, which assumes that
// begin_sequence draws from default_generator() only and that no other layer drives the
// same cell.
#pragma once

#include <memory>
#include <optional>
#include <utility>

#include <tapegrad/nn/cell.hpp>
#include <tapegrad/nn/cells.hpp>

namespace tapegrad::nn {

struct RNNOptions {
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool stateful = false;
  int64_t tbptt = 0;  // 0: full BPTT
  // With a mask: the sequence output at masked steps is zero instead of the carried state.
  bool zero_output_for_mask = false;
  // Checkpointing through time: keep only every k-th state in the forward pass and
  // recompute each segment of k steps during backward (0: off; see the top of this file).
  int64_t checkpoint_every = 0;
};

struct RNNOutput {
  Tensor output;  // (B, T, units) with return_sequences, else (B, units)
  State state;    // the final state
};

class RNN : public Module {
 public:
  RNN(std::shared_ptr<Cell> cell, RNNOptions opts = {});

  Tensor forward(const Tensor& x) override;
  // The output and the final state; `initial` overrides the cell's initial state ({}: the
  // cell's); `mask` (B, T), nonzero = valid, any float dtype, skips the masked steps.
  RNNOutput run(const Tensor& x, const State& initial = {}, const Tensor& mask = {});
  // forward with a mask: run(x, {}, mask).output.
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override;
  // The final state of the last call (kept when return_state or stateful is set).
  const State& last_state() const { return last_state_; }
  void reset_states() { carried_.clear(); }
  // What calls leave in the layer: the state a stateful layer carries on and the last call's
  // final state. A call made only to look at the layer (Module::summary's dummy batch) takes
  // them before and puts them back after.
  struct Leftovers {
    State carried, last;
  };
  Leftovers leftovers() const { return {carried_, last_state_}; }
  void restore(Leftovers kept) {
    carried_ = std::move(kept.carried);
    last_state_ = std::move(kept.last);
  }

  Cell& cell() const { return *cell_; }
  const RNNOptions& options() const { return opts_; }
  std::string type_name() const override { return "RNN"; }
  // The options; the cell is a child and gives its own config.
  std::optional<ModuleConfig> config() const override;

 private:
  State starting_state(int64_t batch, const State& initial) const;
  void check_input(const Tensor& x) const;
  void check_mask(const Tensor& x, const Tensor& mask) const;

  std::shared_ptr<Cell> cell_;
  RNNOptions opts_;
  State carried_;     // stateful: the state handed from one call to the next
  State last_state_;  // return_state
  // The call (TimeStep::call) the cell last ran begin_sequence for; checkpointed segments
  // recomputed in backward compare it with their own call's.
  std::shared_ptr<std::uint64_t> cell_sequence_ = std::make_shared<std::uint64_t>(0);
};

// x (B, T, ·) with each sample's valid steps (mask (B, T), nonzero = valid) reversed in place,
// masked steps left where they are: the order go_backwards reads a masked batch in (PyTorch's
// packed sequences). It is its own inverse, so it also puts outputs read that way back in
// input order (Bidirectional). One index_select of the (B*T, ·) rows: differentiable.
Tensor reverse_within_length(const Tensor& x, const Tensor& mask);

// RNN over the built-in cells, named like Keras's layers. The cell's options (dropout,
// recurrent_dropout, SimpleRNN's activation, LSTM's unit_forget_bias, the dtype) go in the
// last argument, as Keras puts them on the layer (LSTM(32, dropout=0.2)):
//
//   tg::nn::LSTM(8, 16, {.return_sequences = true}, {.dropout = 0.2, .recurrent_dropout = 0.1})
//   tg::nn::LSTM(8, 16, {}, tg::f64)   // just the dtype: the shorter form
//
// Either builds the same cell as RNN(std::make_shared<LSTMCell>(8, 16, cell_options), opts).
// The layer's config keeps the RNN options; the cell's options are in its child "cell"'s
// config, from which nn::load_model and clone_model (so Bidirectional) rebuild them.
class SimpleRNN : public RNN {
 public:
  SimpleRNN(int64_t in_features, int64_t units, RNNOptions opts = {}, DType dtype = f32);
  SimpleRNN(int64_t in_features, int64_t units, RNNOptions opts, SimpleRNNCellOptions cell);
  std::string type_name() const override { return "SimpleRNN"; }
  std::optional<ModuleConfig> config() const override;
};

class LSTM : public RNN {
 public:
  LSTM(int64_t in_features, int64_t units, RNNOptions opts = {}, DType dtype = f32);
  LSTM(int64_t in_features, int64_t units, RNNOptions opts, LSTMCellOptions cell);
  std::string type_name() const override { return "LSTM"; }
  std::optional<ModuleConfig> config() const override;
};

class GRU : public RNN {
 public:
  GRU(int64_t in_features, int64_t units, RNNOptions opts = {}, DType dtype = f32);
  GRU(int64_t in_features, int64_t units, RNNOptions opts, GRUCellOptions cell);
  std::string type_name() const override { return "GRU"; }
  std::optional<ModuleConfig> config() const override;
};

}  // namespace tapegrad::nn
