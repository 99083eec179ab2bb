#include <tapegrad/nn/bidirectional.hpp>

#include <fmt/format.h>

#include <tapegrad/nn/model_config.hpp>
#include <tapegrad/nn/registry.hpp>
#include <tapegrad/ops/ops.hpp>

namespace tapegrad::nn {
namespace {

// Keras's backward layer: the forward layer's config with go_backwards flipped, new weights.
std::shared_ptr<RNN> backward_copy(const RNN& layer) {
  std::shared_ptr<Module> copy;
  try {
    copy = clone_model(layer, {{"go_backwards", !layer.options().go_backwards}});
  } catch (const ValueError& e) {
    throw_error<ValueError>(
        "Bidirectional: cannot build the backward layer as a copy of {} ({}); pass it "
        "yourself: Bidirectional(forward, backward, opts)",
        layer.type_name(), e.what());
  }
  return std::static_pointer_cast<RNN>(copy);  // load_model builds an RNN from an RNN's config
}

// x (B, T, ·) with its time axis reversed: one gather.
Tensor reversed_in_time(const Tensor& x) {
  const int64_t steps = x.shape()[1];
  std::vector<int64_t> backwards(static_cast<std::size_t>(steps));
  for (int64_t t = 0; t < steps; ++t) backwards[t] = steps - 1 - t;
  return index_select(x, 1, backwards);
}

std::size_t state_size(const RNN& layer) {
  return layer.cell().initial_state(1).size();
}

}  // namespace

std::string to_string(MergeMode mode) {
  return name_of(merge_modes(), mode);
}

Bidirectional::Bidirectional(std::shared_ptr<RNN> layer, BidirectionalOptions opts)
    : Bidirectional(layer, layer ? backward_copy(*layer) : nullptr, opts) {}

Bidirectional::Bidirectional(std::shared_ptr<RNN> forward, std::shared_ptr<RNN> backward,
                             BidirectionalOptions opts)
    : forward_(std::move(forward)), backward_(std::move(backward)), opts_(opts) {
  check_layers();
  register_module("forward_layer", forward_);
  register_module("backward_layer", backward_);
}

void Bidirectional::check_layers() const {
  if (!forward_) throw ValueError("Bidirectional: the forward layer is null");
  if (!backward_) throw ValueError("Bidirectional: the backward layer is null");
  if (forward_ == backward_) {
    throw ValueError(
        "Bidirectional: the forward and the backward layer are the same object; the backward "
        "direction needs weights of its own (leave it out and Bidirectional builds a copy)");
  }
  const RNNOptions& f = forward_->options();
  const RNNOptions& b = backward_->options();
  if (f.return_sequences != b.return_sequences || f.return_state != b.return_state) {
    throw_error<ValueError>(
        "Bidirectional: the forward layer ({}) has return_sequences={}, return_state={}, the "
        "backward layer ({}) return_sequences={}, return_state={}; they must agree",
        forward_->type_name(), f.return_sequences, f.return_state, backward_->type_name(),
        b.return_sequences, b.return_state);
  }
  if (f.go_backwards == b.go_backwards) {
    throw_error<ValueError>(
        "Bidirectional: both layers have go_backwards={}; the backward layer must read the "
        "sequence the other way (set its go_backwards to {})",
        f.go_backwards, !f.go_backwards);
  }
  const int64_t fu = forward_->cell().units(), bu = backward_->cell().units();
  if (opts_.merge != MergeMode::concat && fu != bu) {
    throw_error<ValueError>(
        "Bidirectional: merge {} needs layers of equal units, got {} (forward) and {} "
        "(backward); use merge concat or equal units",
        to_string(opts_.merge), fu, bu);
  }
}

Tensor Bidirectional::merged(const Tensor& f, const Tensor& b) const {
  switch (opts_.merge) {
    case MergeMode::concat:
      return concat({f, b}, -1);  // torch's [forward, backward]
    case MergeMode::sum:
      return f + b;
    case MergeMode::mul:
      return f * b;
    case MergeMode::ave:
      return (f + b) * 0.5;
  }
  throw ValueError("Bidirectional: unknown merge mode");
}

BidirectionalOutput Bidirectional::run(const Tensor& x, const State& initial, const Tensor& mask) {
  State forward_initial, backward_initial;
  if (!initial.empty()) {
    const std::size_t nf = state_size(*forward_), nb = state_size(*backward_);
    if (initial.size() != nf + nb) {
      throw_error<ShapeError>(
          "{}: the initial state has {} tensors, expected {} (forward layer) + {} (backward "
          "layer)",
          label(), initial.size(), nf, nb);
    }
    forward_initial.assign(initial.begin(), initial.begin() + static_cast<std::ptrdiff_t>(nf));
    backward_initial.assign(initial.begin() + static_cast<std::ptrdiff_t>(nf), initial.end());
  }
  RNNOutput f, b;
  {
    NameScope scope(forward_->label());
    f = forward_->run(x, forward_initial, mask);
  }
  {
    NameScope scope(backward_->label());
    b = backward_->run(x, backward_initial, mask);
  }
  // The backward layer emits its outputs in reading order (last step first): put them back
  // in input order so step t of both directions lines up. With a mask it read each sample's
  // valid steps backwards within their length, which the same reversal undoes.
  Tensor b_output = b.output;
  if (backward_->options().return_sequences) {
    b_output = mask.defined() ? reverse_within_length(b.output, mask) : reversed_in_time(b.output);
  }
  return {merged(f.output, b_output), std::move(f.state), std::move(b.state)};
}

Tensor Bidirectional::forward(const Tensor& x) {
  return run(x).output;
}

Tensor Bidirectional::forward_masked(const Tensor& x, const Tensor& mask) {
  return run(x, {}, mask).output;
}

State Bidirectional::last_state() const {
  State s = forward_->last_state();
  const State& b = backward_->last_state();
  s.insert(s.end(), b.begin(), b.end());
  return s;
}

std::optional<ModuleConfig> Bidirectional::config() const {
  return ModuleConfig{{"merge", to_string(opts_.merge)}};
}

}  // namespace tapegrad::nn
