// The tiny models and data of the cross-validation tests (tests/nn and the multi-rank tests).
#pragma once

#include <cstdint>
#include <memory>

#include <tapegrad/tapegrad.hpp>

namespace tg_test {

inline std::shared_ptr<tapegrad::nn::Module> tiny_model(int64_t units) {
  namespace nn = tapegrad::nn;
  return std::make_shared<nn::Sequential>(nn::SimpleRNN(1, units), nn::Dense(units, 1));
}

struct TinyData {
  tapegrad::Tensor X, y;
};

// y = the last step of X: learnable, so the losses differ between candidates. The same
// samples on every rank.
inline TinyData tiny_data(int64_t n) {
  tapegrad::manual_seed(42);
  const tapegrad::Tensor X = tapegrad::rand({n, 4, 1});
  return {X, tapegrad::reshape(tapegrad::select(X, 1, 3), {n, 1}).contiguous()};
}

}  // namespace tg_test
