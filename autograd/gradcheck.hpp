// Gradient checking by central finite differences in f64.
//
// gradcheck(fn, inputs) compares the gradients the tape computes for fn with
// (f(x + eps) - f(x - eps)) / 2eps. Inputs are converted to f64 first. For small problems it
// compares the full Jacobian (one backward per output element, two forwards per input
// element); for large ones it compares random projections u^T J v, which catch the same
// mistakes at the cost of a few evaluations. The report says ok or names the worst element:
// which input, which element, analytic vs numeric value and the errors.
//
// gradgradcheck checks second derivatives the same way, by gradchecking the function
// x -> d(u . fn(x))/dx computed with create_graph.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

using DifferentiableFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  // Full Jacobian when (input elements) x (output elements) is at most this; else projections.
  int64_t full_jacobian_limit = 20000;
  int projections = 4;
  std::uint64_t seed = 1234;
};

struct GradcheckReport {
  bool ok = true;
  std::string message;  // "ok" or the worst element
  int64_t input = -1;   // index of the worst input (-1: projection over all inputs)
  int64_t element = -1;
  double analytic = 0;
  double numeric = 0;
  double abs_error = 0;
  double rel_error = 0;
};

// The message of a failed report, naming the worst element by `where`: tg::gradcheck says
// "input 1, element 5", nn::gradcheck "cell.kernel[1,2] of RNN" (nn/gradcheck.hpp).
std::string gradcheck_failure_message(const GradcheckReport& report, const std::string& where,
                                      const GradcheckOptions& opts);

GradcheckReport gradcheck(const DifferentiableFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opts = {});
GradcheckReport gradgradcheck(const DifferentiableFn& fn, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& opts = {});

}  // namespace tapegrad
