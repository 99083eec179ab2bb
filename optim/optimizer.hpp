// The optimizer base: the loop over parameters, clipping and state that every optimizer
// shares. A concrete optimizer only says how one parameter moves given its gradient.
//
// step() runs outside the tape (NoGradGuard):
//   1. collects each parameter's .grad(); parameters without one are skipped this step,
//   2. checks every gradient (shape, dtype) before anything is written, so a bad gradient
//      leaves all parameters untouched,
//   3. applies the clip option (clipvalue / clipnorm / global_clipnorm, Keras semantics)
//      to copies of the gradients, never to .grad() itself,
//   4. increments the step count t (one count for the whole optimizer, like Keras's
//      `iterations`, so t also advances for parameters that got no gradient),
//   5. calls update(name, param, grad) per parameter, which writes param's data in place
//      through a raw pointer, then bumps the parameter's version so that a graph that
//      saved the old value refuses to backpropagate through it.
//
// State (moment estimates, momentum buffers) lives in named slots created on first use,
// zero-filled, with the parameter's shape and dtype, keyed "<param name>.<slot>". The
// state dict is those slots plus "step" (t) and "lr", as f64 scalars: everything needed
// to resume training bit for bit from a checkpoint.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/core/tensor.hpp>
#include <tapegrad/optim/params.hpp>

namespace tapegrad::optim {

// Keras's gradient clipping options (at most one may be set):
//   clipnorm         each gradient g is scaled by clipnorm / ||g|| when ||g|| > clipnorm
//   clipvalue        each element is clamped to [-clipvalue, clipvalue]
//   global_clipnorm  all gradients are scaled by c / N when their global norm N > c
struct ClipOptions {
  std::optional<double> clipnorm = {};
  std::optional<double> clipvalue = {};
  std::optional<double> global_clipnorm = {};
};

// Every optimizer's options struct ends with the three clip fields; this reads them.
template <class Options>
ClipOptions clip_options(const Options& o) {
  return {o.clipnorm, o.clipvalue, o.global_clipnorm};
}

using StateDict = std::map<std::string, Tensor>;

class Optimizer {
 public:
  Optimizer(ParamList params, double lr, ClipOptions clip = {});
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient.
  void step();
  // Sets every parameter's gradient to none (undefined), as PyTorch does by default.
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);
  const ParamList& params() const { return params_; }
  // Steps taken so far.
  int64_t iterations() const { return iterations_; }
  // True when each step should see the gradient of the whole data set (fit uses it).
  virtual bool full_batch() const { return false; }

  // A deep copy of the state: "step", "lr" and "<param>.<slot>" entries.
  StateDict state_dict() const;
  // Restores a state_dict(). Every entry is checked against the parameters (known name,
  // same shape and dtype, a parameter has all of its slots or none) and every number in it
  // (step a whole number in [0, 2^53], lr finite and >= 0, slots finite, squared-gradient
  // slots >= 0) before anything changes; a bad entry throws ValueError/ShapeError/DTypeError
  // naming it and, for a bad number, the value.
  void load_state_dict(const StateDict& state);

 protected:
  // Moves `param` (contiguous, written in place) given its clipped contiguous gradient.
  virtual void update(const std::string& name, const Tensor& param, const Tensor& grad) = 0;
  // The slots this optimizer keeps per parameter, as load_state_dict expects them.
  virtual std::vector<std::string> slot_names() const { return {}; }
  // Those of the slots that average squared gradients, so are never negative.
  virtual std::vector<std::string> nonnegative_slot_names() const { return {}; }
  // The state tensor `which` of parameter `name`, zero-filled like `param` on first use.
  Tensor slot(const std::string& name, std::string_view which, const Tensor& param);
  // t of the update in progress: 1 during the first step.
  int64_t t() const { return iterations_; }

 private:
  std::vector<Tensor> checked_gradients() const;
  void clip(std::vector<Tensor>& grads) const;
  void check_entry(const std::string& key, const Tensor& value) const;
  void check_complete(const StateDict& state) const;

  ParamList params_;
  double lr_;
  ClipOptions clip_;
  int64_t iterations_ = 0;
  StateDict slots_;
};

// Throws ValueError "<who>: <what> must be ..." unless lo <= value (<= hi).
void check_option(const char* who, const char* what, double value, double lo, double hi = 1e300);

}  // namespace tapegrad::optim
