// Describing a model in memory: Keras's model.summary() table, and the one-line form that
// operator<< and fmt print.
//
//   model.summary({10, 1});        // input (batch, 10 time steps, 1 feature), on std::cout
//   std::cout << model << '\n';    // SimpleRNN(64) -> SimpleRNN(32) -> Dense(1)
//
// gives, for the reference model:
//
//   Model: SimpleRNN(64) -> SimpleRNN(32) -> Dense(1)
//   Input: (None, 10, 1)
//   _________________________________________________________________
//   Layer (type)                 Output Shape              Param #
//   =================================================================
//   0 (SimpleRNN)                (None, 10, 64)            4224
//   _________________________________________________________________
//   1 (SimpleRNN)                (None, 32)                3104
//   _________________________________________________________________
//   2 (Dense)                    (None, 1)                 33
//   =================================================================
//   Total params: 7,361 (28.75 KB)
//   Trainable params: 7,361 (28.75 KB)
//   Non-trainable params: 0 (0.00 B)
//   _________________________________________________________________
//
// The rows are the model's children (its layers), or the model itself when it has none. The
// output shapes come from running a dummy batch of zeros through the model under NoGradGuard
// in eval mode, twice, with different batch sizes (and time steps when they are not given):
// a dimension that follows them is shown as None, as Keras shows the batch. Every layer call
// is seen (Module::operator()), so a user's model with its own forward gets its rows too; a
// layer called with outputs of different shapes shows "multiple", one never called "?".
// The model is left as it was: its train/eval modes, a stateful layer's carried state, the
// random generator (nothing is drawn in eval mode).
//
// Without an input shape the input is (batch, time, features), the features read from the
// first layer that tells them (its in_features, or its kernel's rows: nn::input_features); a
// model that tells none needs the shape given, and says so.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

// The summary table as text (Module::summary prints it).
std::string summary(Module& model, const std::vector<int64_t>& input_shape = {});

// "SimpleRNN(64) -> SimpleRNN(32) -> Dense(1)" (nn::summary_line), also as
// fmt::format("{}", model) and std::cout << model.
std::string to_string(const Module& module);
std::ostream& operator<<(std::ostream& os, const Module& module);

}  // namespace tapegrad::nn

// Any module type, so that fmt::format("{}", sequential) finds it.
template <class M>
struct fmt::formatter<M, char, std::enable_if_t<std::is_base_of_v<tapegrad::nn::Module, M>>>
    : fmt::formatter<std::string> {
  auto format(const tapegrad::nn::Module& m, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(tapegrad::nn::to_string(m), ctx);
  }
};
