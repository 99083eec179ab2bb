// Stochastic gradient descent, and GD: the same update applied to full-batch gradients.
//
// SGD follows PyTorch (torch.optim.SGD without dampening):
//   d = g + weight_decay * w                (L2 penalty folded into the gradient)
//   b = momentum * b + d                    (b starts at 0, so b = d on the first step)
//   d = nesterov ? d + momentum * b : b     (only when momentum > 0)
//   w -= lr * d
// Keras writes momentum as v = momentum * v - lr * g; w += v, which is the same sequence
// of weights while lr is constant; they differ only right after an lr change.
//
// GD is plain w -= lr * g with full_batch() true, so fit() hands it the gradient of the
// whole data set each step: textbook gradient descent.
#pragma once

#include <optional>

#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::optim {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  std::optional<double> clipnorm = {}, clipvalue = {}, global_clipnorm = {};
};

class SGD : public Optimizer {
 public:
  SGD(ParamList params, SGDOptions opts = {});
  const SGDOptions& options() const { return opts_; }

 protected:
  void update(const std::string& name, const Tensor& param, const Tensor& grad) override;
  std::vector<std::string> slot_names() const override;

 private:
  SGDOptions opts_;
};

struct GDOptions {
  double lr = 0.01;
  std::optional<double> clipnorm = {}, clipvalue = {}, global_clipnorm = {};
};

class GD : public SGD {
 public:
  GD(ParamList params, GDOptions opts = {});
  bool full_batch() const override { return true; }
};

}  // namespace tapegrad::optim
