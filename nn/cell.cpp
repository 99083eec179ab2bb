#include <tapegrad/nn/cell.hpp>

namespace tapegrad::nn {

State Cell::initial_state(int64_t batch) const {
  return {zeros({batch, units()}, dtype())};
}

Tensor Cell::project_inputs(const Tensor& x) {
  throw_error<ValueError>(
      "{}: project_inputs called on a cell without an input projection "
      "(input shape {})",
      label(), x.shape());
}

State Cell::step_projected(const Tensor& p_t, const State&) {
  throw_error<ValueError>(
      "{}: step_projected called on a cell without an input projection "
      "(projection shape {})",
      label(), p_t.shape());
}

}  // namespace tapegrad::nn
