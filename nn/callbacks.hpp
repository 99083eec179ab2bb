// Callbacks: code that fit() runs at fixed points of training, as in Keras.
//
// fit() calls, in order: on_train_begin; per epoch on_epoch_begin(epoch), on_batch_end(batch)
// after each optimizer step, on_epoch_end(epoch, logs); finally on_train_end. Epochs and
// batches are 0-based (Keras) and epochs absolute: a run resumed at initial_epoch 50 calls
// on_epoch_begin(50) first. Progress lines and checkpoint paths show epoch + 1.
//   batch logs: "loss" (running mean of the epoch so far, weighted by batch size),
//               "batch_loss", "size", and each metric's running value ("mae")
//   epoch logs: "loss", "val_loss" (only with validation data), "lr" (the lr used during
//               the epoch), each metric of FitOptions::metrics ("mae") and, with
//               validation, its "val_" value ("val_mae")
// Before on_train_begin, fit hands each callback the model, the optimizer and the run's
// parameters (set_context) and clears its stop flag. A callback ends training by calling
// request_stop(); fit reads stop_training() after every batch and every epoch, and like
// Keras finishes the current epoch's bookkeeping (logs, on_epoch_end) before leaving.
//
// Callbacks that watch a metric take its name (`monitor`, default "val_loss", or any key of
// the epoch logs such as "val_mae"); when the run has no validation data, "val_loss" falls
// back to "loss", so the same callback works with or without validation. Lower is better,
// as for a loss, except for accuracy and r2 (and their val_ values), where higher is, as
// Keras's mode "auto" decides (EarlyStopping, ModelCheckpoint; ReduceLROnPlateau takes a
// PlateauMode).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad/core/append_file.hpp>
#include <tapegrad/nn/module.hpp>
#include <tapegrad/optim/optimizer.hpp>
#include <tapegrad/optim/schedule.hpp>

namespace tapegrad::nn {

using Logs = std::map<std::string, double>;

// What fit returns: the epoch logs of the epochs it ran, one vector per key.
struct History {
  std::map<std::string, std::vector<double>> history;  // "loss", "val_loss", "lr"
  int epochs = 0;                                      // epochs run (early stop: fewer)

  void record(const Logs& epoch_logs);  // appends one epoch

  // history.at(key), with the key named in the error.
  const std::vector<double>& operator[](const std::string& key) const;
  bool has(const std::string& key) const { return history.count(key) != 0; }
};

// What fit tells callbacks about the run (Keras's callback.params).
struct TrainParams {
  int epochs = 0;     // the epoch the run stops before (epochs of the whole run)
  int64_t steps = 0;  // batches per epoch
  int verbose = 0;
  int initial_epoch = 0;                  // the first epoch of this fit call
  std::vector<std::string> metrics = {};  // FitOptions::metrics: "mae" logs "mae", "val_mae"
};

class Callback {
 public:
  virtual ~Callback() = default;

  virtual void on_train_begin(const Logs& /*logs*/) {}
  virtual void on_epoch_begin(int /*epoch*/, const Logs& /*logs*/) {}
  virtual void on_batch_end(int64_t /*batch*/, const Logs& /*logs*/) {}
  virtual void on_epoch_end(int /*epoch*/, const Logs& /*logs*/) {}
  virtual void on_train_end(const Logs& /*logs*/) {}

  // A callback that prints or writes files: a distributed fit runs it on rank 0 alone (every
  // rank sees the same logs, and one copy of a file or a progress bar is what is wanted).
  virtual bool root_only() const { return false; }

  bool stop_training() const { return stop_training_; }
  void request_stop() { stop_training_ = true; }

  // Called by fit before on_train_begin.
  void set_context(Module& model, optim::Optimizer& opt, const TrainParams& params);

 protected:
  Module& model() const;
  optim::Optimizer& optimizer() const;
  const TrainParams& params() const { return params_; }

 private:
  Module* model_ = nullptr;
  optim::Optimizer* optimizer_ = nullptr;
  TrainParams params_;
  bool stop_training_ = false;
};

using CallbackList = std::vector<std::shared_ptr<Callback>>;

// The value of `monitor` in epoch logs, with "val_loss" falling back to "loss"; throws
// ValueError naming `who` and the available keys when the metric is absent.
double monitored(const Logs& logs, const std::string& monitor, const char* who);

// Whether a higher value of the monitored key is the better one: accuracy, r2, val_accuracy,
// val_r2.
bool higher_is_better(const std::string& monitor);

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  int patience = 0;        // epochs without improvement before stopping
  double min_delta = 0.0;  // an improvement must beat the best by more than this
  bool restore_best_weights = false;
};

// Stops when the monitored loss has not improved for `patience` epochs (Keras semantics:
// lower is better, higher for accuracy and r2). restore_best_weights copies back the parameters of
// the best epoch when it stops and, as Keras 3 does, at the end of a run that did not stop, so the
// model fit leaves is the best one either way.
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions opts = {});
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  void on_train_end(const Logs& logs) override;

  double best() const { return best_; }
  int best_epoch() const { return best_epoch_; }
  // The epoch at which training was stopped, or -1.
  int stopped_epoch() const { return stopped_epoch_; }
  // The epoch whose weights were restored (the best), or -1.
  int restored_epoch() const { return restored_epoch_; }

 private:
  void restore_best();

  EarlyStoppingOptions opts_;
  double best_ = 0;
  int best_epoch_ = -1;
  int wait_ = 0;
  int stopped_epoch_ = -1;
  int restored_epoch_ = -1;
  std::vector<Tensor> best_weights_;
};

struct CheckpointOptions {
  std::string monitor = "val_loss";
  bool save_best_only = false;  // save only when the monitored loss improves
};

// Calls a save function at the end of epochs (every epoch, or only improving ones). The
// path pattern is formatted with fmt named arguments {epoch} (1-based, as Keras), {loss},
// {val_loss}, {lr}: "ckpt/epoch{epoch:03d}-{val_loss:.4f}.safetensors". Typical save_fn:
//   [&](const std::string& path, int) { tg::nn::save(model, path); }
class ModelCheckpoint : public Callback {
 public:
  bool root_only() const override { return true; }
  using SaveFn = std::function<void(const std::string& path, int epoch)>;
  ModelCheckpoint(std::string path_pattern, SaveFn save_fn, CheckpointOptions opts = {});
  // Without a path: save_fn(epoch) does all the work.
  explicit ModelCheckpoint(std::function<void(int epoch)> save_fn, CheckpointOptions opts = {});
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, const Logs& logs) override;

  // The path of the last save ("" before any).
  const std::string& last_path() const { return last_path_; }

 private:
  std::string path_for(int epoch, const Logs& logs) const;

  std::string pattern_;
  SaveFn save_fn_;
  CheckpointOptions opts_;
  std::optional<double> best_;
  std::string last_path_;
};

// Writes epoch,loss,val_loss,lr rows (epoch 0-based like Keras's CSVLogger; "NA" where a
// value is missing), then two columns per metric of the run (TrainParams::metrics), "mae"
// and "val_mae", as Keras's CSVLogger names them. Like Keras's, it writes the header when training
// begins and appends one row per finished epoch, flushed (core/append_file.hpp): a killed run
// leaves a valid CSV of its finished epochs, and an epoch's row costs the same at epoch 10 as at
// epoch 10,000.
//
// A resumed run (fit with initial_epoch > 0) passes the History of its earlier epochs
// (`earlier`, epochs 0..initial_epoch-1: read_csv_log of the file it continues), so the file
// covers the whole run, as one run straight through would have written it: training begins
// by writing the header and those rows (dropping rows past the checkpoint's epoch, as
// Keras's CSVLogger(append=True) continues a file). history() is that whole run.
class CSVLogger : public Callback {
 public:
  bool root_only() const override { return true; }
  explicit CSVLogger(std::string path, History earlier = {});
  ~CSVLogger() override;
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  void on_train_end(const Logs& logs) override;

  const History& history() const { return history_; }

 private:
  std::string row(int epoch) const;

  std::vector<std::string> columns_;  // after "epoch": the keys of the file's columns
  std::string path_;
  History earlier_, history_;
  std::unique_ptr<AppendFile> file_;  // open while training
};

// The first `epochs` rows of a CSVLogger file as a History ("NA" reads as NaN): what a run
// resumed at epoch `epochs` hands its CSVLogger. IOError when the file cannot be read, is not
// such a log (header, epoch numbers, values) or has fewer rows.
History read_csv_log(const std::string& path, int epochs);

// Stops training at the first batch whose loss is NaN or infinite.
class TerminateOnNaN : public Callback {
 public:
  void on_batch_end(int64_t batch, const Logs& logs) override;
  // The batch (within its epoch) that was NaN, or -1.
  int64_t terminated_batch() const { return terminated_batch_; }

 private:
  int64_t terminated_batch_ = -1;
};

// Sets the lr at the beginning of each epoch to fn(epoch, current lr) (Keras).
class LearningRateScheduler : public Callback {
 public:
  explicit LearningRateScheduler(std::function<double(int epoch, double lr)> fn);
  void on_epoch_begin(int epoch, const Logs& logs) override;

 private:
  std::function<double(int, double)> fn_;
};

// Runs an optim::Schedule by fit's absolute epoch numbers: epoch e trains with lr_at(e)
// (set at its beginning, so a run resumed at initial_epoch gets the lr it would have had)
// and leaves lr_at(e + 1) in the optimizer, as PyTorch's scheduler.step() after each epoch
// does. Like Keras's LearningRateScheduler, a second fit without initial_epoch starts the
// schedule over. The schedule must have been built on the optimizer fit trains with.
class ScheduleCallback : public Callback {
 public:
  explicit ScheduleCallback(std::shared_ptr<optim::Schedule> schedule);
  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_epoch_end(int epoch, const Logs& logs) override;

 private:
  std::shared_ptr<optim::Schedule> schedule_;
};

// Multiplies the lr by opts.factor when the monitored loss stops improving: an
// optim::ReduceLROnPlateau on fit's optimizer, created at train begin.
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(optim::PlateauOptions opts = {}, std::string monitor = "val_loss");
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, const Logs& logs) override;

 private:
  optim::PlateauOptions opts_;
  std::string monitor_;
  std::unique_ptr<optim::ReduceLROnPlateau> plateau_;
};

}  // namespace tapegrad::nn
