#include <tapegrad/optim/sgd.hpp>

namespace tapegrad::optim {

SGD::SGD(ParamList params, SGDOptions opts)
    : Optimizer(std::move(params), opts.lr, clip_options(opts)), opts_(opts) {
  check_option("SGD", "momentum", opts.momentum, 0.0);
  check_option("SGD", "weight_decay", opts.weight_decay, 0.0);
  if (opts.nesterov && opts.momentum == 0.0) {
    throw ValueError("SGD: nesterov needs momentum > 0");
  }
}

std::vector<std::string> SGD::slot_names() const {
  if (opts_.momentum == 0.0) return {};
  return {"momentum"};
}

void SGD::update(const std::string& name, const Tensor& param, const Tensor& grad) {
  const Tensor buffer = opts_.momentum != 0.0 ? slot(name, "momentum", param) : Tensor();
  dispatch(param.dtype(), [&]<class T>(T) {
    T* w = param.data<T>();
    const T* g = grad.data<T>();
    T* b = buffer.defined() ? buffer.data<T>() : nullptr;
    const T lr = static_cast<T>(this->lr());
    const T mu = static_cast<T>(opts_.momentum);
    const T wd = static_cast<T>(opts_.weight_decay);
    for (int64_t i = 0; i < param.numel(); ++i) {
      T d = g[i] + wd * w[i];
      if (b != nullptr) {
        b[i] = mu * b[i] + d;
        d = opts_.nesterov ? d + mu * b[i] : b[i];
      }
      w[i] -= lr * d;
    }
  });
}

GD::GD(ParamList params, GDOptions opts)
    : SGD(std::move(params), {.lr = opts.lr,
                              .clipnorm = opts.clipnorm,
                              .clipvalue = opts.clipvalue,
                              .global_clipnorm = opts.global_clipnorm}) {}

}  // namespace tapegrad::optim
