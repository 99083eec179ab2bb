#include <tapegrad/nn/gradcheck.hpp>

#include <tapegrad/core/error.hpp>
#include <tapegrad/core/random.hpp>
#include <tapegrad/ops/ops.hpp>

namespace tapegrad::nn {
namespace {

// Makes a module compute with given tensors in place of its parameters, so that
// tg::gradcheck, which passes fresh f64 leaves on every call, differentiates the module with
// respect to its parameters.
//
// Why assigning the TensorImpl is correct: a parameter is a handle on one TensorImpl shared
// by the module's registry and its members (cell.kernel, ...). Copying the given tensor's
// TensorImpl fields into it (storage, shape, strides, offset, dtype AND the AutogradMeta
// pointer) makes every member read the given data, and since the engine identifies a leaf by
// its AutogradMeta, the ops recorded with the parameter send their gradients to the given
// leaf. Saved tensors in records hold the parameter handle, so a binding must stay in force
// until the backward pass of that forward is over: bind() before each forward and never
// unbind in between; the originals (the same storage, so bitwise the same values, dtype and
// .grad()) come back when the ParameterBinding is destroyed, also during unwinding.
class ParameterBinding {
 public:
  explicit ParameterBinding(const NamedTensors& params) {
    for (const auto& [name, p] : params) {
      params_.push_back(p);
      originals_.push_back(p.impl());
    }
  }
  ~ParameterBinding() {
    for (std::size_t i = 0; i < params_.size(); ++i) params_[i].impl() = originals_[i];
  }
  ParameterBinding(const ParameterBinding&) = delete;
  ParameterBinding& operator=(const ParameterBinding&) = delete;

  // values[first + i] becomes parameter i.
  void bind(const std::vector<Tensor>& values, std::size_t first) const {
    for (std::size_t i = 0; i < params_.size(); ++i) params_[i].impl() = values[first + i].impl();
  }

 private:
  std::vector<Tensor> params_;
  std::vector<TensorImpl> originals_;
};

// "[1,2,0]": the row-major index of a flat element.
std::string index_string(const Shape& shape, int64_t element) {
  std::vector<int64_t> index(static_cast<std::size_t>(shape.size()));
  for (int64_t d = shape.size() - 1; d >= 0; --d) {
    index[d] = element % shape[d];
    element /= shape[d];
  }
  std::string out = "[";
  for (std::size_t d = 0; d < index.size(); ++d) out += fmt::format("{}{}", d ? "," : "", index[d]);
  return out + "]";
}

// The worst element of a failed report, by what the user calls it: "input 0 [1,2,0]" or
// "cell.recurrent_kernel[3,7]", followed by the module's type.
std::string where(const GradcheckReport& report, const std::vector<Tensor>& inputs,
                  const NamedTensors& params, const Module& module) {
  if (report.input < 0) {
    // Projections over everything at once cannot point at one element.
    return fmt::format(
        "a random projection of the inputs and all parameters of {} (projection {}; raise "
        "full_jacobian_limit above the element count to name the worst element)",
        module.type_name(), report.element);
  }
  const auto k = static_cast<std::size_t>(report.input);
  if (k < inputs.size()) {
    return fmt::format("input {} {} of {}", k, index_string(inputs[k].shape(), report.element),
                       module.type_name());
  }
  const auto& [name, p] = params[k - inputs.size()];
  return fmt::format("{}{} of {}", name, index_string(p.shape(), report.element),
                     module.type_name());
}

using Check = GradcheckReport (*)(const DifferentiableFn&, const std::vector<Tensor>&,
                                  const GradcheckOptions&);

// Runs `check` (tg::gradcheck or tg::gradgradcheck) on sum(fn(inputs) * r) as a function of
// the inputs followed by every parameter.
GradcheckReport check_module(Check check, const char* caller, Module& module,
                             const DifferentiableFn& fn, const std::vector<Tensor>& inputs,
                             const GradcheckOptions& opts) {
  if (!fn) throw_error<ValueError>("nn::{}({}): the function is empty", caller, module.type_name());
  const NamedTensors params = module.named_parameters();
  std::vector<Tensor> leaves = inputs;
  for (const auto& [name, p] : params) leaves.push_back(p.detach());
  // Not opts.seed itself: tg::gradcheck draws its projections from that, gradgradcheck from +1.
  Generator gen(opts.seed + 2);
  Tensor projection;  // r, drawn once the output's shape is known
  const ParameterBinding binding(params);
  const DifferentiableFn scalar = [&](const std::vector<Tensor>& x) {
    binding.bind(x, inputs.size());
    const Tensor y = fn(std::vector<Tensor>(x.begin(), x.begin() + inputs.size()));
    check_defined(caller, y);
    if (!projection.defined()) {
      std::vector<double> r(static_cast<std::size_t>(y.numel()));
      for (double& e : r) e = gen.normal();
      projection = from_vector(r, y.shape());
    }
    return sum(y * projection.to(y.dtype()));
  };
  GradcheckReport report = check(scalar, leaves, opts);
  if (!report.ok) {
    report.message = gradcheck_failure_message(report, where(report, inputs, params, module), opts);
  }
  return report;
}

// The one input of module(x).
DifferentiableFn call_of(Module& module, const char* caller, const std::vector<Tensor>& inputs) {
  if (inputs.size() != 1) {
    throw_error<ValueError>(
        "nn::{}({}): a module takes one input, got {}; for more (a cell's state, an initial "
        "state) pass a function of them: nn::{}(module, fn, inputs)",
        caller, module.type_name(), inputs.size(), caller);
  }
  return [&module](const std::vector<Tensor>& x) { return module(x[0]); };
}

}  // namespace

GradcheckReport gradcheck(Module& module, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opts) {
  return gradcheck(module, call_of(module, "gradcheck", inputs), inputs, opts);
}

GradcheckReport gradcheck(Module& module, const DifferentiableFn& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opts) {
  return check_module(&tapegrad::gradcheck, "gradcheck", module, fn, inputs, opts);
}

GradcheckReport gradgradcheck(Module& module, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& opts) {
  return gradgradcheck(module, call_of(module, "gradgradcheck", inputs), inputs, opts);
}

GradcheckReport gradgradcheck(Module& module, const DifferentiableFn& fn,
                              const std::vector<Tensor>& inputs, const GradcheckOptions& opts) {
  return check_module(&tapegrad::gradgradcheck, "gradgradcheck", module, fn, inputs, opts);
}

}  // namespace tapegrad::nn
