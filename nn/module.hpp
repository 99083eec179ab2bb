// Modules: objects that own parameters and child modules, registered by name.
//
//   struct Net : tg::nn::Module {
//     Net() : w_(register_parameter("kernel", tg::nn::init::glorot_uniform({4, 8}))) {}
//     tg::Tensor forward(const tg::Tensor& x) override { return tg::matmul(x, w_); }
//     tg::Tensor w_;
//   };
//
// named_parameters() walks the tree depth first in registration order and joins names with
// dots ("0.cell.kernel"), so the names match Keras/PyTorch weights and safetensors files.
// A parameter is a leaf Tensor held by handle: the module's member and the registry share
// one TensorImpl, so to(dtype) and load() change the data in place and every handle sees it.
// Calling a module opens a NameScope with its label ("0:SimpleRNN"), which tape prints,
// graph dumps and error messages show.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/core/tensor.hpp>
#include <tapegrad/optim/params.hpp>

namespace tapegrad::nn {

// A module's constructor arguments and options as plain values (Keras's get_config), such as
// {"in_features": 32, "units": 1, "activation": "linear"}. nn::save writes the configs of the
// whole module tree into the weights file and nn::load_model rebuilds the model from them
// (nn/model_config.hpp).
using ConfigValue = std::variant<bool, int64_t, double, std::string>;
using ModuleConfig = std::map<std::string, ConfigValue>;

class Module {
 public:
  virtual ~Module() = default;

  // The computation; called through operator(), which adds the name scope.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x);
  // The computation given a mask (B, T) of valid time steps (nonzero = valid). Recurrent
  // layers skip the masked steps and Sequential hands the mask on; by default the mask is
  // ignored (a layer that works on each step alone, such as Dense, needs none).
  virtual Tensor forward_masked(const Tensor& x, const Tensor& mask);
  Tensor operator()(const Tensor& x, const Tensor& mask);

  // The kind of module ("Dense", "SimpleRNN"), for scopes and messages.
  virtual std::string type_name() const { return "Module"; }
  // "0:SimpleRNN" inside a parent, the type name at the top.
  std::string label() const;
  // This module's own configuration (its children give theirs); nullopt, the default, for
  // a module that cannot be rebuilt from one: nn::load_model then says so, naming the type.
  virtual std::optional<ModuleConfig> config() const { return std::nullopt; }

  // Registers a leaf parameter (requires_grad is set) and returns the same handle.
  Tensor register_parameter(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    adopt(name, module);
    return module;
  }

  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }

  void zero_grad();
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Converts every parameter to dtype, in place (handles held elsewhere see the change).
  void to(DType dtype);
  // The dtype of the first parameter (f32 for a module without parameters).
  DType dtype() const;

  // Keras's model.summary(): each layer's output shape and parameter count, then the totals,
  // on std::cout or `os`. `input_shape` is the input without its batch dimension, as Keras's
  // Input(shape=...): {10, 1} for 10 time steps of 1 feature; left out, the features are
  // read from the first layer and the time steps shown as None. See nn/summary.hpp.
  void summary(const std::vector<int64_t>& input_shape = {});
  void summary(std::ostream& os, const std::vector<int64_t>& input_shape = {});

 protected:
  Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;

 private:
  void adopt(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name) const;

  std::string key_;  // the name under which the parent registered this module
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

namespace detail {

// While one is alive, every module call on its thread (operator()) hands the module and its
// output to it: how nn::summary learns each layer's output shape from a dummy batch, whatever
// a model's forward does with its layers. Observers nest; the innermost one is told.
class CallObserver {
 public:
  using OnCall = std::function<void(const Module&, const Tensor&)>;
  explicit CallObserver(OnCall on_call);
  ~CallObserver();
  CallObserver(const CallObserver&) = delete;
  CallObserver& operator=(const CallObserver&) = delete;

  // Tells the innermost observer of this thread, if any, that `module` returned `output`.
  static const Tensor& observe(const Module& module, const Tensor& output);

 private:
  OnCall on_call_;
  CallObserver* outer_;
};

}  // namespace detail

// For layer constructors: `value` when it is > 0, else a ValueError such as "SimpleRNN:
// units must be positive, got 0". Returning the value lets an initializer list check it
// before a parameter of that size is made.
int64_t positive_size(const char* layer, const char* argument, int64_t value);

// A module that holds another by value or shared pointer: SimpleRNN(...) in a braced list
// becomes a shared_ptr<Module>.
using ModulePtr = std::shared_ptr<Module>;

}  // namespace tapegrad::nn
