#include <tapegrad/nn/dense.hpp>

#include <tapegrad/nn/init.hpp>
#include <tapegrad/nn/registry.hpp>
#include <tapegrad/ops/ops.hpp>

namespace tapegrad::nn {

Tensor activate(Activation a, const Tensor& x) {
  switch (a) {
    case Activation::linear:
      return x;
    case Activation::tanh:
      return tanh(x);
    case Activation::sigmoid:
      return sigmoid(x);
    case Activation::relu:
      return relu(x);
    case Activation::softmax:
      return softmax(x, -1);
  }
  throw ValueError("activate: unknown activation");
}

std::string to_string(Activation a) {
  return name_of(activations(), a);
}

Dense::Dense(int64_t in_features, int64_t units, DenseOptions opts)
    : kernel(register_parameter(
          "kernel", init::glorot_uniform({positive_size("Dense", "in_features", in_features),
                                          positive_size("Dense", "units", units)},
                                         opts.dtype))),
      opts_(opts) {
  if (opts.use_bias) bias = register_parameter("bias", init::zeros({units}, opts.dtype));
}

Tensor Dense::forward(const Tensor& x) {
  if (x.dim() < 2 || x.shape().back() != kernel.shape()[0]) {
    throw_error<ShapeError>(
        "{}: input of shape {} does not fit kernel of shape {} (expects {} "
        "features on the last axis)",
        label(), x.shape(), kernel.shape(), kernel.shape()[0]);
  }
  return activate(opts_.activation, bias.defined() ? addmm(bias, x, kernel) : matmul(x, kernel));
}

std::optional<ModuleConfig> Dense::config() const {
  return ModuleConfig{{"in_features", kernel.shape()[0]},
                      {"units", kernel.shape()[1]},
                      {"activation", to_string(opts_.activation)},
                      {"use_bias", opts_.use_bias},
                      {"dtype", std::string(dtype_name(kernel.dtype()))}};
}

}  // namespace tapegrad::nn
