// Sequential: modules applied in order, registered as children "0", "1", ...
//
//   tg::nn::Sequential model{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
//                            tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
//
// Modules given by value are moved into shared ownership; shared_ptrs are shared.
#pragma once

#include <memory>
#include <type_traits>

#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  // Not a copy: Sequential b(a) with a non-const `a` must copy, not nest `a` as child "0".
  template <class... Modules>
  requires(sizeof...(Modules) != 1 ||
           !std::is_same_v<std::remove_cvref_t<Modules>...,
                           Sequential>) explicit Sequential(Modules&&... modules) {
    (push_back(std::forward<Modules>(modules)), ...);
  }

  template <class M>
  void push_back(M&& module) {
    using T = std::decay_t<M>;
    if constexpr (std::is_convertible_v<T, std::shared_ptr<Module>>) {
      append(std::shared_ptr<Module>(std::forward<M>(module)));
    } else {
      static_assert(std::is_base_of_v<Module, T>, "Sequential holds modules");
      append(std::make_shared<T>(std::forward<M>(module)));
    }
  }

  Tensor forward(const Tensor& x) override;
  // The mask goes to each layer while the input keeps its time axis (B, T, ...); a recurrent
  // layer without return_sequences consumes it, and the layers after it get none.
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override;
  std::string type_name() const override { return "Sequential"; }
  // Empty: the layers are the children, each with its own config.
  std::optional<ModuleConfig> config() const override { return ModuleConfig{}; }
  std::size_t size() const { return children().size(); }
  Module& operator[](std::size_t i) const { return *children().at(i).second; }

 private:
  void append(std::shared_ptr<Module> module);
};

}  // namespace tapegrad::nn
