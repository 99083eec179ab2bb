// Gradient checking a whole module in one call: its inputs AND every parameter.
//
//   tg::nn::RNN layer(std::make_shared<MyCell>(8, 16), {.return_sequences = true});
//   tg::GradcheckReport r = tg::nn::gradcheck(layer, {tg::randn({2, 5, 8})});
//   // r.message: "ok", or e.g. "gradcheck failed at cell.recurrent_kernel[3,7] of RNN: ..."
//
// How it works: tg::gradcheck (autograd/gradcheck.hpp) differentiates a function of the
// tensors it is given, and calls it on fresh f64 leaves for every evaluation. Here those
// leaves are the inputs followed by one leaf per parameter, and each evaluation binds the
// parameter leaves into the module (see ParameterBinding in gradcheck.cpp): the module then
// computes in f64 with them and its recorded ops send their gradients to them. The module's
// own parameters are put back when the check ends, also when it throws, so afterwards they
// are bitwise what they were (data, dtype, .grad()).
//
// What is checked is the scalar sum(module(x) * r), r a fixed random tensor (from
// opts.seed): every output element counts, and with one output the full Jacobian (one
// comparison per input and parameter element) stays affordable up to
// opts.full_jacobian_limit elements, so the report names the worst element. Beyond that
// limit random projections are compared, and a failure names no element.
//
// The module must compute the same function on every call: a stateful RNN carries its state
// from call to call (reset_states() before checking, or check it with stateful off), and
// anything random in training mode must be reproducible or switched off (eval()).
#pragma once

#include <vector>

#include <tapegrad/autograd/gradcheck.hpp>
#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

// Checks module(inputs[0]) (a Module takes one input) w.r.t. that input and every parameter.
GradcheckReport gradcheck(Module& module, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opts = {});
// The same for any function of the inputs that computes with the module, e.g. a cell's
// step with its state as inputs: [&](const auto& in) { return cell.step(in[0], {in[1]})[0]; }.
GradcheckReport gradcheck(Module& module, const DifferentiableFn& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {});

// Second derivatives, as tg::gradgradcheck, of the same scalar.
GradcheckReport gradgradcheck(Module& module, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& opts = {});
GradcheckReport gradgradcheck(Module& module, const DifferentiableFn& fn,
                              const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {});

}  // namespace tapegrad::nn
