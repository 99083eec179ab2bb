// tg::Function: a custom differentiable op from a forward and a backward lambda, like
// torch.autograd.Function.
//
//   tg::Function cube("cube",
//       [](const tg::TensorList& in, tg::TensorList& save) {   // runs without recording
//         save.push_back(in[0]);
//         return in[0] * in[0] * in[0];
//       },
//       [](const tg::BackwardContext& c) -> tg::Grads {           // same API as built-in ops
//         return {c.grad * 3.0 * c.saved(0) * c.saved(0)};
//       });
//   tg::Tensor y = cube({x});
//
// The forward is opaque to the tape (one record for the whole call); the backward is written
// with ops, so it is itself differentiable under create_graph.
#pragma once

#include <functional>
#include <string>

#include <tapegrad/autograd/record.hpp>

namespace tapegrad {

class Function {
 public:
  using Forward = std::function<Tensor(const TensorList& inputs, TensorList& save)>;
  using Backward = std::function<Grads(const BackwardContext& ctx)>;

  Function(const std::string& name, Forward forward, Backward backward);
  Tensor operator()(const TensorList& inputs) const;

 private:
  const char* name_;  // interned: records may outlive this object
  Forward forward_;
  Backward backward_;
};

}  // namespace tapegrad
