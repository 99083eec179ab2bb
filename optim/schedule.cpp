#include <tapegrad/optim/schedule.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace tapegrad::optim {

void Schedule::step() {
  set_epoch(epoch_ + 1);
}

void Schedule::set_epoch(int64_t epoch) {
  if (epoch < 0) throw_error<ValueError>("Schedule::set_epoch: epoch must be >= 0, got {}", epoch);
  epoch_ = epoch;
  opt_.set_lr(lr_at(epoch_));
}

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma)
    : Schedule(opt), step_size_(step_size), gamma_(gamma) {
  check_option("StepLR", "step_size", static_cast<double>(step_size), 1.0);
  check_option("StepLR", "gamma", gamma, 0.0);
}

double StepLR::lr_at(int64_t epoch) const {
  return base_lr() * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

ExponentialLR::ExponentialLR(Optimizer& opt, double gamma) : Schedule(opt), gamma_(gamma) {
  check_option("ExponentialLR", "gamma", gamma, 0.0);
}

double ExponentialLR::lr_at(int64_t epoch) const {
  return base_lr() * std::pow(gamma_, static_cast<double>(epoch));
}

CosineLR::CosineLR(Optimizer& opt, int64_t T_max, double eta_min)
    : Schedule(opt), t_max_(T_max), eta_min_(eta_min) {
  check_option("CosineLR", "T_max", static_cast<double>(T_max), 1.0);
  check_option("CosineLR", "eta_min", eta_min, 0.0);
}

double CosineLR::lr_at(int64_t epoch) const {
  const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max_);
  return eta_min_ + (base_lr() - eta_min_) * (1.0 + std::cos(phase)) / 2.0;
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, PlateauOptions opts)
    : opt_(opt),
      opts_(opts),
      best_(opts.mode == PlateauMode::min ? std::numeric_limits<double>::infinity()
                                          : -std::numeric_limits<double>::infinity()) {
  check_option("ReduceLROnPlateau", "factor", opts.factor, 0.0, 1.0);
  if (opts.factor == 1.0) throw ValueError("ReduceLROnPlateau: factor must be < 1");
  check_option("ReduceLROnPlateau", "patience", static_cast<double>(opts.patience), 0.0);
  check_option("ReduceLROnPlateau", "min_lr", opts.min_lr, 0.0);
  check_option("ReduceLROnPlateau", "min_delta", opts.min_delta, 0.0);
  check_option("ReduceLROnPlateau", "cooldown", static_cast<double>(opts.cooldown), 0.0);
}

bool ReduceLROnPlateau::improves(double metric) const {
  if (opts_.mode == PlateauMode::min) return metric < best_ - opts_.min_delta;
  return metric > best_ + opts_.min_delta;
}

// Keras's rule (reduce once wait >= patience), with PyTorch's cooldown: the epochs of a
// cooldown are not counted at all (in Keras the count restarts on the cooldown's last epoch).
void ReduceLROnPlateau::step(double metric) {
  const bool improved = improves(metric);
  if (improved) {
    best_ = metric;
    wait_ = 0;
  } else {
    ++wait_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    wait_ = 0;
    return;
  }
  if (improved || wait_ < opts_.patience) return;
  if (opt_.lr() > opts_.min_lr) {
    opt_.set_lr(std::max(opt_.lr() * opts_.factor, opts_.min_lr));
    cooldown_left_ = opts_.cooldown;
  }
  wait_ = 0;
}

}  // namespace tapegrad::optim
