// The training loop, evaluation, prediction and the progress display; see fit.hpp.
#include <tapegrad/nn/fit.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <ostream>

#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/core/terminal.hpp>
#include <tapegrad/nn/data.hpp>
#include <tapegrad/nn/dist.hpp>
#include <tapegrad/nn/metrics.hpp>

namespace tapegrad::nn {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Puts the model in the requested mode and gives it back its previous one on exit.
class ModeGuard {
 public:
  ModeGuard(Module& model, bool training) : model_(model), previous_(model.is_training()) {
    model_.train(training);
  }
  ~ModeGuard() { model_.train(previous_); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  Module& model_;
  bool previous_;
};

// Sum of value * weight / sum of weights: epoch losses weighted by batch size.
class WeightedMean {
 public:
  void add(double value, int64_t weight) {
    sum_ += value * static_cast<double>(weight);
    weight_ += weight;
  }
  double mean() const { return sum_ / static_cast<double>(weight_); }

 private:
  double sum_ = 0;
  int64_t weight_ = 0;
};

void check_samples(const char* who, const Tensor& X) {
  check_defined(who, X);
  if (X.dim() < 1 || X.shape()[0] == 0) {
    throw_error<ValueError>("{}: no samples (X has shape {})", who, X.shape());
  }
}

void check_batch_size(const char* who, int64_t batch_size) {
  if (batch_size < 1)
    throw_error<ValueError>("{}: batch_size must be >= 1, got {}", who, batch_size);
}

// Whether the targets are per step of the mask's sequences, so that the mask reaches the
// loss: (N, T, ...) of rank >= 3 (see fit.hpp for why (N, T) is not).
bool per_step_targets(const Tensor& y, const Tensor& mask) {
  return mask.defined() && y.dim() >= 3 && y.shape()[1] == mask.shape()[1];
}

// The rows of an optional per-sample tensor (mask, sample weight) for batch `index`.
Tensor batch_rows(const Tensor& t, const data::Batches& batches, int64_t index) {
  return t.defined() ? data::take(t, batches.rows(index)) : Tensor{};
}

// One batch: inputs, targets and the rows of the mask and weights. The model always sees the
// mask; the loss only with per-step targets.
struct Batch {
  Tensor x, y, mask, weight;
  Tensor loss_mask() const { return per_step_targets(y, mask) ? mask : Tensor{}; }
};

Batch batch_of(const data::Batches& batches, int64_t index, const Tensor& mask,
               const Tensor& weight) {
  auto [xb, yb] = batches.batch(index);
  return {xb, yb, batch_rows(mask, batches, index), batch_rows(weight, batches, index)};
}

// The loss of one batch's predictions; fit and evaluate need one number per batch.
Tensor batch_loss(const Loss& loss, const Tensor& pred, const Batch& b, const char* who) {
  Tensor l = loss(pred, b.y, b.weight, b.loss_mask());
  if (l.numel() != 1) {
    throw_error<ValueError>(
        "{}: loss {} returned shape {}, not a scalar (use Reduction::mean "
        "or Reduction::sum)",
        who, loss.name(), l.shape());
  }
  return l;
}

// The metrics of one pass (an epoch's training batches, a validation set), whose sums travel
// end to end in one vector: what a distributed fit adds over the ranks with the loss.
class MetricSet {
 public:
  explicit MetricSet(const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      if (std::count(names.begin(), names.end(), name) > 1)
        throw_error<ValueError>("metric '{}' is given twice", name);
      metrics_.push_back(make_metric(name));
    }
  }

  // The sums of every metric for one batch's predictions, weighted and masked as its loss.
  std::vector<double> batch_sums(const Tensor& pred, const Batch& b) const {
    std::vector<double> sums;
    for (const auto& m : metrics_) {
      const std::vector<double> mine = m->batch_sums(pred, b.y, b.weight, b.loss_mask());
      sums.insert(sums.end(), mine.begin(), mine.end());
    }
    return sums;
  }

  // As many zeros as batch_sums gives: the part of a rank with no rows.
  std::vector<double> no_sums() const { return std::vector<double>(state().size(), 0.0); }

  // Adds sums laid out as batch_sums gives them, from `offset` on.
  void add(const std::vector<double>& sums, std::size_t offset = 0) {
    for (const auto& m : metrics_) {
      const auto first = sums.begin() + static_cast<std::ptrdiff_t>(offset);
      offset += m->state().size();
      m->add({first, sums.begin() + static_cast<std::ptrdiff_t>(offset)});
    }
  }

  std::vector<double> state() const {
    std::vector<double> all;
    for (const auto& m : metrics_) all.insert(all.end(), m->state().begin(), m->state().end());
    return all;
  }

  void log_into(Logs& logs, const std::string& prefix = "") const {
    for (const auto& m : metrics_) logs[prefix + m->name()] = m->result();
  }

 private:
  std::vector<std::unique_ptr<Metric>> metrics_;
};

void check_fit_options(const FitOptions& opts) {
  if (opts.epochs < 0) throw_error<ValueError>("fit: epochs must be >= 0, got {}", opts.epochs);
  if (opts.initial_epoch < 0 || opts.initial_epoch > opts.epochs) {
    throw_error<ValueError>(
        "fit: initial_epoch must be in [0, epochs = {}], got {} (epochs counts the whole run, "
        "as in Keras: to train 10 more epochs after epoch 50, give initial_epoch 50, epochs 60)",
        opts.epochs, opts.initial_epoch);
  }
  check_batch_size("fit", opts.batch_size);
  if (opts.verbose < 0 || opts.verbose > 2) {
    throw_error<ValueError>("fit: verbose must be 0, 1 or 2, got {}", opts.verbose);
  }
  if (!(opts.validation_split >= 0 && opts.validation_split < 1)) {
    throw_error<ValueError>("fit: validation_split must be in [0, 1), got {}",
                            opts.validation_split);
  }
}

// A mask must cover X's samples and steps; the RNN checks it again against each batch.
void check_mask_samples(const char* who, const Tensor& X, const Tensor& mask) {
  if (!mask.defined()) return;
  if (mask.dim() != 2 || X.dim() < 2 || mask.shape()[0] != X.shape()[0] ||
      mask.shape()[1] != X.shape()[1]) {
    throw_error<ShapeError>(
        "{}: the mask has shape {}, expected (samples, time) matching X of shape {}", who,
        mask.shape(), X.shape());
  }
}

// Sample weights start with one weight per sample of X; the loss checks the other axes.
void check_weight_samples(const char* who, const Tensor& X, const Tensor& weight) {
  if (!weight.defined()) return;
  if (weight.dim() < 1 || weight.shape()[0] != X.shape()[0]) {
    throw_error<ShapeError>(
        "{}: sample_weight has shape {}, expected (samples) or (samples, time, ...) with "
        "samples = {} as in X of shape {}",
        who, weight.shape(), X.shape()[0], X.shape());
  }
}

// Training and validation samples, split as Keras does, with their masks and weights.
struct FitData {
  Tensor X, y, mask, weight;
  std::optional<std::pair<Tensor, Tensor>> validation;
  Tensor validation_mask, validation_weight;
};

// The first n_train rows of an optional per-sample tensor, and the rest.
std::pair<Tensor, Tensor> split_rows(const Tensor& t, int64_t n_train) {
  if (!t.defined()) return {};
  const int64_t n = t.shape()[0];
  return {kernel::slice(t, 0, 0, n_train).contiguous(),
          kernel::slice(t, 0, n_train, n).contiguous()};
}

FitData fit_data(const Tensor& X, const Tensor& y, const FitOptions& opts) {
  check_mask_samples("fit", X, opts.mask);
  check_weight_samples("fit", X, opts.sample_weight);
  if (opts.validation_sample_weight.defined() && !opts.validation_data) {
    throw_error<ValueError>(
        "fit: validation_sample_weight of shape {} is given without validation_data (with "
        "validation_split, sample_weight is split with X)",
        opts.validation_sample_weight.shape());
  }
  if (opts.validation_data) {
    // Checked now rather than after the first epoch of training.
    const auto& [Xv, yv] = *opts.validation_data;
    check_samples("fit: validation_data", Xv);
    (void)data::Batches(Xv, yv, {.batch_size = 1});
    check_mask_samples("fit: validation_data", Xv, opts.validation_mask);
    check_weight_samples("fit: validation_data", Xv, opts.validation_sample_weight);
    return {X,
            y,
            opts.mask,
            opts.sample_weight,
            opts.validation_data,
            opts.validation_mask,
            opts.validation_sample_weight};
  }
  if (opts.validation_split == 0)
    return {X, y, opts.mask, opts.sample_weight, std::nullopt, {}, {}};
  data::Split s = data::split_last(X, y, opts.validation_split);
  const int64_t n_train = s.X_train.shape()[0];
  auto [train_mask, test_mask] = split_rows(opts.mask, n_train);
  auto [train_weight, test_weight] = split_rows(opts.sample_weight, n_train);
  return {s.X_train, s.y_train,  train_mask, train_weight, std::pair{s.X_test, s.y_test},
          test_mask, test_weight};
}

// The callbacks this rank runs: all of them, but on ranks other than 0 of a distributed fit
// none that prints or writes (Callback::root_only).
CallbackList callbacks_for(const FitOptions& opts, bool distributed) {
  CallbackList all;
  if (opts.verbose > 0 && opts.out)
    all.push_back(std::make_shared<ProgbarLogger>(opts.verbose, *opts.out));
  all.insert(all.end(), opts.callbacks.begin(), opts.callbacks.end());
  if (distributed && !dist::is_root()) {
    std::erase_if(all, [](const auto& cb) { return cb->root_only(); });
  }
  return all;
}

using dist::Share;
using dist::share_of;

Tensor rows_of(const Tensor& t, Share s) {
  return t.defined() ? kernel::slice(t, 0, s.begin, s.end).contiguous() : Tensor{};
}

// Each value summed over the ranks, in one collective.
std::vector<double> sum_over_ranks(const std::vector<double>& values) {
  const Tensor t = from_vector(values, {static_cast<int64_t>(values.size())});
  dist::all_reduce(t);
  return t.to_vector<double>();
}

// `first` followed by `rest`: one vector for one collective.
std::vector<double> joined(double first, const std::vector<double>& rest) {
  std::vector<double> all{first};
  all.insert(all.end(), rest.begin(), rest.end());
  return all;
}

// The metrics of `names` from their sums, as logs[prefix + name].
void log_metrics(Logs& logs, const std::vector<std::string>& names, const std::vector<double>& sums,
                 const std::string& prefix = "") {
  MetricSet metrics(names);
  metrics.add(sums);
  metrics.log_into(logs, prefix);
}

// The loss of one pass over a data set and its metrics' sums.
struct Pass {
  double loss = 0;
  std::vector<double> metric_sums;
};

Pass evaluate_pass(Module& model, const Loss& loss, const Tensor& X, const Tensor& y,
                   int64_t batch_size, const Tensor& mask, const Tensor& sample_weight,
                   const std::vector<std::string>& metric_names);

// A distributed fit's step on each rank's share of a global batch (fit.hpp): the share's
// loss is weighted by its part of the batch loss's denominator, so that the weighted sums
// over the ranks of losses and gradients are the global batch's.
class Replicas {
 public:
  Replicas(Module& model, const Loss& loss) : model_(model), loss_(loss), ddp_(model) {
    std::string state = default_generator().state();
    dist::broadcast(state);  // the same batch order on every rank
    default_generator().set_state(state);
  }

  // Returns the global batch's loss; adds the global batch's sums to `metrics`.
  double step(optim::Optimizer& opt, const Batch& global, MetricSet& metrics) {
    const Share share = share_of(global.x.shape()[0]);
    const Batch mine{rows_of(global.x, share), rows_of(global.y, share),
                     rows_of(global.mask, share), rows_of(global.weight, share)};
    const double weight = share_weight(global, mine, share);
    ddp_.set_weight(weight);
    opt.zero_grad();
    double local = 0;
    std::vector<double> sums = metrics.no_sums();
    if (share.size() > 0) {
      const Tensor pred = model_(mine.x, mine.mask);
      const Tensor l = batch_loss(loss_, pred, mine, "fit");
      sums = metrics.batch_sums(pred, mine);
      l.backward();
      local = l.item();
    } else {
      ddp_.synchronize();
    }
    opt.step();
    const std::vector<double> global_sums = sum_over_ranks(joined(local * weight, sums));
    metrics.add(global_sums, 1);
    return global_sums[0];
  }

  // evaluate() over the ranks: each takes its share of the rows, and the batch-size weighted
  // sums of the loss, and the metrics' sums, are added up.
  Pass evaluate(const Tensor& X, const Tensor& y, int64_t batch_size, const Tensor& mask,
                const Tensor& weight, const std::vector<std::string>& metric_names) {
    const int64_t n = X.shape()[0];
    const Share share = share_of(n);
    Pass local{0, MetricSet(metric_names).no_sums()};
    if (share.size() > 0) {
      local = evaluate_pass(model_, loss_, rows_of(X, share), rows_of(y, share), batch_size,
                            rows_of(mask, share), rows_of(weight, share), metric_names);
      local.loss *= static_cast<double>(share.size());
    }
    std::vector<double> global = sum_over_ranks(joined(local.loss, local.metric_sums));
    const double loss = global[0] / static_cast<double>(n);
    global.erase(global.begin());
    return {loss, global};
  }

 private:
  // This share's part of the batch loss's denominator: rows, or valid steps when a per-step
  // mask reaches the loss; a sum has none, and each share counts whole.
  double share_weight(const Batch& global, const Batch& mine, Share share) const {
    if (loss_.reduction() == Reduction::sum) return 1.0;
    const Tensor global_mask = global.loss_mask();
    if (!global_mask.defined()) {
      return static_cast<double>(share.size()) / static_cast<double>(global.x.shape()[0]);
    }
    const double valid = count_nonzero(global_mask);
    return valid == 0 ? 0.0 : count_nonzero(mine.mask) / valid;
  }

  static double count_nonzero(const Tensor& mask) {
    if (!mask.defined()) return 0;
    return dispatch(mask.dtype(), [&]<class T>(T) {
      const Tensor m = mask.contiguous();
      const T* p = m.data<T>();
      return static_cast<double>(std::count_if(p, p + m.numel(), [](T v) { return v != T(0); }));
    });
  }

  Module& model_;
  const Loss& loss_;
  dist::DataParallel ddp_;
};

bool stop_requested(const CallbackList& callbacks) {
  for (const auto& cb : callbacks) {
    if (cb->stop_training()) return true;
  }
  return false;
}

// One optimizer step on a batch; returns its loss and adds its sums to `metrics`.
double train_step(Module& model, const Loss& loss, optim::Optimizer& opt, const Batch& b,
                  MetricSet& metrics) {
  opt.zero_grad();
  const Tensor pred = model(b.x, b.mask);
  const Tensor l = batch_loss(loss, pred, b, "fit");
  metrics.add(metrics.batch_sums(pred, b));
  l.backward();
  opt.step();
  return l.item();
}

// One pass over the batches; returns the epoch logs: loss and metrics. `replicas`: a
// distributed fit's.
Logs train_epoch(Module& model, const Loss& loss, optim::Optimizer& opt,
                 const data::Batches& batches, const FitData& d, const CallbackList& callbacks,
                 const std::vector<std::string>& metric_names, Replicas* replicas) {
  WeightedMean epoch_loss;
  MetricSet metrics(metric_names);
  for (int64_t index = 0; index < batches.size(); ++index) {
    const Batch b = batch_of(batches, index, d.mask, d.weight);
    const double value =
        replicas ? replicas->step(opt, b, metrics) : train_step(model, loss, opt, b, metrics);
    const int64_t size = b.x.shape()[0];
    epoch_loss.add(value, size);
    Logs logs{
        {"loss", epoch_loss.mean()}, {"batch_loss", value}, {"size", static_cast<double>(size)}};
    metrics.log_into(logs);
    for (const auto& cb : callbacks) cb->on_batch_end(index, logs);
    if (stop_requested(callbacks)) break;
  }
  Logs logs{{"loss", epoch_loss.mean()}};
  metrics.log_into(logs);
  return logs;
}

// The validation loss and metrics of an epoch, as "val_loss", "val_mae", ...
void log_validation(Logs& logs, Module& model, const Loss& loss, const FitData& d,
                    int64_t batch_size, const std::vector<std::string>& metric_names,
                    Replicas* replicas) {
  const auto& [Xv, yv] = *d.validation;
  const Pass pass = replicas ? replicas->evaluate(Xv, yv, batch_size, d.validation_mask,
                                                  d.validation_weight, metric_names)
                             : evaluate_pass(model, loss, Xv, yv, batch_size, d.validation_mask,
                                             d.validation_weight, metric_names);
  logs["val_loss"] = pass.loss;
  log_metrics(logs, metric_names, pass.metric_sums, "val_");
}

}  // namespace

History fit(Module& model, const Loss& loss, optim::Optimizer& opt, const Tensor& X,
            const Tensor& y, const FitOptions& opts) {
  check_fit_options(opts);
  check_samples("fit", X);
  (void)MetricSet(opts.metrics);  // unknown or repeated names fail before training
  const FitData d = fit_data(X, y, opts);
  // A full-batch optimizer sees the whole set each step; its order does not matter.
  const bool full = opt.full_batch();
  const data::BatchOptions batching{.batch_size = full ? d.X.shape()[0] : opts.batch_size,
                                    .shuffle = opts.shuffle && !full};
  const int64_t steps = data::Batches(d.X, d.y, {.batch_size = batching.batch_size}).size();

  const bool distributed = opts.distributed && dist::world_size() > 1;
  std::optional<Replicas> replicas;
  if (distributed) replicas.emplace(model, loss);
  const CallbackList callbacks = callbacks_for(opts, distributed);
  for (const auto& cb : callbacks)
    cb->set_context(model, opt,
                    {opts.epochs, steps, opts.verbose, opts.initial_epoch, opts.metrics});
  const ModeGuard training(model, true);
  for (const auto& cb : callbacks) cb->on_train_begin({});

  History h;
  Logs logs;
  for (int epoch = opts.initial_epoch; epoch < opts.epochs && !stop_requested(callbacks); ++epoch) {
    for (const auto& cb : callbacks) cb->on_epoch_begin(epoch, {});
    const double lr = opt.lr();  // after on_epoch_begin, where schedulers set it
    const data::Batches batches(d.X, d.y, batching);
    Replicas* const shares = replicas ? &*replicas : nullptr;
    logs = train_epoch(model, loss, opt, batches, d, callbacks, opts.metrics, shares);
    logs["lr"] = lr;
    if (d.validation) {
      log_validation(logs, model, loss, d, batching.batch_size, opts.metrics, shares);
    }
    h.record(logs);
    for (const auto& cb : callbacks) cb->on_epoch_end(epoch, logs);
  }
  for (const auto& cb : callbacks) cb->on_train_end(logs);
  return h;
}

namespace {

Pass evaluate_pass(Module& model, const Loss& loss, const Tensor& X, const Tensor& y,
                   int64_t batch_size, const Tensor& mask, const Tensor& sample_weight,
                   const std::vector<std::string>& metric_names) {
  check_samples("evaluate", X);
  check_batch_size("evaluate", batch_size);
  check_mask_samples("evaluate", X, mask);
  check_weight_samples("evaluate", X, sample_weight);
  const NoGradGuard no_grad;
  const ModeGuard inference(model, false);
  WeightedMean total;
  MetricSet metrics(metric_names);
  const data::Batches batches(X, y, {.batch_size = batch_size});
  for (int64_t i = 0; i < batches.size(); ++i) {
    const Batch b = batch_of(batches, i, mask, sample_weight);
    const Tensor pred = model(b.x, b.mask);
    total.add(batch_loss(loss, pred, b, "evaluate").item(), b.x.shape()[0]);
    metrics.add(metrics.batch_sums(pred, b));
  }
  return {total.mean(), metrics.state()};
}

}  // namespace

double evaluate(Module& model, const Loss& loss, const Tensor& X, const Tensor& y,
                int64_t batch_size, const Tensor& mask, const Tensor& sample_weight) {
  return evaluate_pass(model, loss, X, y, batch_size, mask, sample_weight, {}).loss;
}

Logs evaluate_metrics(Module& model, const Loss& loss, const Tensor& X, const Tensor& y,
                      const std::vector<std::string>& metrics, int64_t batch_size,
                      const Tensor& mask, const Tensor& sample_weight) {
  (void)MetricSet(metrics);  // unknown names fail before the pass
  const Pass pass = evaluate_pass(model, loss, X, y, batch_size, mask, sample_weight, metrics);
  Logs logs{{"loss", pass.loss}};
  log_metrics(logs, metrics, pass.metric_sums);
  return logs;
}

Tensor predict(Module& model, const Tensor& X, int64_t batch_size, const Tensor& mask) {
  check_samples("predict", X);
  check_batch_size("predict", batch_size);
  check_mask_samples("predict", X, mask);
  const NoGradGuard no_grad;
  const ModeGuard inference(model, false);
  std::vector<Tensor> outputs;
  const int64_t n = X.shape()[0];
  for (int64_t start = 0; start < n; start += batch_size) {
    // A slice of axis 0 of contiguous data is itself contiguous: no copy needed.
    const int64_t stop = std::min(start + batch_size, n);
    const Tensor mb = mask.defined() ? kernel::slice(mask, 0, start, stop).contiguous() : Tensor{};
    outputs.push_back(model(kernel::slice(X, 0, start, stop), mb));
  }
  return outputs.size() == 1 ? outputs[0].contiguous() : kernel::concat(outputs, 0);
}

// ---- ProgbarLogger ----

namespace {

constexpr int kBarWidth = 30;

std::string format_value(double v) {
  return std::abs(v) > 1e-3 ? fmt::format("{:.4f}", v) : fmt::format("{:.4e}", v);
}

// " - loss: ... - mae: ... - val_loss: ... - val_mae: ...": Keras's order, the keys present.
std::string format_metrics(const Logs& logs, const std::vector<std::string>& metrics) {
  std::vector<std::string> keys{"loss"};
  keys.insert(keys.end(), metrics.begin(), metrics.end());
  keys.emplace_back("val_loss");
  for (const std::string& m : metrics) keys.push_back("val_" + m);
  std::string s;
  for (const std::string& key : keys) {
    const auto it = logs.find(key);
    if (it != logs.end()) s += fmt::format(" - {}: {}", key, format_value(it->second));
  }
  return s;
}

std::string format_per_step(double seconds) {
  if (seconds >= 1 || seconds == 0) return fmt::format("{:.0f}s/step", seconds);
  if (seconds >= 1e-3) return fmt::format("{:.0f}ms/step", seconds * 1e3);
  return fmt::format("{:.0f}us/step", seconds * 1e6);
}

}  // namespace

ProgbarLogger::ProgbarLogger(int verbose, std::ostream& out)
    : ProgbarLogger(verbose, out, is_terminal(out)) {}

ProgbarLogger::ProgbarLogger(int verbose, std::ostream& out, bool redraw)
    : verbose_(verbose), out_(out), redraw_(redraw) {}

double ProgbarLogger::elapsed() const {
  return now_seconds() - start_;
}

void ProgbarLogger::on_epoch_begin(int epoch, const Logs&) {
  start_ = now_seconds();
  done_ = 0;
  shown_ = 0;
  if (verbose_ == 1) out_ << fmt::format("Epoch {}/{}", epoch + 1, params().epochs) << std::endl;
}

// "  3/400 [=====>........................]": the count right-aligned to the total's width.
std::string ProgbarLogger::bar(int64_t done) const {
  const int64_t total = std::max<int64_t>(params().steps, 1);
  const int width = static_cast<int>(kBarWidth * std::min<int64_t>(done, total) / total);
  std::string s = fmt::format("{:>{}}/{} [", done, fmt::formatted_size("{}", total), total);
  if (width > 0)
    s += std::string(static_cast<std::size_t>(width - 1), '=') + (done < total ? '>' : '=');
  return s + std::string(static_cast<std::size_t>(kBarWidth - width), '.') + "]";
}

void ProgbarLogger::redraw(const std::string& line) {
  if (!redraw_) {
    out_ << line;
    return;
  }
  out_ << '\r' << line;
  if (line.size() < shown_) out_ << std::string(shown_ - line.size(), ' ');
  out_.flush();
  shown_ = line.size();
}

void ProgbarLogger::on_batch_end(int64_t batch, const Logs& logs) {
  done_ = batch + 1;
  if (verbose_ != 1 || !redraw_) return;
  const double per_step = elapsed() / static_cast<double>(done_);
  const double eta = per_step * static_cast<double>(std::max<int64_t>(params().steps - done_, 0));
  redraw(bar(done_) + " - ETA: " + clock_time(eta) + format_metrics(logs, params().metrics));
}

void ProgbarLogger::on_epoch_end(int epoch, const Logs& logs) {
  const double seconds = elapsed();
  if (verbose_ == 1) {
    const double per_step = done_ > 0 ? seconds / static_cast<double>(done_) : 0.0;
    redraw(bar(done_) + fmt::format(" - {:.0f}s {}", seconds, format_per_step(per_step)) +
           format_metrics(logs, params().metrics));
    out_ << std::endl;
  } else {
    out_ << fmt::format("Epoch {}/{} - {:.0f}s", epoch + 1, params().epochs, seconds)
         << format_metrics(logs, params().metrics) << std::endl;
  }
}

}  // namespace tapegrad::nn
