// Saving and loading models and training checkpoints as safetensors files.
//
//   tg::nn::save(model, "model.safetensors");      // names as named_parameters() gives them
//   tg::nn::load(model, "model.safetensors");      // validated in full, then copied in place
//
//   tg::nn::save_checkpoint("ckpt.safetensors", model, opt, {.epoch = 5});
//   tg::nn::CheckpointInfo info = tg::nn::load_checkpoint("ckpt.safetensors", model, opt);
//   for (int epoch = info.epoch; epoch < 10; ++epoch) { ... }
//
// A weights file holds one tensor per parameter ("0.cell.kernel", "2.bias", ...) and nothing
// else, so any safetensors reader (PyTorch, JAX, Keras) opens it. Its __metadata__ holds the
// model's configuration ("model_config", nn/model_config.hpp: what nn::load_model rebuilds
// the model from) and any entries the caller adds, such as how the training data was scaled.
//
// A checkpoint is one safetensors file with
//   "model.<parameter name>"   every parameter of the model,
//   "optimizer.<key>"          every entry of Optimizer::state_dict() ("step", "lr", slots),
//   __metadata__               "format" = "tapegrad.checkpoint", "format_version" = "1",
//                              "epoch" (epochs completed), "rng_state" (the default
//                              generator's state), "extra.<key>" for CheckpointInfo::extra
//                              and "model_config" as in a weights file.
//
// Loading trusts nothing: the header is checked against the model (every parameter present,
// no unknown tensor, same dtype, same shape) before any tensor data is read, the data is read
// and checked again, the optimizer state and the generator state are validated, and only then
// is anything changed. Any mismatch throws a tg::Error subclass (IOError, ShapeError,
// DTypeError, ValueError) naming the file and the tensor, and leaves the model, optimizer and
// generator exactly as they were. Values are copied into the existing parameter storage, so
// every handle to a parameter (an optimizer's, a layer's member) sees them.
//
// Writes are atomic (save_safetensors writes a temporary file and renames it), so a crash
// while saving a checkpoint never destroys the previous one.
#pragma once

#include <map>
#include <string>

#include <tapegrad/nn/module.hpp>
#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::nn {

// Writes every parameter of `model` to `path` (atomically), with the model's configuration
// and `metadata` (free-form strings; "model_config" is reserved) in the file's __metadata__.
void save(const Module& model, const std::string& path,
          const std::map<std::string, std::string>& metadata = {});

// Reads `path` into the parameters of `model`; see above for what is checked first.
void load(Module& model, const std::string& path);

struct CheckpointInfo {
  int epoch = 0;                                  // epochs completed when the checkpoint was made
  std::map<std::string, std::string> extra = {};  // free-form strings kept with the checkpoint
};

// The metadata 'format' of a checkpoint, and the format version written by save_checkpoint
// and accepted by load_checkpoint.
inline constexpr const char* kCheckpointFormat = "tapegrad.checkpoint";
inline constexpr int kCheckpointFormatVersion = 1;

// Writes model parameters, optimizer state, `info` and the default generator's state.
void save_checkpoint(const std::string& path, const Module& model, const optim::Optimizer& opt,
                     const CheckpointInfo& info);

// Validates the whole checkpoint against `model` and `opt`, then restores the parameters,
// the optimizer state and the default generator's state, and returns the stored info.
CheckpointInfo load_checkpoint(const std::string& path, Module& model, optim::Optimizer& opt);

// The info of a checkpoint (its metadata, validated) without reading any tensor: lets a
// program rebuild the model a checkpoint was made with before loading it.
CheckpointInfo read_checkpoint_info(const std::string& path);

}  // namespace tapegrad::nn
