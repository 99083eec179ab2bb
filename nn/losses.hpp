// Loss functions: objects (MSE, MAE, Huber, BCE, CrossEntropy) and free functions.
//
//   tg::nn::MSE loss_fn;                          // Reduction::mean by default
//   tg::Tensor l = loss_fn(model(x), y);          // a scalar on the tape
//   tg::Tensor per = tg::nn::mae_loss(p, y, tg::nn::Reduction::none);
//
// Each loss is a composition of differentiable ops (no backward is written here): it
// computes a per-element loss, then reduces it by `Reduction` (mean over all elements,
// sum, or none: the per-element tensor itself). Prediction and target must have exactly
// the same shape; a (B, 1) prediction against a (B) target throws ShapeError instead of
// broadcasting to (B, B) and silently training on the wrong objective. CrossEntropy is the
// exception by nature: logits (B, C) against class indices (B).
//
// The classification losses take logits, not probabilities, because the fused forms are
// the numerically stable ones:
//   BCE(x, y)          = max(x, 0) - x*y + log(1 + exp(-|x|))   (never exp of a large x)
//   CrossEntropy(x, k) = -log_softmax(x)[k]
#pragma once

#include <string>

#include <tapegrad/core/tensor.hpp>

namespace tapegrad::nn {

enum class Reduction { mean, sum, none };

// mean(x - y)^2 over all elements (Keras's MSE for (B, 1) targets).
Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction reduction = Reduction::mean);
// mean |x - y|.
Tensor mae_loss(const Tensor& pred, const Tensor& target, Reduction reduction = Reduction::mean);
// 0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta), d = x - y.
Tensor huber_loss(const Tensor& pred, const Tensor& target, double delta = 1.0,
                  Reduction reduction = Reduction::mean);
// Binary cross-entropy of logits against targets in [0, 1].
Tensor bce_loss(const Tensor& logits, const Tensor& target, Reduction reduction = Reduction::mean);
// Softmax cross-entropy of logits (B, C) against class indices (B): a float tensor of
// integer values in [0, C). Reduction::none gives the (B) per-sample losses.
Tensor cross_entropy_loss(const Tensor& logits, const Tensor& target,
                          Reduction reduction = Reduction::mean);

// The common interface fit() and evaluate() take.
class Loss {
 public:
  explicit Loss(Reduction reduction = Reduction::mean) : reduction_(reduction) {}
  virtual ~Loss() = default;
  virtual Tensor operator()(const Tensor& pred, const Tensor& target) const = 0;
  virtual std::string name() const { return "Loss"; }
  Reduction reduction() const { return reduction_; }

 protected:
  Reduction reduction_;
};

class MSE : public Loss {
 public:
  using Loss::Loss;
  Tensor operator()(const Tensor& pred, const Tensor& target) const override;
  std::string name() const override { return "MSE"; }
};

class MAE : public Loss {
 public:
  using Loss::Loss;
  Tensor operator()(const Tensor& pred, const Tensor& target) const override;
  std::string name() const override { return "MAE"; }
};

class Huber : public Loss {
 public:
  explicit Huber(double delta = 1.0, Reduction reduction = Reduction::mean);
  Tensor operator()(const Tensor& pred, const Tensor& target) const override;
  std::string name() const override { return "Huber"; }
  double delta() const { return delta_; }

 private:
  double delta_;
};

class BCE : public Loss {
 public:
  using Loss::Loss;
  Tensor operator()(const Tensor& logits, const Tensor& target) const override;
  std::string name() const override { return "BCE"; }
};

class CrossEntropy : public Loss {
 public:
  using Loss::Loss;
  Tensor operator()(const Tensor& logits, const Tensor& target) const override;
  std::string name() const override { return "CrossEntropy"; }
};

}  // namespace tapegrad::nn
