#include <tapegrad/autograd/function.hpp>

namespace tapegrad {
Function::Function(const std::string& name, Forward forward, Backward backward)
    : name_(detail::intern_op_name(name)),
      forward_(std::move(forward)),
      backward_(std::move(backward)) {
  if (!forward_ || !backward_)
    throw_error<ValueError>("Function {}: needs a forward and a backward", name);
}

Tensor Function::operator()(const TensorList& inputs) const {
  TensorList saved;
  TensorList plain;
  Tensor output;
  {
    NoGradGuard opaque;
    for (const Tensor& in : inputs) plain.push_back(in.detach());
    output = forward_(plain, saved);
  }
  check_defined(name_, output);
  // The forward saw detached inputs; saving one must keep its link to the graph, so that a
  // recorded backward (create_graph) can differentiate through it.
  for (Tensor& s : saved) {
    for (std::size_t i = 0; i < plain.size(); ++i) {
      if (s.impl_ptr() == plain[i].impl_ptr()) s = inputs[i];
    }
  }
  return record({.op = name_, .inputs = inputs, .save = saved}, output,
                [backward = backward_](const BackwardContext& c) { return backward(c); });
}

}  // namespace tapegrad
