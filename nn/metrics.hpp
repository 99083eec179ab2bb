// Metrics: numbers reported beside the loss (Keras's metrics), never differentiated.
//
//   tg::nn::fit(model, loss, opt, X, y, {.epochs = 100, .metrics = {"mae", "rmse"}});
//       History, callbacks' logs, CSVLogger and the progress bar get "mae", "val_mae", ...
//   double r2 = tg::nn::compute_metric("r2", pred, y);   // one call on whole tensors
//   auto m = tg::nn::make_metric("mae");                 // Keras's stateful metric
//   m->update_state(pred_b, y_b);  ...  m->result();
//
// Names (Keras's short names):
//   mae       mean |pred - target|
//   rmse      sqrt(mean (pred - target)^2): the root of the mean over ALL samples, not a mean
//             of batch roots
//   mape      100 * mean |pred - target| / max(|target|, 1e-7), in percent (Keras)
//   r2        1 - SS_res / SS_tot, SS_tot the target's sum of squared deviations from its
//             mean; pooled over all elements (with several output columns Keras averages
//             per-column scores instead). A constant target (SS_tot = 0) scores 1 as Keras's
//             divide_no_nan makes it.
//   accuracy  the fraction of right answers, chosen by shape as Keras's "accuracy" is: one
//             output column, binary (pred > 0.5 against target > 0.5); several columns,
//             argmax of pred against argmax of a one-hot target, or against the class index
//             of a one-column target.
//
// Stateful as in Keras: a metric keeps sums over the batches it has seen (state()), and
// result() computes the metric from them, so an epoch's metric is the metric of the whole
// epoch. The sums are plain numbers that add across batches and across the ranks of a
// distributed fit (all_reduce them, then add()). A metric computes on the values alone: no
// tape, no gradient, whatever the tensors' requires_grad.
//
// Sample weights and masks as the losses take them (losses.hpp): a weight (N) per sample or
// (N, T, ...) per step, aligned from the left, multiplies each element's contribution, and
// the mean divides by the sum of the weights (Keras's metrics, unlike its losses, which keep
// the batch size as denominator); a mask (nonzero = valid) is a 0/1 weight on top. For
// accuracy the elements are the rows over the class axis. A metric with nothing weighted yet
// (no samples, all weights 0) is NaN.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <tapegrad/core/tensor.hpp>

namespace tapegrad::nn {

class Metric {
 public:
  virtual ~Metric() = default;

  // Its name in logs ("mae"); the validation value is "val_" + name.
  virtual std::string name() const = 0;
  // The sums one batch adds to the state, always state().size() of them: what ranks add up.
  // pred and target must have the same shape (accuracy: see above); weight and mask are
  // optional. Throws ShapeError naming the metric and the shapes.
  virtual std::vector<double> batch_sums(const Tensor& pred, const Tensor& target,
                                         const Tensor& sample_weight = {},
                                         const Tensor& mask = {}) const = 0;
  // The metric of a state of sums.
  virtual double result_of(const std::vector<double>& sums) const = 0;

  void update_state(const Tensor& pred, const Tensor& target, const Tensor& sample_weight = {},
                    const Tensor& mask = {});
  // Adds sums from batch_sums (of this metric, maybe summed over ranks).
  void add(const std::vector<double>& sums);
  double result() const { return result_of(state_); }
  void reset_state();
  const std::vector<double>& state() const { return state_; }

 protected:
  explicit Metric(std::size_t sums) : state_(sums, 0.0) {}

 private:
  std::vector<double> state_;
};

// The metric of a name listed above; ValueError naming the known ones otherwise.
std::unique_ptr<Metric> make_metric(const std::string& name);
// The names make_metric knows, in the order listed above.
const std::vector<std::string>& metric_names();
// The metric `name` of whole tensors: make_metric(name), one update_state, result().
double compute_metric(const std::string& name, const Tensor& pred, const Tensor& target,
                      const Tensor& sample_weight = {}, const Tensor& mask = {});

}  // namespace tapegrad::nn
