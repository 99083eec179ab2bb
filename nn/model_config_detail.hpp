// How nn::load_model and clone_model build a model from its config, split where the document
// meets the modules: nn/model_config.cpp reads the document (bounded parse, every value
// checked by ConfigNode) and walks its tree (ModulePlanner: depth, the parameter budget, the
// tensors the model will hold); nn/registry.cpp holds, for each built-in module, how it is
// planned from its node. Not part of the public API.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <tapegrad/nn/bidirectional.hpp>
#include <tapegrad/nn/dense.hpp>
#include <tapegrad/nn/module.hpp>
#include <tapegrad/nn/rnn.hpp>
#include <tapegrad/nn/serialize_detail.hpp>

namespace tapegrad::nn::detail {

// Throws IOError "<subject> <what>": subject is what ConfigNode::subject() gives,
// "load_model: 'model.safetensors': module '0.cell' (SimpleRNNCell)".
[[noreturn]] void fail_at(const std::string& subject, const std::string& what);

// "0.cell" from "0" and "cell": the path of a module in the model being built.
std::string module_path(const std::string& where, const std::string& name);

// One module's node of a config being read. Each read checks the entry's kind and range and
// throws IOError naming the file, the module and the entry, showing a bad value by its kind
// or quoted (never the whole of an untrusted value).
class ConfigNode {
 public:
  // `who` starts every message: "load_model: 'model.safetensors'"; `where` is the module's
  // path in the model being built ("0.cell", empty for the model itself).
  ConfigNode(const nlohmann::json& j, std::string where, const std::string& who);

  // What messages about this node start with (see fail_at).
  std::string subject() const;
  [[noreturn]] void fail(const std::string& what) const { fail_at(subject(), what); }

  const std::string& type() const { return type_; }
  const std::string& where() const { return where_; }
  const std::string& who() const { return who_; }
  bool has_config() const { return config_ != nullptr; }

  // The children as (name, node) pairs, in order.
  struct Child {
    std::string name;
    const nlohmann::json* node;
  };
  std::vector<Child> children() const;

  // A size: a whole number in [1, 2^31), required.
  int64_t size(const char* key) const;
  bool flag(const char* key, bool fallback) const;
  // A whole number >= 0, 0 when absent.
  int64_t count(const char* key) const;
  // A rate in [0, 1) (dropout), 0 when absent.
  double rate(const char* key) const;
  // "f32" or "f64", f32 when absent.
  DType dtype() const;
  // One of activations() by name, `fallback` when absent.
  Activation activation(Activation fallback) const;
  // One of merge_modes() by name, concat when absent.
  MergeMode merge_mode() const;
  RNNOptions rnn_options() const;

 private:
  const nlohmann::json* find(const char* key) const;

  const nlohmann::json& j_;
  std::string where_;
  const std::string& who_;
  std::string type_;
  const nlohmann::json* config_ = nullptr;
};

// A module read from the config but not built yet: what its parent needs to know of it, and
// how to build it. Building waits until the whole tree was read and its parameters checked
// against the file, so that a file that does not hold them costs no initialization (an
// orthogonal recurrent kernel of a few hundred units takes a second).
struct ModulePlan {
  enum class Kind { cell, rnn_layer, other };
  Kind kind;
  std::function<std::shared_ptr<Module>()> make;
};

// Walks the tree of a config, planning each module through its builder in the registry.
class ModulePlanner {
 public:
  // `who` starts every message ("load_model: 'model.safetensors'"), `function` names the
  // caller in it, `way_out` ends a message on a module that cannot be built; `values` is
  // the most parameter values the modules may ask for.
  ModulePlanner(std::string who, const char* function, std::string way_out, double values);

  // Reads the node `j` of the module at `where` (and its children), checking everything the
  // config says; the parameters of the model it describes accumulate in parameters().
  ModulePlan plan(const nlohmann::json& j, const std::string& where, int depth);

  // Sizes come from an untrusted file: a module is refused before its parameter shapes are
  // even formed if they would hold more values than the budget (the whole file and a small
  // slack; a smaller mismatch is left to the check of the tensors, whose message names the
  // tensor and both shapes).
  void charge(const ConfigNode& node, double values);
  // The module at `node` will hold parameter `name` of this dtype and shape.
  void expect(const ConfigNode& node, const char* name, DType dtype, Shape shape);

  // The parameters of the modules planned so far, as the built model will name them, in
  // its order.
  const TensorSpecs& parameters() const { return parameters_; }

 private:
  const std::string who_;
  const char* function_;
  const std::string way_out_;
  double budget_;
  TensorSpecs parameters_;
};

// How a built-in module is planned from its node (children through the planner, at depth + 1).
using PlanFromConfig = ModulePlan (*)(ModulePlanner&, const ConfigNode&, int depth);

// The builder of the built-in module named `type`, or nullptr (nn/registry.cpp).
PlanFromConfig find_built_in_module(std::string_view type);

}  // namespace tapegrad::nn::detail
