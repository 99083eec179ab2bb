// The models and optimizers the fuzz targets load into, shared with the seed generator so
// the seeds fit the targets exactly.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace fuzz {

// The README's reference model: SimpleRNN(1, 64, return_sequences) -> SimpleRNN(64, 32) ->
// Dense(32, 1), initialized from tg::manual_seed(0).
tapegrad::nn::Sequential reference_model();

// The model of the checkpoint target: SimpleRNN(1, 3) -> Dense(3, 1), from manual_seed(0).
// Small on purpose, so that a checkpoint with its optimizer state is a seed of a few kB.
tapegrad::nn::Sequential checkpoint_model();

// The models of the model_config target, one per set of reference tensors: between them
// every module kind load_model builds, with options off their defaults. `input_features` is
// the last dimension of their input.
struct ConfigModel {
  std::shared_ptr<tapegrad::nn::Module> model;
  int64_t input_features;
};
std::vector<ConfigModel> config_models();

// The optimizers a checkpoint can be made with, by the names `tapegrad train --optimizer`
// uses (and stores in the checkpoint's metadata "extra.optimizer"). Options that decide the
// slots (momentum, centered) are set so that every kind of slot exists.
const std::vector<std::string>& optimizer_names();
// Throws tg::ValueError for a name not in optimizer_names().
std::unique_ptr<tapegrad::optim::Optimizer> make_optimizer(const std::string& name,
                                                           const tapegrad::nn::Module& model);

// One training step of `model` (the checkpoint model) on fixed data, so that `opt` holds
// slots and a step count, as it does in any checkpoint made during training.
void train_one_step(tapegrad::nn::Module& model, tapegrad::optim::Optimizer& opt);

}  // namespace fuzz
