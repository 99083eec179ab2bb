// fit / evaluate / predict: Keras's training loop over a Module, a Loss and an Optimizer.
//
//   tg::nn::History h = tg::nn::fit(model, loss_fn, opt, X, y, {.epochs = 100});
//   double val = tg::nn::evaluate(model, loss_fn, X_val, y_val);
//   tg::Tensor pred = tg::nn::predict(model, X_test);
//
// fit: the validation samples are taken first (opts.validation_data, else the LAST
// validation_split of X and y, before shuffling, as Keras does). Then per epoch: a new
// sample order from the default generator (shuffle), batches of batch_size (the last one
// smaller), and per batch zero_grad, forward, loss, backward, opt.step(). The epoch's loss
// is the mean of the batch losses weighted by batch size, each taken before its batch's
// update (what Keras reports). When opt.full_batch() (optim::GD), every step sees the whole
// training set: one step per epoch, batch_size ignored. After the epoch, the validation loss
// comes from evaluate(). History collects "loss", "val_loss" (with validation) and "lr" per
// epoch; callbacks see the same values.
//
// Epochs are numbered from opts.initial_epoch (Keras's fit(initial_epoch=...)): a run resumed
// with {.epochs = 100, .initial_epoch = 50} trains epochs 50..99, and callbacks, the progress
// bar ("Epoch 51/100") and learning-rate schedules see those absolute numbers; History holds
// only the epochs this call ran.
//
// Metrics (opts.metrics, Keras's compile(metrics=[...])): each named metric of metrics.hpp is
// accumulated over the epoch's training batches, on each batch's predictions before its
// update (as the loss), with the batch's sample weights and, for per-step targets, its mask;
// the epoch logs it under its name ("mae") and, with validation, "val_" + name computed on the
// validation set as evaluate_metrics does. History, the callbacks (batch logs hold the running
// value), CSVLogger's columns and the progress bar show them in Keras's order: loss, metrics,
// val_loss, val_ metrics. A distributed fit adds the metrics' sums over the ranks with the
// loss's, so every rank logs the same global values.
//
// Variable-length sequences: opts.mask (N, T), nonzero at valid steps (tg::data::pad_sequences
// gives one), is sliced per batch like X and reaches the model as model(xb, mask_b): a
// Sequential hands it to its recurrent layers (Module::forward_masked). validation_split
// splits it with X; with validation_data give validation_mask. evaluate and predict take one
// too. The mask makes each sample's state and outputs ignore its padding, and with per-step
// targets it reaches the loss as well (Keras: the masked output's mask): when y has shape
// (N, T, ...) of rank >= 3 with the mask's T, the loss is the mean over the valid steps only,
// loss(pred_b, y_b, w_b, mask_b), so padded steps change neither the loss nor the gradients
// whatever their targets (see losses.hpp). Targets (N, k) are per-sample vectors even when
// k == T (a forecast of T values); give per-step scalar targets as (N, T, 1), the shape
// Dense(1) over a sequence produces.
//
// Sample weights (Keras's fit(sample_weight=...)): opts.sample_weight (N), one weight per
// sample, or (N, T, ...), per step, aligned with the per-element loss from the left as
// losses.hpp describes; sliced, shuffled and split by validation_split with X. With
// validation_data give validation_sample_weight (Keras's 3-tuple). The batch loss is
// loss(pred_b, y_b, w_b): sum(l * w) / (elements in the batch), so a weight 0 removes a
// sample and a weight 2 counts it as twice the same sample would. The epoch loss stays the
// mean of batch losses weighted by batch size (samples, not weights), as Keras reports it.
// evaluate takes a sample_weight too; predict has no use for one.
//
// Distributed (opts.distributed, in a tg::dist::Session of N > 1 ranks, Keras 3's
// DataParallel): every rank runs fit with the same arguments. batch_size is the global
// batch; rank r trains on rows [r*b/N, (r+1)*b/N) of each batch of b rows, so shares differ
// by one row at most (100 samples on 3 ranks, batch 32: 10, 11 and 11 rows, and 1, 1, 2 in
// the last batch of 4); a rank whose share of a small last batch is empty still takes part
// in the step. Every rank starts from rank 0's weights and shuffles with rank 0's generator
// state, and a tg::dist::DataParallel averages the gradients during backward, each rank's
// weighted by its share of the batch's loss denominator (rows; valid steps with a per-step
// mask; 1 for Reduction::sum), so each step is the one a single process takes on the whole
// batch, to rounding. The losses shown, logged and returned are the global ones, the same
// on every rank; the validation set is split over the ranks by rows and its loss summed. So
// callbacks see the same logs everywhere and decide alike (early stopping, schedules);
// those whose root_only() is true (progress bar, CSVLogger, ModelCheckpoint) run on rank 0
// alone, so one rank prints and writes.
//
// evaluate and predict run under NoGradGuard with the model in eval mode (restored to its
// previous mode afterwards, even on error): they record nothing on the tape, so they can be
// called any number of times without growing memory.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/nn/callbacks.hpp>
#include <tapegrad/nn/losses.hpp>
#include <tapegrad/nn/module.hpp>
#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::nn {

// The fields come in the order a Keras user writes fit's keyword arguments (C++20 designated
// initializers must follow declaration order): {.epochs = 100, .initial_epoch = 50,
// .batch_size = 32, .validation_split = 0.2, .metrics = {"mae"}, .callbacks = {...},
// .verbose = 0}; then the rarer ones.
struct FitOptions {
  int epochs = 1;         // the epoch to stop before, counted over the whole run (Keras)
  int initial_epoch = 0;  // the epoch to start at (a resumed run: the epochs already done)
  int64_t batch_size = 32;
  double validation_split = 0;  // in [0, 1): the last fraction of the samples validates
  std::optional<std::pair<Tensor, Tensor>> validation_data = {};  // takes precedence over split
  // Metrics beside the loss, by name (metrics.hpp: "mae", "rmse", "mape", "r2", "accuracy"):
  // each epoch logs "mae" over its training batches and, with validation, "val_mae".
  std::vector<std::string> metrics = {};
  CallbackList callbacks = {};
  int verbose = 1;  // 0 silent, 1 progress bar, 2 one line per epoch
  bool shuffle = true;
  Tensor mask = {};                      // (N, T) valid time steps of X; undefined: none
  Tensor validation_mask = {};           // the same for validation_data
  Tensor sample_weight = {};             // (N) per sample or (N, T, ...) per step; undefined: all 1
  Tensor validation_sample_weight = {};  // the same for validation_data
  std::ostream* out = &std::cout;        // where progress goes (nullptr: nowhere)
  // Data-parallel training over the ranks of a tg::dist::Session (below); a no-op in a world
  // of one.
  bool distributed = false;
};

History fit(Module& model, const Loss& loss, optim::Optimizer& opt, const Tensor& X,
            const Tensor& y, const FitOptions& opts = {});

// The loss over all samples: the mean of batch losses weighted by batch size.
// `mask` (N, T): the valid time steps of X, as in FitOptions::mask (with per-step targets,
// padded steps do not count); `sample_weight` as in FitOptions::sample_weight.
double evaluate(Module& model, const Loss& loss, const Tensor& X, const Tensor& y,
                int64_t batch_size = 32, const Tensor& mask = {}, const Tensor& sample_weight = {});

// evaluate with metrics (Keras's evaluate(..., return_dict=True)): "loss" as evaluate returns
// it, and each of `metrics` (metrics.hpp) over all samples, weighted and masked as the loss.
Logs evaluate_metrics(Module& model, const Loss& loss, const Tensor& X, const Tensor& y,
                      const std::vector<std::string>& metrics, int64_t batch_size = 32,
                      const Tensor& mask = {}, const Tensor& sample_weight = {});

// The model's outputs for X, computed batch by batch and joined along axis 0.
Tensor predict(Module& model, const Tensor& X, int64_t batch_size = 32, const Tensor& mask = {});

// The progress display of fit (Keras's ProgbarLogger), added by fit when opts.verbose > 0:
//   verbose 1:  "Epoch 3/100" on its own line, then a bar redrawn with '\r' after each batch
//               and finished as "4/4 [======...] - 0s 2ms/step - loss: 0.0812 - val_loss: ..."
//   verbose 2:  "Epoch 3/100 - 0s - loss: 0.0812 - val_loss: 0.0790" per epoch.
// With metrics, Keras's order: "- loss: 0.0812 - mae: 0.2100 - val_loss: ... - val_mae: ...".
// Losses and metrics print as %.4f, or %.4e when |loss| <= 1e-3 (Keras).
// The bar is redrawn only on a terminal: std::cout or std::cerr/clog when their file
// descriptor is a TTY. Any other stream (a file, a pipe, a string) gets verbose 1's finished
// bar once per epoch and no '\r', as Keras does when its output is not interactive.
class ProgbarLogger : public Callback {
 public:
  bool root_only() const override { return true; }
  ProgbarLogger(int verbose, std::ostream& out);
  // `redraw`: draw the bar after each batch with '\r' (as on a terminal) or not.
  ProgbarLogger(int verbose, std::ostream& out, bool redraw);
  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_batch_end(int64_t batch, const Logs& logs) override;
  void on_epoch_end(int epoch, const Logs& logs) override;

 private:
  void redraw(const std::string& line);
  std::string bar(int64_t done) const;
  double elapsed() const;

  int verbose_;
  std::ostream& out_;
  bool redraw_;
  double start_ = 0;       // seconds (steady clock) at epoch begin
  int64_t done_ = 0;       // batches finished in this epoch
  std::size_t shown_ = 0;  // length of the bar line on screen, to blank a longer old one
};

}  // namespace tapegrad::nn
