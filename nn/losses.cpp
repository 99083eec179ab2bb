// Losses composed from ops; see losses.hpp. Shared steps: check the shapes, compute the
// per-element loss, reduce.
#include <tapegrad/nn/losses.hpp>

#include <cmath>
#include <vector>

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

}  // namespace

Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction reduction) {
  check_pair("MSE", pred, target);
  return reduce(square(pred - target), reduction);
}

Tensor mae_loss(const Tensor& pred, const Tensor& target, Reduction reduction) {
  check_pair("MAE", pred, target);
  return reduce(abs(pred - target), reduction);
}

Tensor huber_loss(const Tensor& pred, const Tensor& target, double delta, Reduction reduction) {
  check_pair("Huber", pred, target);
  if (!(delta > 0)) throw_error<ValueError>("Huber: delta must be > 0, got {}", delta);
  const Tensor d = pred - target;
  const Tensor a = abs(d);
  // The branch mask is data, not part of the graph: each branch carries its own gradient.
  const Tensor inside = kernel::le(a.detach(), scalar_tensor(delta, a.dtype()));
  return reduce(where(inside, 0.5 * square(d), delta * (a - 0.5 * delta)), reduction);
}

Tensor bce_loss(const Tensor& logits, const Tensor& target, Reduction reduction) {
  check_pair("BCE", logits, target);
  // max(x, 0) - x*y + log(1 + exp(-|x|)): exp only ever sees values <= 0.
  return reduce(relu(logits) - logits * target + log(1.0 + exp(-abs(logits))), reduction);
}

Tensor cross_entropy_loss(const Tensor& logits, const Tensor& target, Reduction reduction) {
  check_defined("CrossEntropy", logits);
  check_defined("CrossEntropy", target);
  if (logits.dim() != 2 || target.dim() != 1 || target.shape()[0] != logits.shape()[0]) {
    throw_error<ShapeError>(
        "CrossEntropy: expected logits (B, C) and class indices (B), got prediction shape {} "
        "and target shape {}",
        logits.shape(), target.shape());
  }
  const Tensor hot = one_hot(target, logits.shape()[1], logits.dtype());
  return reduce(-sum(hot * log_softmax(logits, 1), {1}), reduction);
}

Tensor MSE::operator()(const Tensor& pred, const Tensor& target) const {
  return mse_loss(pred, target, reduction_);
}

Tensor MAE::operator()(const Tensor& pred, const Tensor& target) const {
  return mae_loss(pred, target, reduction_);
}

Huber::Huber(double delta, Reduction reduction) : Loss(reduction), delta_(delta) {
  if (!(delta > 0)) throw_error<ValueError>("Huber: delta must be > 0, got {}", delta);
}

Tensor Huber::operator()(const Tensor& pred, const Tensor& target) const {
  return huber_loss(pred, target, delta_, reduction_);
}

Tensor BCE::operator()(const Tensor& logits, const Tensor& target) const {
  return bce_loss(logits, target, reduction_);
}

Tensor CrossEntropy::operator()(const Tensor& logits, const Tensor& target) const {
  return cross_entropy_loss(logits, target, reduction_);
}

}  // namespace tapegrad::nn
