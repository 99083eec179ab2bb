// Weights in PyTorch's names and layouts, both ways.
//
//   tg::nn::export_torch(model, "torch.safetensors");   // torch_module.load_state_dict(...)
//   tg::nn::import_torch(model, "torch.safetensors");   // a file torch's state_dict wrote
//
// A Dense layer is a torch.nn.Linear, an RNN layer over a built-in cell a one-layer
// torch.nn.RNN / LSTM / GRU with batch_first=True. Each tensor is named by the layer's dotted
// path in the module tree plus PyTorch's parameter name, so the reference model
// Sequential{SimpleRNN, SimpleRNN, Dense} maps onto any torch module whose children are
// named "0", "1", "2" (an nn.Sequential, or add_module("0", ...)):
//
//   tapegrad                          torch
//   0.cell.kernel (F, k*u)            0.weight_ih_l0 (k*u, F)    transposed
//   0.cell.recurrent_kernel (u, k*u)  0.weight_hh_l0 (k*u, u)    transposed
//   0.cell.bias (k*u)                 0.bias_ih_l0 (k*u)         and 0.bias_hh_l0 = zeros
//   0.cell.bias (2, 3u) (GRU)         0.bias_ih_l0 = row 0, 0.bias_hh_l0 = row 1
//   2.kernel (in, out)                2.weight (out, in)         transposed
//   2.bias (out)                      2.bias (out)               (absent without use_bias)
//
// A Bidirectional at "0" is one torch layer "0" with bidirectional=True: its forward_layer
// gives 0.weight_ih_l0, ..., its backward_layer 0.weight_ih_l0_reverse, ... (both layers of
// one kind and size, as torch's are).
//
// Gate blocks: LSTM i, f, c, o is torch's i, f, g, o; the GRU's z, r, h becomes torch's
// r, z, n (the first two blocks swap places, in every weight and bias). Keras's SimpleRNN and
// LSTM have one bias where torch has two that are always added, so export writes bias_hh as
// zeros and import adds bias_ih + bias_hh into the one bias: the model computes what torch
// does, and a file exported again holds the sum in bias_ih.
//
// What a state_dict does not hold is not checked: torch applies a Dense layer's activation as
// a module of its own without parameters (nn.Tanh), and return_sequences, go_backwards and
// the like are how a forward uses the layer, not its weights. What no torch layer can compute
// with these weights throws ValueError naming the layer: a user-written cell, a SimpleRNN
// activation other than tanh and relu (torch.nn.RNN's two nonlinearities), a module of
// another kind that holds parameters, a parameter a subclass added to a layer.
//
// import_torch validates like nn::load: every expected name present, no other, each dtype and
// shape equal to what the model needs in torch's layout (checked on the header before any
// data is read), else a tg::Error naming the file, the tensor and both shapes; the model is
// changed only after everything is checked and converted. export_torch writes atomically.
#pragma once

#include <map>
#include <string>

#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

// Writes the parameters of `module` to `path` in PyTorch's names and layouts (see above),
// with `metadata` as the file's __metadata__ (`tapegrad export` keeps the model config and
// train's scaler and window there).
void export_torch(const Module& module, const std::string& path,
                  const std::map<std::string, std::string>& metadata = {});

// Reads a file in PyTorch's names and layouts (a torch state_dict saved as safetensors) into
// the parameters of `module`, after checking all of it; see above.
void import_torch(Module& module, const std::string& path);

}  // namespace tapegrad::nn
