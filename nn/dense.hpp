// Dense: y = activation(x @ kernel + bias) on the last axis of (B, F) or (B, T, F).
#pragma once

#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

enum class Activation { linear, tanh, sigmoid, relu, softmax };

// Applies one of the built-in activations (softmax over the last axis).
Tensor activate(Activation a, const Tensor& x);
// "linear", "tanh", ...: Keras's names, as model configs store them (nn::activations()).
std::string to_string(Activation a);

struct DenseOptions {
  Activation activation = Activation::linear;
  bool use_bias = true;
  DType dtype = f32;
};

class Dense : public Module {
 public:
  Dense(int64_t in_features, int64_t units, DenseOptions opts = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dense"; }
  std::optional<ModuleConfig> config() const override;

  Tensor kernel;  // (in_features, units), glorot_uniform
  Tensor bias;    // (units), zeros; undefined without use_bias

 private:
  DenseOptions opts_;
};

}  // namespace tapegrad::nn
