// Loss functions: objects (MSE, MAE, Huber, BCE, CrossEntropy) and free functions.
//
//   tg::nn::MSE loss_fn;                          // Reduction::mean by default
//   tg::Tensor l = loss_fn(model(x), y);          // a scalar on the tape
//   tg::Tensor lw = loss_fn(model(x), y, w);      // Keras's loss(y_true, y_pred, sample_weight)
//   tg::Tensor lm = loss_fn(out, y_steps, {}, mask);  // padded steps (mask 0) do not count
//   tg::Tensor per = tg::nn::mae_loss(p, y, tg::nn::Reduction::none);
//
// Each loss is a composition of differentiable ops (no backward is written here): it
// computes a per-element loss (Loss::per_element), then reduces it by `Reduction` (mean over
// all elements, sum, or none: the per-element tensor itself). Prediction and target must have
// exactly the same shape; a (B, 1) prediction against a (B) target throws ShapeError instead
// of broadcasting to (B, B) and silently training on the wrong objective. CrossEntropy is the
// exception by nature: logits (B, C) against class indices (B), one loss per sample.
//
// Sample weights and masks (Keras 3's reduce_weighted_values). A sample weight w multiplies
// the per-element loss l before the reduction, and Reduction::mean stays Keras's
// "sum_over_batch_size": sum(l * w) / (number of elements), NOT divided by sum(w); so a
// weight 0 removes a sample and a weight 2 counts it twice, against a fixed denominator.
// A mask m (nonzero = valid, e.g. the (B, T) mask of padded sequences) is a weight that is
// normalized so that the mean runs over the valid entries only, as Keras does with the
// mask of a masked model output:
//   mean:  sum(l * w * m) / (number of valid elements)   (0 when nothing is valid)
//   sum:   sum(l * w * m);   none: l * w * m
// Padded steps then change neither the loss nor any gradient, whatever their targets.
//
// Where weights broadcast: weights are per sample, per step, ..., so their axes align with
// the loss's from the LEFT (Keras's rule), not from the right as NumPy broadcasting does.
// Against a (B, T, F) per-element loss, a weight or mask may be (B) (one weight per sample,
// every step and feature), (B, T) (per step), (B, T, F) (per element), a scalar, and any of
// these with size-1 axes ((1, T): the same weights for every sample). Trailing size-1 axes
// beyond the loss's rank are dropped, so a (B, 1) weight fits CrossEntropy's (B) losses.
// With NumPy's right alignment a (B) weight would meet the F axis; here it meets B. Anything
// else throws ShapeError naming the loss and both shapes. Weights are cast to the loss's
// dtype and may themselves require gradients; a mask is data (no gradient).
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

// The same with a sample weight (see above; an undefined one is no weighting).
Tensor mse_loss(const Tensor& pred, const Tensor& target, const Tensor& sample_weight,
                Reduction reduction = Reduction::mean);
Tensor mae_loss(const Tensor& pred, const Tensor& target, const Tensor& sample_weight,
                Reduction reduction = Reduction::mean);
Tensor huber_loss(const Tensor& pred, const Tensor& target, const Tensor& sample_weight,
                  double delta = 1.0, Reduction reduction = Reduction::mean);
Tensor bce_loss(const Tensor& logits, const Tensor& target, const Tensor& sample_weight,
                Reduction reduction = Reduction::mean);
// sample_weight (B) (or (B, 1)): one weight per sample.
Tensor cross_entropy_loss(const Tensor& logits, const Tensor& target, const Tensor& sample_weight,
                          Reduction reduction = Reduction::mean);

// Weights and reduces any per-element loss as the built-in losses do (Keras's
// reduce_weighted_values): for a custom loss's per_element. `loss` names it in errors.
Tensor reduce_weighted(const Tensor& per_element, Reduction reduction,
                       const Tensor& sample_weight = {}, const Tensor& mask = {},
                       const std::string& loss = "loss");

// The common interface fit() and evaluate() take. A new loss overrides per_element (Keras's
// Loss.call) and gets the reduction, sample weights and masks from here. Overriding only
// the two-argument operator() (the older way) still works without weights; such a class
// should add `using Loss::operator();` so that its own overload does not hide the weighted
// one.
class Loss {
 public:
  explicit Loss(Reduction reduction = Reduction::mean) : reduction_(reduction) {}
  virtual ~Loss() = default;
  // The reduced loss: reduce_weighted(per_element(pred, target), reduction()). Both calls
  // open a NameScope with name(), as a module call opens one with its label, so the loss's
  // records are grouped as "MSE" in graph dumps and the tape print.
  virtual Tensor operator()(const Tensor& pred, const Tensor& target) const;
  // Keras's loss(y_true, y_pred, sample_weight), with the mask of a masked output: weights
  // and mask as described above (either may be undefined; both undefined is the call above).
  Tensor operator()(const Tensor& pred, const Tensor& target, const Tensor& sample_weight,
                    const Tensor& mask = {}) const;
  // The unreduced loss: one value per element (per sample for CrossEntropy). The default
  // throws ValueError: a loss that only overrides operator()(pred, target) cannot weight.
  virtual Tensor per_element(const Tensor& pred, const Tensor& target) const;
  virtual std::string name() const { return "Loss"; }
  Reduction reduction() const { return reduction_; }

 protected:
  Reduction reduction_;
};

class MSE : public Loss {
 public:
  using Loss::Loss;
  Tensor per_element(const Tensor& pred, const Tensor& target) const override;
  std::string name() const override { return "MSE"; }
};

class MAE : public Loss {
 public:
  using Loss::Loss;
  Tensor per_element(const Tensor& pred, const Tensor& target) const override;
  std::string name() const override { return "MAE"; }
};

class Huber : public Loss {
 public:
  explicit Huber(double delta = 1.0, Reduction reduction = Reduction::mean);
  Tensor per_element(const Tensor& pred, const Tensor& target) const override;
  std::string name() const override { return "Huber"; }
  double delta() const { return delta_; }

 private:
  double delta_;
};

class BCE : public Loss {
 public:
  using Loss::Loss;
  Tensor per_element(const Tensor& logits, const Tensor& target) const override;
  std::string name() const override { return "BCE"; }
};

class CrossEntropy : public Loss {
 public:
  using Loss::Loss;
  Tensor per_element(const Tensor& logits, const Tensor& target) const override;
  std::string name() const override { return "CrossEntropy"; }
};

}  // namespace tapegrad::nn
