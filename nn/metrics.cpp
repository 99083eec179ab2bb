// The metrics of metrics.hpp: each turns a batch into a few weighted sums and the sums into
// its value, so that batches and ranks combine by adding sums.
#include <tapegrad/nn/metrics.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <fmt/ranges.h>

#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/nn/losses.hpp>

namespace tapegrad::nn {

void Metric::update_state(const Tensor& pred, const Tensor& target, const Tensor& sample_weight,
                          const Tensor& mask) {
  add(batch_sums(pred, target, sample_weight, mask));
}

void Metric::add(const std::vector<double>& sums) {
  if (sums.size() != state_.size()) {
    throw_error<ValueError>("metric {}: {} sums given, its state has {}", name(), sums.size(),
                            state_.size());
  }
  for (std::size_t i = 0; i < sums.size(); ++i) state_[i] += sums[i];
}

void Metric::reset_state() {
  std::fill(state_.begin(), state_.end(), 0.0);
}

namespace {

// A tensor's values in row-major order, as doubles, off the tape.
std::vector<double> values_of(const Tensor& t) {
  return t.detach().to(f64).contiguous().to_vector<double>();
}

// One weight per element of `shape`: sample weight times mask (0 or 1), aligned from the left
// as the losses align them.
std::vector<double> element_weights(const std::string& metric, const Shape& shape,
                                    const Tensor& sample_weight, const Tensor& mask) {
  const Tensor all_ones = ones(shape, f64);
  if (!sample_weight.defined() && !mask.defined()) return values_of(all_ones);
  const NoGradGuard no_grad;
  const auto detached = [](const Tensor& t) { return t.defined() ? t.detach() : Tensor{}; };
  return values_of(
      reduce_weighted(all_ones, Reduction::none, detached(sample_weight), detached(mask), metric));
}

void check_same_shape(const std::string& metric, const Tensor& pred, const Tensor& target) {
  check_defined(metric.c_str(), pred);
  check_defined(metric.c_str(), target);
  if (!(pred.shape() == target.shape())) {
    throw_error<ShapeError>(
        "metric {}: prediction shape {} and target shape {} differ (metrics, like losses, do "
        "not broadcast)",
        metric, pred.shape(), target.shape());
  }
}

// Prediction, target and weight of each element of a batch.
struct Elements {
  std::vector<double> pred, target, weight;
};

Elements elements_of(const std::string& metric, const Tensor& pred, const Tensor& target,
                     const Tensor& sample_weight, const Tensor& mask) {
  check_same_shape(metric, pred, target);
  return {values_of(pred), values_of(target),
          element_weights(metric, pred.shape(), sample_weight, mask)};
}

// sum / weight, NaN with nothing weighted.
double ratio(double sum, double weight) {
  return weight > 0 ? sum / weight : NAN;
}

// A weighted mean of one term per element: sums (sum of w * term, sum of w).
class ElementMean final : public Metric {
 public:
  using Term = std::function<double(double pred, double target)>;
  using Finish = std::function<double(double mean)>;
  ElementMean(std::string name, Term term, Finish finish = {})
      : Metric(2), name_(std::move(name)), term_(std::move(term)), finish_(std::move(finish)) {}

  std::string name() const override { return name_; }

  std::vector<double> batch_sums(const Tensor& pred, const Tensor& target,
                                 const Tensor& sample_weight, const Tensor& mask) const override {
    const Elements e = elements_of(name_, pred, target, sample_weight, mask);
    double sum = 0, weight = 0;
    for (std::size_t i = 0; i < e.pred.size(); ++i) {
      if (e.weight[i] == 0) continue;  // a masked step's target may be anything, even NaN
      sum += e.weight[i] * term_(e.pred[i], e.target[i]);
      weight += e.weight[i];
    }
    return {sum, weight};
  }

  double result_of(const std::vector<double>& sums) const override {
    const double mean = ratio(sums.at(0), sums.at(1));
    return finish_ ? finish_(mean) : mean;
  }

 private:
  std::string name_;
  Term term_;
  Finish finish_;
};

// Sums (sum of w e^2, sum of w y, sum of w y^2, sum of w): the residual and total sums of
// squares of any union of batches.
class R2Score final : public Metric {
 public:
  R2Score() : Metric(4) {}
  std::string name() const override { return "r2"; }

  std::vector<double> batch_sums(const Tensor& pred, const Tensor& target,
                                 const Tensor& sample_weight, const Tensor& mask) const override {
    const Elements e = elements_of(name(), pred, target, sample_weight, mask);
    std::vector<double> sums(4, 0.0);
    for (std::size_t i = 0; i < e.pred.size(); ++i) {
      const double w = e.weight[i], y = e.target[i], d = e.pred[i] - y;
      if (w == 0) continue;
      sums[0] += w * d * d;
      sums[1] += w * y;
      sums[2] += w * y * y;
      sums[3] += w;
    }
    return sums;
  }

  double result_of(const std::vector<double>& sums) const override {
    const double weight = sums.at(3);
    if (!(weight > 0)) return NAN;
    const double total = std::max(sums.at(2) - sums.at(1) * sums.at(1) / weight, 0.0);
    return total > 0 ? 1.0 - sums.at(0) / total : 1.0;  // Keras's divide_no_nan
  }
};

// The class of each row of `t` over its last axis (size k > 1): the argmax.
std::vector<double> argmax_rows(const std::vector<double>& values, int64_t k) {
  std::vector<double> classes;
  for (std::size_t start = 0; start < values.size(); start += static_cast<std::size_t>(k)) {
    const auto row = values.begin() + static_cast<std::ptrdiff_t>(start);
    classes.push_back(static_cast<double>(std::max_element(row, row + k) - row));
  }
  return classes;
}

// The fraction of right answers: sums (sum of w right, sum of w), one element per row of
// classes (or per output, for binary).
class Accuracy final : public Metric {
 public:
  Accuracy() : Metric(2) {}
  std::string name() const override { return "accuracy"; }

  std::vector<double> batch_sums(const Tensor& pred, const Tensor& target,
                                 const Tensor& sample_weight, const Tensor& mask) const override {
    check_defined("accuracy", pred);
    check_defined("accuracy", target);
    const int64_t k = pred.dim() >= 2 ? pred.shape()[pred.dim() - 1] : 1;
    if (k == 1) return binary(pred, target, sample_weight, mask);
    const Shape rows(pred.shape().begin(), pred.shape().end() - 1);
    std::vector<double> truth;
    if (target.shape() == pred.shape()) {  // one-hot
      truth = argmax_rows(values_of(target), k);
    } else if (target.shape() == rows || target.shape() == with_last(rows, 1)) {  // indices
      truth = values_of(target);
    } else {
      throw_error<ShapeError>(
          "metric accuracy: prediction shape {} (scores of {} classes) needs a one-hot target "
          "of the same shape or class indices of shape {}, got target shape {}",
          pred.shape(), k, rows, target.shape());
    }
    return counted(argmax_rows(values_of(pred), k), truth,
                   element_weights(name(), rows, sample_weight, mask));
  }

  double result_of(const std::vector<double>& sums) const override {
    return ratio(sums.at(0), sums.at(1));
  }

 private:
  static Shape with_last(const Shape& rows, int64_t last) {
    std::vector<int64_t> dims = rows.vec();
    dims.push_back(last);
    return Shape(dims);
  }

  std::vector<double> binary(const Tensor& pred, const Tensor& target, const Tensor& weight,
                             const Tensor& mask) const {
    Elements e = elements_of(name(), pred, target, weight, mask);
    const auto above_half = [](std::vector<double>& v) {
      for (double& x : v) x = x > 0.5 ? 1.0 : 0.0;
    };
    above_half(e.pred);
    above_half(e.target);
    return counted(e.pred, e.target, e.weight);
  }

  static std::vector<double> counted(const std::vector<double>& predicted,
                                     const std::vector<double>& truth,
                                     const std::vector<double>& weight) {
    double right = 0, total = 0;
    for (std::size_t i = 0; i < predicted.size(); ++i) {
      if (weight[i] == 0) continue;
      right += weight[i] * (predicted[i] == truth[i] ? 1.0 : 0.0);
      total += weight[i];
    }
    return {right, total};
  }
};

// Keras's epsilon in MAPE's denominator.
constexpr double kMapeEpsilon = 1e-7;

}  // namespace

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names{"mae", "rmse", "mape", "r2", "accuracy"};
  return names;
}

std::unique_ptr<Metric> make_metric(const std::string& name) {
  if (name == "mae") {
    return std::make_unique<ElementMean>(name, [](double p, double y) { return std::abs(p - y); });
  }
  if (name == "rmse") {
    return std::make_unique<ElementMean>(
        name, [](double p, double y) { return (p - y) * (p - y); },
        [](double mean) { return std::sqrt(mean); });
  }
  if (name == "mape") {
    return std::make_unique<ElementMean>(name, [](double p, double y) {
      return 100.0 * std::abs(p - y) / std::max(std::abs(y), kMapeEpsilon);
    });
  }
  if (name == "r2") return std::make_unique<R2Score>();
  if (name == "accuracy") return std::make_unique<Accuracy>();
  throw_error<ValueError>("unknown metric '{}' (known: {})", name, fmt::join(metric_names(), ", "));
}

double compute_metric(const std::string& name, const Tensor& pred, const Tensor& target,
                      const Tensor& sample_weight, const Tensor& mask) {
  const std::unique_ptr<Metric> metric = make_metric(name);
  metric->update_state(pred, target, sample_weight, mask);
  return metric->result();
}

}  // namespace tapegrad::nn
