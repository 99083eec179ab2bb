#include "cli_model.hpp"

#include <tapegrad/core/error.hpp>

namespace tapegrad::cli {

std::shared_ptr<nn::Sequential> build_model(const ModelConfig& c, int64_t in_features) {
  auto model = std::make_shared<nn::Sequential>();
  int64_t in = in_features;
  for (std::size_t i = 0; i < c.units.size(); ++i) {
    const nn::RNNOptions opts{.return_sequences = i + 1 < c.units.size()};
    const int64_t units = c.units[i];
    if (c.cell == "rnn") {
      model->push_back(nn::SimpleRNN(in, units, opts));
    } else if (c.cell == "lstm") {
      model->push_back(nn::LSTM(in, units, opts));
    } else if (c.cell == "gru") {
      model->push_back(nn::GRU(in, units, opts));
    } else {
      throw_error<ValueError>("unknown cell '{}' (rnn, lstm or gru)", c.cell);
    }
    in = units;
  }
  model->push_back(nn::Dense(in, 1));
  return model;
}

}  // namespace tapegrad::cli
