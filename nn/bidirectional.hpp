// Bidirectional: an RNN layer run over the sequence both ways, as Keras's Bidirectional.
//
//   auto bi = tg::nn::Bidirectional(std::make_shared<tg::nn::LSTM>(8, 16,
//                                   tg::nn::RNNOptions{.return_sequences = true}));
//   tg::Tensor y = bi(x);  // (B, T, 32): [forward | backward] on the last axis
//
// The backward layer is a fresh copy of the forward layer's configuration (nn::clone_model,
// so its own freshly initialized weights) with go_backwards flipped, built from the layer's
// config() as nn::load_model would: a layer whose cell has no config() cannot be copied, so
// pass the backward layer yourself (Bidirectional(forward, backward, opts), Keras's
// backward_layer). With return_sequences the backward outputs are reversed back into input
// order, so step t of both directions lines up (PyTorch's bidirectional=True does the same
// and concatenates [forward, backward]). The two outputs are merged by `merge`: concat
// (default), sum, mul or ave.
//
// The children are "forward_layer" and "backward_layer" (Keras's names), so parameters read
// "forward_layer.cell.kernel"; nn::export_torch maps them onto one torch layer with
// bidirectional=True (weight_ih_l0 and weight_ih_l0_reverse, ...).
//
// Variable-length sequences: run(x, initial, mask) and forward_masked (so Sequential and fit
// pass a mask on) give both layers the mask (B, T), nonzero = valid. The backward layer then
// reads each sample's valid steps from its last to its first (RNN's go_backwards with a mask:
// reversed within the sample's length, as PyTorch's packed sequences) and its outputs are put
// back in input order by the same reversal (reverse_within_length), so with post-padding and
// zero_output_for_mask on both layers the output is PyTorch's pack_padded_sequence +
// bidirectional=True + pad_packed_sequence, zeros at the padding. Without zero_output_for_mask
// a padded position holds each direction's carried state (RNN's masking): the forward one's
// last valid output and the backward one's final state (its output at the sample's first
// step). The final states are those after each sample's own valid steps (torch's h_n).
//
// States (return_state as Keras): run() gives the forward and the backward final states; a
// State given to run() or kept by last_state() lists the forward layer's tensors, then the
// backward layer's (LSTM: {h_f, c_f, h_b, c_b}).
#pragma once

#include <memory>
#include <string>

#include <tapegrad/nn/rnn.hpp>

namespace tapegrad::nn {

enum class MergeMode { concat, sum, mul, ave };

// "concat", "sum", "mul", "ave" (Keras's merge_mode strings; nn::merge_modes()).
std::string to_string(MergeMode mode);

struct BidirectionalOptions {
  MergeMode merge = MergeMode::concat;
};

struct BidirectionalOutput {
  Tensor output;         // merged; (B, T, ·) with return_sequences, else (B, ·)
  State forward_state;   // the forward layer's final state
  State backward_state;  // the backward layer's (after reading the sequence from the end)
};

class Bidirectional : public Module {
 public:
  // The backward layer is nn::clone_model(*layer) with go_backwards flipped.
  explicit Bidirectional(std::shared_ptr<RNN> layer, BidirectionalOptions opts = {});
  // Both layers given (Keras's backward_layer): they must agree on return_sequences and
  // return_state, and differ in go_backwards.
  Bidirectional(std::shared_ptr<RNN> forward, std::shared_ptr<RNN> backward,
                BidirectionalOptions opts = {});

  Tensor forward(const Tensor& x) override;
  // `initial`: the forward layer's state tensors then the backward layer's, or {}; `mask`
  // (B, T), nonzero = valid, any float dtype, or undefined (no masking).
  BidirectionalOutput run(const Tensor& x, const State& initial = {}, const Tensor& mask = {});
  // forward with a mask: run(x, {}, mask).output.
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override;
  // The final states of the last call, forward's then backward's (kept with return_state).
  State last_state() const;

  RNN& forward_layer() const { return *forward_; }
  RNN& backward_layer() const { return *backward_; }
  const BidirectionalOptions& options() const { return opts_; }
  std::string type_name() const override { return "Bidirectional"; }
  // {"merge": "concat"}; the two layers are children with their own configs.
  std::optional<ModuleConfig> config() const override;

 private:
  void check_layers() const;
  Tensor merged(const Tensor& f, const Tensor& b) const;

  std::shared_ptr<RNN> forward_;
  std::shared_ptr<RNN> backward_;
  BidirectionalOptions opts_;
};

}  // namespace tapegrad::nn
