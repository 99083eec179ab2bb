// tg::checkpoint: recompute a function in backward instead of keeping its intermediates, like
// torch.utils.checkpoint (its non-reentrant variant).
//
//   std::vector<tg::Tensor> y = tg::checkpoint(
//       [&](const std::vector<tg::Tensor>& in) { return std::vector{block(in[0], in[1])}; },
//       {x, h});
//
// The forward pass runs fn without recording: the tape gets one record for the whole call,
// which keeps fn's inputs and nothing fn computed from them. That record's backward runs fn
// again, recorded, from leaves standing in for the inputs, and differentiates it with a
// nested tg::grad, so backward holds one call's intermediates at a time. The gradients are
// those of fn called directly (to rounding).
//
// - Tensors that require grad which fn reads without being given them in `inputs` (the
//   parameters of the modules it calls) get their gradients as inputs do: the forward pass
//   notes every such tensor an op reads, and the record routes their gradients too.
// - The random generator's state before fn is restored for the recompute, so fn draws the
//   same numbers (dropout masks) in both passes; the generator is left as it was.
// - fn must compute the same thing twice: a recompute that reads a tensor requiring grad
//   that the forward pass did not read (other control flow, a leaf made inside fn) throws
//   AutogradError. The saved inputs and the tensors fn reads are checked for in-place
//   modification as every op's saved tensors are.
// - create_graph through a checkpoint throws AutogradError: the nested pass is not recorded.
// - fn's outputs share one dtype; they are returned as views of one buffer.
// Under NoGradGuard, checkpoint is fn(inputs): nothing will be differentiated.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

using CheckpointFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs)>;

// A tensor requiring grad that fn read without being given it; `op` is the first op that
// read it in the forward pass and `step` where that op ran (TimeStepScope).
struct CapturedRead {
  const Tensor& tensor;
  const char* op;
  TimeStep step;
};

struct CheckpointOptions {
  // The op name of the call's record, as tape prints and graph dumps show it.
  std::string name = "checkpoint";
  bool preserve_rng_state = true;
  // The message refusing create_graph, for a caller that can say better what was
  // checkpointed (the RNN names its layer and steps); else a message naming checkpoint.
  std::function<std::string()> create_graph_refusal = {};
  // Called in backward, before the recompute, for each CapturedRead: a caller whose
  // functions may read only their inputs and some known tensors throws here.
  std::function<void(const CapturedRead&)> check_captured = {};
};

std::vector<Tensor> checkpoint(CheckpointFn fn, const std::vector<Tensor>& inputs,
                               CheckpointOptions opts = {});

}  // namespace tapegrad
