// Files that describe themselves, as Keras's do: nn::save writes the model's configuration
// beside its weights, and nn::load_model rebuilds the model from it and loads the weights.
//
//   tg::nn::save(model, "model.safetensors");
//   std::shared_ptr<tg::nn::Module> m = tg::nn::load_model("model.safetensors");
//   tg::nn::ModelFileInfo info = tg::nn::read_model_info("model.safetensors");
//   info.summary;  // "SimpleRNN(64) -> SimpleRNN(32) -> Dense(1)"
//
// The configuration is one safetensors __metadata__ entry, "model_config", holding JSON text:
//
//   {"format_version": 1, "tapegrad_version": "0.1.0", "input_features": 1,
//    "model": {"class_name": "Sequential", "config": {}, "children": [
//      {"name": "0", "class_name": "SimpleRNN",
//       "config": {"in_features": 1, "units": 64, "dtype": "f32", "return_sequences": true,
//                  "return_state": false, "go_backwards": false, "stateful": false, "tbptt": 0},
//       "children": [{"name": "cell", "class_name": "SimpleRNNCell", "config": {...}}]},
//      ...]}}
//
// Each node is one module of the tree: its type_name(), its Module::config() (null for a
// module without one) and its children in registration order. "input_features" is the last
// dimension of the model's input, from the first module that reads it: its config's
// in_features, or for a module with parameters and no such config (a user's cell) the rows
// of its "kernel" (else of its first matrix parameter), as for every built-in layer; null
// when that module tells neither. Checkpoints (nn::save_checkpoint) carry the same entry.
//
// load_model rebuilds the built-in modules, those nn::built_in_module_names() lists
// (nn/registry.hpp); a layer's cell options, such as dropout, are read from its child "cell".
// It trusts nothing in the file: malformed JSON, a config nested deeper than 136 levels,
// declaring more than 10,000 modules or holding more than 640,000 JSON values (refused while
// it is parsed), a field of the wrong type or range, or layers asking for more values than the
// file holds throw IOError naming the file and the module; messages show a bad value by its
// kind ("got an array") or, a string, through tg::quoted. A module without a config, or of a
// type it cannot build, throws IOError naming the type, the modules it builds and the way out
// (build the model in code, then nn::load). The names, shapes and dtypes of the parameters the
// config describes are checked against the file's header, with nn::load's messages, before
// any module is built, so a file that does not fit costs no initialization; the weights are
// then loaded by nn::load. Files written before configs existed have no "model_config" and
// still load with nn::load.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/core/safetensors.hpp>
#include <tapegrad/core/version.hpp>  // version(), which the config records
#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

// The metadata key of the configuration, and the version of its JSON layout.
inline constexpr const char* kModelConfigKey = "model_config";
inline constexpr int kModelConfigFormatVersion = 1;

// The "model_config" JSON text of `model` (see above).
std::string model_config_json(const Module& model);

// "SimpleRNN(64) -> SimpleRNN(32) -> Dense(1)": the one line ModelFileInfo::summary gives for
// a file, here for a model in memory (operator<< on a module prints it, nn/summary.hpp).
std::string summary_line(const Module& model);

// The last dimension of the input `model` reads, as the config records it in
// "input_features" (see above); 0 when no module tells it.
int64_t input_features(const Module& model);

// What a weights file or checkpoint says about itself, from its header alone.
struct ModelFileInfo {
  std::vector<SafetensorsEntry> tensors = {};        // every tensor, sorted by name
  std::map<std::string, std::string> metadata = {};  // every __metadata__ entry
  bool is_checkpoint = false;                        // written by save_checkpoint
  bool has_config = false;                           // holds a "model_config"
  std::string summary = {};                          // "SimpleRNN(64) -> SimpleRNN(32) -> Dense(1)"
  int64_t input_features = 0;                        // 0 when unknown
  std::string tapegrad_version = {};                 // of the tapegrad that wrote the config
};

// Reads the header of `path`; a "model_config" that is not the JSON described above throws
// IOError naming the file (a missing one is not an error: has_config is false).
ModelFileInfo read_model_info(const std::string& path);

// Rebuilds the model `path` (a weights file from nn::save) describes and loads its weights.
std::shared_ptr<Module> load_model(const std::string& path);

// A new module of the same architecture as `model`, with freshly initialized weights (Keras's
// clone_model): built from the configs of its tree as load_model builds them, the entries of
// `overrides` replacing those of the top module's config ({{"go_backwards", true}}). A module
// without a config or of a type load_model cannot build, or an override of an entry the
// config does not have, throws ValueError naming the module.
std::shared_ptr<Module> clone_model(const Module& model, const ModuleConfig& overrides = {});

}  // namespace tapegrad::nn
