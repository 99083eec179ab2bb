// Losses composed from ops; see losses.hpp. Shared steps: check the shapes, compute the
// per-element loss, weight it (sample weight, mask), reduce.
#include <tapegrad/nn/losses.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/ops/ops.hpp>

namespace tapegrad::nn {

namespace {

// Elementwise losses compare like with like; broadcasting here is almost always a bug.
void check_pair(const char* loss, const Tensor& pred, const Tensor& target) {
  check_defined(loss, pred);
  check_defined(loss, target);
  if (!(pred.shape() == target.shape())) {
    throw_error<ShapeError>(
        "{}: prediction shape {} and target shape {} differ (losses do not broadcast; "
        "reshape one of them)",
        loss, pred.shape(), target.shape());
  }
  check_same_dtype(loss, pred, target);
}

Tensor reduce(const Tensor& per_element, Reduction reduction) {
  switch (reduction) {
    case Reduction::mean:
      return mean(per_element);
    case Reduction::sum:
      return sum(per_element);
    case Reduction::none:
      return per_element;
  }
  throw ValueError("loss: unknown reduction");
}

// `weight` reshaped to the loss's rank with its axes aligned from the left (per sample, per
// step, ...), so that NumPy broadcasting then repeats it over the loss's trailing axes.
Tensor align_left(const std::string& loss, const char* what, const Tensor& weight,
                  const Shape& loss_shape) {
  const auto rank = static_cast<std::size_t>(loss_shape.size());
  std::vector<int64_t> dims = weight.shape().vec();
  while (dims.size() > rank && dims.back() == 1) dims.pop_back();  // (B, 1) over (B) losses
  bool fits = dims.size() <= rank;
  for (std::size_t i = 0; fits && i < dims.size(); ++i) {
    fits = dims[i] == loss_shape[static_cast<int64_t>(i)] || dims[i] == 1;
  }
  if (!fits) {
    const Shape per_sample{loss_shape.size() > 0 ? loss_shape[0] : 1};
    throw_error<ShapeError>(
        "{}: {} of shape {} does not fit the per-element loss of shape {} (weights align with "
        "the loss's leading axes, per sample then per step: give e.g. {} or the loss's shape, "
        "size-1 axes allowed)",
        loss, what, weight.shape(), loss_shape, per_sample);
  }
  dims.resize(rank, 1);
  return reshape(weight, Shape(dims));
}

// The mask as a weight: 1 at nonzero entries, 0 elsewhere, and for the mean scaled by
// (entries / valid entries) so that the mean over all elements is the mean over the valid
// ones (Keras's apply_mask). A constant: the mask is data.
Tensor mask_weight(const std::string& loss, const Tensor& mask, const Tensor& per_element,
                   Reduction reduction) {
  const Tensor m = mask.detach().to(per_element.dtype());
  const Tensor valid = 1.0 - kernel::eq(m, scalar_tensor(0, m.dtype()));
  const Tensor aligned = align_left(loss, "mask", valid, per_element.shape());
  if (reduction != Reduction::mean) return aligned;
  const double count = sum(valid).item();
  // Nothing valid: a zero loss (Keras's divide_no_nan), not 0/0.
  const double scale = count > 0 ? static_cast<double>(valid.numel()) / count : 0.0;
  return aligned * scale;
}

// A constant (B, C) matrix with a 1 at (i, target[i]); checks that every target is a
// class index.
Tensor one_hot(const Tensor& target, int64_t classes, DType dtype) {
  const std::vector<double> labels = target.to(f64).to_vector<double>();
  std::vector<double> hot(labels.size() * static_cast<std::size_t>(classes), 0.0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double k = labels[i];
    if (!(k >= 0 && k < static_cast<double>(classes)) || k != std::floor(k)) {
      throw_error<ValueError>(
          "CrossEntropy: target[{}] = {} is not a class index in [0, {}) (targets are "
          "integer-valued class indices)",
          i, k, classes);
    }
    hot[i * static_cast<std::size_t>(classes) + static_cast<std::size_t>(k)] = 1.0;
  }
  const Shape shape{static_cast<int64_t>(labels.size()), classes};
  return from_vector(hot, shape).to(dtype);
}

// The per-element losses, before weighting and reduction.

Tensor mse_values(const Tensor& pred, const Tensor& target) {
  check_pair("MSE", pred, target);
  return square(pred - target);
}

Tensor mae_values(const Tensor& pred, const Tensor& target) {
  check_pair("MAE", pred, target);
  return abs(pred - target);
}

void check_delta(double delta) {
  if (!(delta > 0)) throw_error<ValueError>("Huber: delta must be > 0, got {}", delta);
}

Tensor huber_values(const Tensor& pred, const Tensor& target, double delta) {
  check_pair("Huber", pred, target);
  check_delta(delta);
  const Tensor d = pred - target;
  const Tensor a = abs(d);
  // The branch mask is data, not part of the graph: each branch carries its own gradient.
  const Tensor inside = kernel::le(a.detach(), scalar_tensor(delta, a.dtype()));
  return where(inside, 0.5 * square(d), delta * (a - 0.5 * delta));
}

Tensor bce_values(const Tensor& logits, const Tensor& target) {
  check_pair("BCE", logits, target);
  // max(x, 0) - x*y + log(1 + exp(-|x|)): exp only ever sees values <= 0.
  return relu(logits) - logits * target + log(1.0 + exp(-abs(logits)));
}

// (B): one loss per sample.
Tensor cross_entropy_values(const Tensor& logits, const Tensor& target) {
  check_defined("CrossEntropy", logits);
  check_defined("CrossEntropy", target);
  if (logits.dim() != 2 || target.dim() != 1 || target.shape()[0] != logits.shape()[0]) {
    throw_error<ShapeError>(
        "CrossEntropy: expected logits (B, C) and class indices (B), got prediction shape {} "
        "and target shape {}",
        logits.shape(), target.shape());
  }
  const Tensor hot = one_hot(target, logits.shape()[1], logits.dtype());
  return -sum(hot * log_softmax(logits, 1), {1});
}

}  // namespace

Tensor reduce_weighted(const Tensor& per_element, Reduction reduction, const Tensor& sample_weight,
                       const Tensor& mask, const std::string& loss) {
  check_defined(loss.c_str(), per_element);
  Tensor weighted = per_element;
  if (sample_weight.defined()) {
    const Tensor w = sample_weight.to(per_element.dtype());
    weighted = weighted * align_left(loss, "sample_weight", w, per_element.shape());
  }
  if (mask.defined()) weighted = weighted * mask_weight(loss, mask, per_element, reduction);
  return reduce(weighted, reduction);
}

Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction reduction) {
  return mse_loss(pred, target, Tensor{}, reduction);
}

Tensor mae_loss(const Tensor& pred, const Tensor& target, Reduction reduction) {
  return mae_loss(pred, target, Tensor{}, reduction);
}

Tensor huber_loss(const Tensor& pred, const Tensor& target, double delta, Reduction reduction) {
  return huber_loss(pred, target, Tensor{}, delta, reduction);
}

Tensor bce_loss(const Tensor& logits, const Tensor& target, Reduction reduction) {
  return bce_loss(logits, target, Tensor{}, reduction);
}

Tensor cross_entropy_loss(const Tensor& logits, const Tensor& target, Reduction reduction) {
  return cross_entropy_loss(logits, target, Tensor{}, reduction);
}

Tensor mse_loss(const Tensor& pred, const Tensor& target, const Tensor& sample_weight,
                Reduction reduction) {
  return reduce_weighted(mse_values(pred, target), reduction, sample_weight, {}, "MSE");
}

Tensor mae_loss(const Tensor& pred, const Tensor& target, const Tensor& sample_weight,
                Reduction reduction) {
  return reduce_weighted(mae_values(pred, target), reduction, sample_weight, {}, "MAE");
}

Tensor huber_loss(const Tensor& pred, const Tensor& target, const Tensor& sample_weight,
                  double delta, Reduction reduction) {
  return reduce_weighted(huber_values(pred, target, delta), reduction, sample_weight, {}, "Huber");
}

Tensor bce_loss(const Tensor& logits, const Tensor& target, const Tensor& sample_weight,
                Reduction reduction) {
  return reduce_weighted(bce_values(logits, target), reduction, sample_weight, {}, "BCE");
}

Tensor cross_entropy_loss(const Tensor& logits, const Tensor& target, const Tensor& sample_weight,
                          Reduction reduction) {
  return reduce_weighted(cross_entropy_values(logits, target), reduction, sample_weight, {},
                         "CrossEntropy");
}

Tensor Loss::operator()(const Tensor& pred, const Tensor& target) const {
  // The loss's records carry its name as their scope ("MSE"), as a layer's carry the layer's:
  // graph dumps group them, the tape print and anomaly messages name them.
  NameScope scope(name());
  return reduce_weighted(per_element(pred, target), reduction_, {}, {}, name());
}

Tensor Loss::operator()(const Tensor& pred, const Tensor& target, const Tensor& sample_weight,
                        const Tensor& mask) const {
  // Unweighted, a loss that overrides only the two-argument call keeps working.
  if (!sample_weight.defined() && !mask.defined()) return (*this)(pred, target);
  NameScope scope(name());
  return reduce_weighted(per_element(pred, target), reduction_, sample_weight, mask, name());
}

Tensor Loss::per_element(const Tensor&, const Tensor&) const {
  throw_error<ValueError>(
      "{}: this loss defines only operator()(pred, target), so it cannot take a sample weight "
      "or a mask; override per_element(pred, target) with the unreduced loss instead",
      name());
}

Tensor MSE::per_element(const Tensor& pred, const Tensor& target) const {
  return mse_values(pred, target);
}

Tensor MAE::per_element(const Tensor& pred, const Tensor& target) const {
  return mae_values(pred, target);
}

Huber::Huber(double delta, Reduction reduction) : Loss(reduction), delta_(delta) {
  check_delta(delta);
}

Tensor Huber::per_element(const Tensor& pred, const Tensor& target) const {
  return huber_values(pred, target, delta_);
}

Tensor BCE::per_element(const Tensor& logits, const Tensor& target) const {
  return bce_values(logits, target);
}

Tensor CrossEntropy::per_element(const Tensor& logits, const Tensor& target) const {
  return cross_entropy_values(logits, target);
}

}  // namespace tapegrad::nn
