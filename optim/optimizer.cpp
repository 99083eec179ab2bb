#include <tapegrad/optim/optimizer.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/ranges.h>

#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/optim/clip.hpp>

namespace tapegrad::optim {

namespace {

void check_clip(const ClipOptions& c) {
  const int set = c.clipnorm.has_value() + c.clipvalue.has_value() + c.global_clipnorm.has_value();
  if (set > 1) {
    throw ValueError(
        "optimizer: at most one of clipnorm, clipvalue and global_clipnorm may be set");
  }
  for (const auto& v : {c.clipnorm, c.clipvalue, c.global_clipnorm}) {
    if (v) check_option("optimizer", "a clip threshold", *v, 0.0);
  }
}

// "0.cell.kernel.m" -> {"0.cell.kernel", "m"}: slot names hold no dot, parameter names may.
std::pair<std::string, std::string> split_key(const std::string& key) {
  const auto dot = key.rfind('.');
  if (dot == std::string::npos) return {key, ""};
  return {key.substr(0, dot), key.substr(dot + 1)};
}

double scalar_entry(const StateDict& state, const std::string& key) {
  const auto it = state.find(key);
  if (it == state.end()) throw_error<ValueError>("load_state_dict: missing entry '{}'", key);
  if (!it->second.defined() || it->second.numel() != 1) {
    throw_error<ShapeError>("load_state_dict: entry '{}' must hold one number", key);
  }
  return it->second.item();
}

// The step count as a double (state dicts hold f64 scalars) is exact up to 2^53; beyond, or
// as inf or NaN, converting it to int64 would be undefined.
constexpr double kMaxStep = 9007199254740992.0;

int64_t parse_step(double step) {
  if (!(step >= 0.0 && step <= kMaxStep) || step != std::floor(step)) {
    throw_error<ValueError>(
        "load_state_dict: entry 'step' must be a whole number in [0, 2^53], got {}", step);
  }
  return static_cast<int64_t>(step);
}

// A slot holding NaN or Inf (or, for a squared-gradient average, a negative number) would
// make every later update NaN: a run cannot be resumed from it. Names the first such element.
void check_slot_values(const std::string& key, const Tensor& value, bool nonnegative) {
  const Tensor dense = value.contiguous();
  dispatch(dense.dtype(), [&]<class T>(T) {
    const T* p = dense.data<T>();
    const auto bad = std::find_if(p, p + dense.numel(),
                                  [&](T v) { return !std::isfinite(v) || (nonnegative && v < 0); });
    if (bad == p + dense.numel()) return;
    throw_error<ValueError>(
        "load_state_dict: entry '{}' holds {} at element {}, but optimizer state must be "
        "finite{}: the run this state comes from diverged or the file is corrupt; resume from "
        "an earlier checkpoint",
        key, *bad, bad - p, nonnegative ? " and, for this slot, >= 0" : "");
  });
}

Tensor scale(const Tensor& g, double factor) {
  return kernel::mul(g, factor);
}

}  // namespace

void check_option(const char* who, const char* what, double value, double lo, double hi) {
  if (!(value >= lo && value <= hi)) {
    if (hi >= 1e300) throw_error<ValueError>("{}: {} must be >= {}, got {}", who, what, lo, value);
    throw_error<ValueError>("{}: {} must be in [{}, {}], got {}", who, what, lo, hi, value);
  }
}

Optimizer::Optimizer(ParamList params, double lr, ClipOptions clip)
    : params_(std::move(params)), clip_(clip) {
  set_lr(lr);
  check_clip(clip_);
}

void Optimizer::set_lr(double lr) {
  check_option("optimizer", "lr", lr, 0.0);
  lr_ = lr;
}

void Optimizer::step() {
  NoGradGuard no_grad;
  std::vector<Tensor> grads = checked_gradients();
  clip(grads);
  ++iterations_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!grads[i].defined()) continue;
    update(params_.name(i), params_.tensor(i), grads[i]);
    params_.tensor(i).bump_version();
  }
}

void Optimizer::zero_grad() {
  for (const auto& [name, p] : params_) p.set_grad(Tensor());
}

std::vector<Tensor> Optimizer::checked_gradients() const {
  std::vector<Tensor> grads;
  grads.reserve(params_.size());
  for (const auto& [name, p] : params_) {
    const Tensor g = p.grad();
    if (g.defined() && !(g.shape() == p.shape())) {
      throw_error<ShapeError>("optimizer step: gradient of '{}' has shape {}, the parameter {}",
                              name, g.shape(), p.shape());
    }
    if (g.defined() && g.dtype() != p.dtype()) {
      throw_error<DTypeError>("optimizer step: gradient of '{}' is {}, the parameter {}", name,
                              g.dtype(), p.dtype());
    }
    grads.push_back(g.defined() ? g.contiguous() : g);
  }
  return grads;
}

void Optimizer::clip(std::vector<Tensor>& grads) const {
  if (clip_.global_clipnorm) {
    const double norm = global_norm(grads);
    if (norm <= *clip_.global_clipnorm) return;
    for (Tensor& g : grads) {
      if (g.defined()) g = scale(g, *clip_.global_clipnorm / norm);
    }
    return;
  }
  for (Tensor& g : grads) {
    if (!g.defined()) continue;
    if (clip_.clipvalue) g = kernel::clamp(g, -*clip_.clipvalue, *clip_.clipvalue);
    if (clip_.clipnorm) {
      const double norm = l2_norm(g);
      if (norm > *clip_.clipnorm) g = scale(g, *clip_.clipnorm / norm);
    }
  }
}

Tensor Optimizer::slot(const std::string& name, std::string_view which, const Tensor& param) {
  const std::string key = name + "." + std::string(which);
  auto it = slots_.find(key);
  if (it == slots_.end()) it = slots_.emplace(key, zeros(param.shape(), param.dtype())).first;
  return it->second;
}

StateDict Optimizer::state_dict() const {
  StateDict out;
  for (const auto& [key, value] : slots_) out.emplace(key, value.clone());
  out.emplace("step", scalar_tensor(static_cast<double>(iterations_), f64));
  out.emplace("lr", scalar_tensor(lr_, f64));
  return out;
}

void Optimizer::load_state_dict(const StateDict& state) {
  const int64_t step = parse_step(scalar_entry(state, "step"));
  const double lr = scalar_entry(state, "lr");
  check_option("load_state_dict", "entry 'lr'", lr, 0.0);
  for (const auto& [key, value] : state) {
    if (key != "step" && key != "lr") check_entry(key, value);
  }
  check_complete(state);

  StateDict slots;
  for (const auto& [key, value] : state) {
    if (key != "step" && key != "lr") slots.emplace(key, value.contiguous().clone());
  }
  slots_ = std::move(slots);
  iterations_ = step;
  lr_ = lr;
}

void Optimizer::check_entry(const std::string& key, const Tensor& value) const {
  const auto [name, which] = split_key(key);
  const std::size_t index = params_.find(name);
  const std::vector<std::string> slots = slot_names();
  if (index == params_.size() || std::find(slots.begin(), slots.end(), which) == slots.end()) {
    throw_error<ValueError>(
        "load_state_dict: unexpected entry '{}' (expected 'step', 'lr' and '<parameter>.<slot>' "
        "with slots [{}])",
        key, fmt::join(slots, ", "));
  }
  const Tensor& param = params_.tensor(index);
  if (!value.defined() || !(value.shape() == param.shape())) {
    throw_error<ShapeError>("load_state_dict: entry '{}' has shape {}, the parameter '{}' {}", key,
                            value.defined() ? value.shape() : Shape{}, name, param.shape());
  }
  if (value.dtype() != param.dtype()) {
    throw_error<DTypeError>("load_state_dict: entry '{}' is {}, the parameter '{}' is {}", key,
                            value.dtype(), name, param.dtype());
  }
  const std::vector<std::string> nonnegative = nonnegative_slot_names();
  check_slot_values(key, value,
                    std::find(nonnegative.begin(), nonnegative.end(), which) != nonnegative.end());
}

// A parameter that has been updated has all of its slots; one never updated has none.
void Optimizer::check_complete(const StateDict& state) const {
  const std::vector<std::string> slots = slot_names();
  for (const auto& [name, param] : params_) {
    std::size_t present = 0;
    for (const std::string& s : slots) present += state.count(name + "." + s);
    if (present == 0 || present == slots.size()) continue;
    for (const std::string& s : slots) {
      if (!state.count(name + "." + s)) {
        throw_error<ValueError>("load_state_dict: missing entry '{}.{}'", name, s);
      }
    }
  }
}

}  // namespace tapegrad::optim
