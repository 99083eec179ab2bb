// RMSprop, as Keras writes it (defaults lr 1e-3, rho 0.9, momentum 0, eps 1e-7).
//
// Per element:
//   ms = rho * ms + (1 - rho) * g^2                       slot "velocity"
//   mg = rho * mg + (1 - rho) * g                         slot "average_grad" (centered)
//   denom = centered ? ms - mg^2 + eps : ms + eps         (eps inside the sqrt, as Keras;
//                                                          torch adds it outside)
//   step = lr * g / sqrt(denom)
//   with momentum: b = momentum * b + step; w -= b         slot "momentum"
//   else:          w -= step
#pragma once

#include <optional>

#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::optim {

struct RMSpropOptions {
  double lr = 1e-3;
  double rho = 0.9;
  double momentum = 0.0;
  double eps = 1e-7;
  bool centered = false;
  std::optional<double> clipnorm = {}, clipvalue = {}, global_clipnorm = {};
};

class RMSprop : public Optimizer {
 public:
  RMSprop(ParamList params, RMSpropOptions opts = {});
  const RMSpropOptions& options() const { return opts_; }

 protected:
  void update(const std::string& name, const Tensor& param, const Tensor& grad) override;
  std::vector<std::string> slot_names() const override;
  std::vector<std::string> nonnegative_slot_names() const override { return {"velocity"}; }

 private:
  RMSpropOptions opts_;
};

}  // namespace tapegrad::optim
