// The models the tapegrad commands build (train, info, gradflow): a stack of recurrent
// layers of one cell type, then Dense(1). One place, so every command means the same model
// by "--cell lstm --units 64,32".
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/nn/nn.hpp>

namespace tapegrad::cli {

struct ModelConfig {
  std::string cell = "rnn";  // rnn, lstm or gru
  std::vector<int64_t> units{64, 32};
};

// Every recurrent layer but the last returns sequences; ValueError for an unknown cell.
std::shared_ptr<nn::Sequential> build_model(const ModelConfig& c, int64_t in_features);

}  // namespace tapegrad::cli
