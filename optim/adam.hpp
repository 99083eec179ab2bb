// Adam and AdamW, with Keras's defaults (lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-7).
//
// Per element, at step t (1 for the first step):
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   vhat = max(vhat, v)   with amsgrad (then vhat replaces v below)
// and the two places epsilon is found in the wild, chosen by `formulation`:
//   keras: lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t);  w -= lr_t * m / (sqrt(v) + eps)
//   torch: w -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// They differ only at the eps level. Note torch's own default eps is 1e-8: set it too when
// matching torch.optim.Adam. The bias corrections are computed in double, as both do.
//
// AdamW adds decoupled weight decay (Loshchilov & Hutter), applied to the weights before
// the Adam step and scaled by lr but not by the adaptive denominator:
//   w -= lr * weight_decay * w
// Its default weight_decay is Keras's 0.004 (torch uses 0.01), in line with the other
// Keras defaults here.
#pragma once

#include <optional>

#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::optim {

enum class AdamFormulation { keras, torch };

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-7;
  bool amsgrad = false;
  AdamFormulation formulation = AdamFormulation::keras;
  std::optional<double> clipnorm = {}, clipvalue = {}, global_clipnorm = {};
};

struct AdamWOptions {
  double lr = 1e-3;
  double weight_decay = 0.004;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-7;
  bool amsgrad = false;
  AdamFormulation formulation = AdamFormulation::keras;
  std::optional<double> clipnorm = {}, clipvalue = {}, global_clipnorm = {};
};

class Adam : public Optimizer {
 public:
  Adam(ParamList params, AdamOptions opts = {});
  const AdamOptions& options() const { return opts_; }

 protected:
  // For AdamW: Adam plus decoupled weight decay.
  Adam(ParamList params, AdamOptions opts, double weight_decay);
  void update(const std::string& name, const Tensor& param, const Tensor& grad) override;
  std::vector<std::string> slot_names() const override;
  std::vector<std::string> nonnegative_slot_names() const override { return {"v", "vhat"}; }

 private:
  // The scalars of step t: w -= step_size * m / (sqrt(v) / v_divisor + eps).
  struct StepScalars {
    double step_size;
    double v_divisor;
  };
  StepScalars scalars() const;

  AdamOptions opts_;
  double weight_decay_ = 0.0;
};

class AdamW : public Adam {
 public:
  AdamW(ParamList params, AdamWOptions opts = {});
};

}  // namespace tapegrad::optim
