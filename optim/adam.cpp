#include <tapegrad/optim/adam.hpp>

#include <algorithm>
#include <cmath>

namespace tapegrad::optim {

Adam::Adam(ParamList params, AdamOptions opts) : Adam(std::move(params), opts, 0.0) {}

Adam::Adam(ParamList params, AdamOptions opts, double weight_decay)
    : Optimizer(std::move(params), opts.lr, clip_options(opts)),
      opts_(opts),
      weight_decay_(weight_decay) {
  check_option("Adam", "beta1", opts.beta1, 0.0, 1.0);
  check_option("Adam", "beta2", opts.beta2, 0.0, 1.0);
  check_option("Adam", "eps", opts.eps, 0.0);
  check_option("AdamW", "weight_decay", weight_decay, 0.0);
}

std::vector<std::string> Adam::slot_names() const {
  if (opts_.amsgrad) return {"m", "v", "vhat"};
  return {"m", "v"};
}

// Both formulations are w -= a * m / (sqrt(v) / b + eps); they differ in a and b (keras:
// b = 1, so eps meets the uncorrected sqrt(v)).
Adam::StepScalars Adam::scalars() const {
  const double n = static_cast<double>(t());
  const double correction1 = 1.0 - std::pow(opts_.beta1, n);
  const double correction2 = 1.0 - std::pow(opts_.beta2, n);
  if (opts_.formulation == AdamFormulation::keras) {
    return {lr() * std::sqrt(correction2) / correction1, 1.0};
  }
  return {lr() / correction1, std::sqrt(correction2)};
}

void Adam::update(const std::string& name, const Tensor& param, const Tensor& grad) {
  const Tensor m_slot = slot(name, "m", param);
  const Tensor v_slot = slot(name, "v", param);
  const Tensor vhat_slot = opts_.amsgrad ? slot(name, "vhat", param) : v_slot;
  const StepScalars s = scalars();
  dispatch(param.dtype(), [&]<class T>(T) {
    T* w = param.data<T>();
    const T* g = grad.data<T>();
    T* m = m_slot.data<T>();
    T* v = v_slot.data<T>();
    T* vhat = vhat_slot.data<T>();
    // 1 - beta is formed in double, as Python/torch scalars are.
    const T b1 = static_cast<T>(opts_.beta1), one_minus_b1 = static_cast<T>(1.0 - opts_.beta1);
    const T b2 = static_cast<T>(opts_.beta2), one_minus_b2 = static_cast<T>(1.0 - opts_.beta2);
    const T decay = static_cast<T>(lr() * weight_decay_);
    const T step_size = static_cast<T>(s.step_size), v_divisor = static_cast<T>(s.v_divisor);
    const T eps = static_cast<T>(opts_.eps);
    for (int64_t i = 0; i < param.numel(); ++i) {
      if (weight_decay_ != 0.0) w[i] -= decay * w[i];
      m[i] = b1 * m[i] + one_minus_b1 * g[i];
      v[i] = b2 * v[i] + one_minus_b2 * g[i] * g[i];
      vhat[i] = std::max(vhat[i], v[i]);  // a no-op when vhat is v (no amsgrad)
      const T denom = std::sqrt(vhat[i]) / v_divisor + eps;
      w[i] -= step_size * m[i] / denom;
    }
  });
}

AdamW::AdamW(ParamList params, AdamWOptions o)
    : Adam(std::move(params),
           {.lr = o.lr,
            .beta1 = o.beta1,
            .beta2 = o.beta2,
            .eps = o.eps,
            .amsgrad = o.amsgrad,
            .formulation = o.formulation,
            .clipnorm = o.clipnorm,
            .clipvalue = o.clipvalue,
            .global_clipnorm = o.global_clipnorm},
           o.weight_decay) {}

}  // namespace tapegrad::optim
