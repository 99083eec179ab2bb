#include <tapegrad/optim/clip.hpp>

#include <cmath>

#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/core/kernels.hpp>

namespace tapegrad::optim {

namespace {

double sum_of_squares(const Tensor& t) {
  const Tensor c = t.contiguous();
  return dispatch(c.dtype(), [&]<class T>(T) {
    const T* x = c.data<T>();
    double acc = 0.0;
    for (int64_t i = 0; i < c.numel(); ++i) acc += static_cast<double>(x[i]) * x[i];
    return acc;
  });
}

void check_nonnegative(const char* fn, const char* what, double value) {
  if (!(value >= 0.0)) throw_error<ValueError>("{}: {} must be >= 0, got {}", fn, what, value);
}

}  // namespace

double l2_norm(const Tensor& t) {
  return std::sqrt(sum_of_squares(t));
}

double global_norm(const std::vector<Tensor>& grads) {
  double acc = 0.0;
  for (const Tensor& g : grads) {
    if (g.defined()) acc += sum_of_squares(g);
  }
  return std::sqrt(acc);
}

double clip_grad_norm(const ParamList& params, double max_norm) {
  check_nonnegative("clip_grad_norm", "max_norm", max_norm);
  std::vector<Tensor> grads;
  for (const auto& [name, p] : params) grads.push_back(p.grad());
  const double norm = global_norm(grads);
  if (norm <= max_norm) return norm;
  const double scale = max_norm / (norm + 1e-6);
  NoGradGuard no_grad;
  for (const auto& [name, p] : params) {
    if (p.grad().defined()) p.set_grad(kernel::mul(p.grad(), scale));
  }
  return norm;
}

void clip_grad_value(const ParamList& params, double clip_value) {
  check_nonnegative("clip_grad_value", "clip_value", clip_value);
  NoGradGuard no_grad;
  for (const auto& [name, p] : params) {
    if (p.grad().defined()) p.set_grad(kernel::clamp(p.grad(), -clip_value, clip_value));
  }
}

}  // namespace tapegrad::optim
