#include <tapegrad/nn/dropout.hpp>

#include <tapegrad/core/random.hpp>
#include <tapegrad/ops/ops.hpp>

namespace tapegrad::nn {

double check_dropout_rate(const std::string& who, const char* option, double rate) {
  // Written so that NaN fails too.
  if (!(rate >= 0.0 && rate < 1.0)) {
    throw_error<ValueError>(
        "{}: {} must be in [0, 1), got {} (the fraction of values dropped; 0 turns it off)", who,
        option, rate);
  }
  return rate;
}

Tensor dropout_mask(const Shape& shape, double rate, DType dtype) {
  check_dropout_rate("dropout_mask", "rate", rate);
  const double scale = 1.0 / (1.0 - rate);
  Generator& gen = default_generator();
  Tensor mask = empty(shape, dtype);
  dispatch(dtype, [&]<class T>(T) {
    T* p = mask.data<T>();
    // One double per element for both dtypes, so f32 and f64 runs drop the same positions.
    for (int64_t i = 0; i < mask.numel(); ++i) p[i] = gen.uniform() < rate ? T{0} : T(scale);
  });
  return mask;
}

Dropout::Dropout(double rate) : rate_(check_dropout_rate("Dropout", "rate", rate)) {}

Tensor Dropout::forward(const Tensor& x) {
  check_defined("Dropout", x);
  if (!is_training() || rate_ == 0.0) return x;
  return x * dropout_mask(x.shape(), rate_, x.dtype());
}

std::optional<ModuleConfig> Dropout::config() const {
  return ModuleConfig{{"rate", rate_}};
}

}  // namespace tapegrad::nn
