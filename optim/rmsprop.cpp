#include <tapegrad/optim/rmsprop.hpp>

#include <cmath>

namespace tapegrad::optim {

RMSprop::RMSprop(ParamList params, RMSpropOptions opts)
    : Optimizer(std::move(params), opts.lr, clip_options(opts)), opts_(opts) {
  check_option("RMSprop", "rho", opts.rho, 0.0, 1.0);
  check_option("RMSprop", "momentum", opts.momentum, 0.0);
  check_option("RMSprop", "eps", opts.eps, 0.0);
}

std::vector<std::string> RMSprop::slot_names() const {
  std::vector<std::string> names{"velocity"};
  if (opts_.momentum != 0.0) names.push_back("momentum");
  if (opts_.centered) names.push_back("average_grad");
  return names;
}

void RMSprop::update(const std::string& name, const Tensor& param, const Tensor& grad) {
  const Tensor ms_slot = slot(name, "velocity", param);
  const Tensor b_slot = opts_.momentum != 0.0 ? slot(name, "momentum", param) : Tensor();
  const Tensor mg_slot = opts_.centered ? slot(name, "average_grad", param) : Tensor();
  dispatch(param.dtype(), [&]<class T>(T) {
    T* w = param.data<T>();
    const T* g = grad.data<T>();
    T* ms = ms_slot.data<T>();
    T* b = b_slot.defined() ? b_slot.data<T>() : nullptr;
    T* mg = mg_slot.defined() ? mg_slot.data<T>() : nullptr;
    const T rho = static_cast<T>(opts_.rho), one_minus_rho = static_cast<T>(1.0 - opts_.rho);
    const T lr = static_cast<T>(this->lr()), mu = static_cast<T>(opts_.momentum);
    const T eps = static_cast<T>(opts_.eps);
    for (int64_t i = 0; i < param.numel(); ++i) {
      ms[i] = rho * ms[i] + one_minus_rho * g[i] * g[i];
      T denom = ms[i] + eps;
      if (mg != nullptr) {
        mg[i] = rho * mg[i] + one_minus_rho * g[i];
        denom -= mg[i] * mg[i];
      }
      const T step = lr * g[i] / std::sqrt(denom);
      if (b != nullptr) {
        b[i] = mu * b[i] + step;
        w[i] -= b[i];
      } else {
        w[i] -= step;
      }
    }
  });
}

}  // namespace tapegrad::optim
