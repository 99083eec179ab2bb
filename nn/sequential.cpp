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

}  // namespace tapegrad::nn
