// Dropout: inverted dropout as in Keras and PyTorch. In train() mode each value is kept with
// probability 1 - rate and scaled by 1 / (1 - rate), so the expected output equals the input
// and eval() mode (evaluate, predict) is the identity, with nothing to rescale.
// A module starts in train() mode (as in PyTorch; fit, evaluate and predict set the mode
// they need and restore it), so call eval() before calling a model by hand for inference.
//
//   tg::nn::Sequential model{tg::nn::Dense(8, 32, {.activation = tg::nn::Activation::relu}),
//                            tg::nn::Dropout(0.5), tg::nn::Dense(32, 1)};
//
// The mask is data, drawn from tg::default_generator() (so a run is reproducible from
// tg::manual_seed); applying it is an ordinary multiply, so its gradient comes from the tape.
// dropout_mask is the same draw for custom cells: draw a mask once per sequence in
// Cell::begin_sequence and multiply x_t or h_{t-1} by it at every step, as the built-in cells do.
#pragma once

#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

// Throws ValueError "<who>: <option> must be in [0, 1), got <rate>" unless 0 <= rate < 1;
// returns the rate, so a constructor's initializer list can check it.
double check_dropout_rate(const std::string& who, const char* option, double rate);

// A (shape) tensor of dtype whose elements are 0 with probability `rate` and 1 / (1 - rate)
// otherwise; no gradient. rate is checked as by check_dropout_rate("dropout_mask", "rate").
Tensor dropout_mask(const Shape& shape, double rate, DType dtype);

class Dropout : public Module {
 public:
  explicit Dropout(double rate);
  // x * dropout_mask(x.shape()) in train() mode, x itself in eval() mode or with rate 0.
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::optional<ModuleConfig> config() const override;  // {"rate": ...}
  double rate() const { return rate_; }

 private:
  double rate_;
};

}  // namespace tapegrad::nn
