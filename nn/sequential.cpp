#include <tapegrad/nn/sequential.hpp>

namespace tapegrad::nn {

void Sequential::append(std::shared_ptr<Module> module) {
  register_module(std::to_string(children().size()), std::move(module));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [name, child] : children()) h = (*child)(h);
  return h;
}

Tensor Sequential::forward_masked(const Tensor& x, const Tensor& mask) {
  Tensor h = x;
  for (const auto& [name, child] : children()) {
    const bool has_time_axis = h.dim() >= 3 && h.shape()[1] == mask.shape()[1];
    h = has_time_axis ? (*child)(h, mask) : (*child)(h);
  }
  return h;
}

}  // namespace tapegrad::nn
