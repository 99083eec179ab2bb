// Learning-rate schedules: objects that set an optimizer's lr once per epoch.
//
// A Schedule remembers the optimizer's lr when it is created (base_lr) and an epoch
// count starting at 0. Call step() at the end of each epoch: the count advances and the
// optimizer's lr becomes lr_at(epoch()), a closed-form function of the epoch alone, so
// lr_at also answers "what will the lr be at epoch 50" without stepping. The sequence is
// PyTorch's: lr_at(0) = base_lr is the lr of the first epoch.
//
// ReduceLROnPlateau instead reacts to a metric (Keras's callback): step(metric) per epoch;
// after `patience` epochs without improving on the best value by more than min_delta, the
// lr is multiplied by `factor` (never below min_lr), then `cooldown` epochs pass before
// the count resumes.
//
// A schedule holds a reference to its optimizer, which must outlive it.
#pragma once

#include <cstdint>

#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::optim {

class Schedule {
 public:
  explicit Schedule(Optimizer& opt) : opt_(opt), base_lr_(opt.lr()) {}
  virtual ~Schedule() = default;

  // End of an epoch: advances the epoch and sets the optimizer's lr to lr_at(epoch()).
  void step();
  // Jumps to `epoch` and sets the optimizer's lr to lr_at(epoch): how a run resumed at epoch
  // 50 (or fit's absolute epoch numbers) puts the schedule where it was.
  void set_epoch(int64_t epoch);
  // The lr this schedule gives for `epoch` (0 = before any step()).
  virtual double lr_at(int64_t epoch) const = 0;

  int64_t epoch() const { return epoch_; }
  double base_lr() const { return base_lr_; }

 private:
  Optimizer& opt_;
  double base_lr_;
  int64_t epoch_ = 0;
};

// base_lr * gamma^(epoch / step_size) (integer division): decays every step_size epochs.
class StepLR : public Schedule {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t epoch) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// base_lr * gamma^epoch.
class ExponentialLR : public Schedule {
 public:
  ExponentialLR(Optimizer& opt, double gamma);
  double lr_at(int64_t epoch) const override;

 private:
  double gamma_;
};

// eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2: from base_lr down to
// eta_min at epoch T_max (torch's CosineAnnealingLR closed form; it rises again after
// T_max, as a cosine does, rather than sticking at eta_min).
class CosineLR : public Schedule {
 public:
  CosineLR(Optimizer& opt, int64_t T_max, double eta_min = 0.0);
  double lr_at(int64_t epoch) const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

enum class PlateauMode { min, max };

struct PlateauOptions {
  double factor = 0.1;
  int64_t patience = 10;
  double min_lr = 0.0;
  PlateauMode mode = PlateauMode::min;
  double min_delta = 1e-4;  // an improvement must beat the best by more than this
  int64_t cooldown = 0;     // epochs to wait after a reduction before counting again
};

class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& opt, PlateauOptions opts = {});

  // End of an epoch with its monitored metric (e.g. validation loss).
  void step(double metric);

  double best() const { return best_; }
  int64_t wait() const { return wait_; }

 private:
  bool improves(double metric) const;

  Optimizer& opt_;
  PlateauOptions opts_;
  double best_;
  int64_t wait_ = 0;
  int64_t cooldown_left_ = 0;
};

}  // namespace tapegrad::optim
