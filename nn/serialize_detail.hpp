// What the readers of weights files share (nn::load, nn::load_model, nn::import_torch): a file
// that must hold exactly a given set of tensors is checked in full before anything is changed,
// and only then copied into the parameters. Not part of the public API.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/core/safetensors.hpp>
#include <tapegrad/core/tensor.hpp>
#include <tapegrad/optim/params.hpp>

namespace tapegrad::nn::detail {

// What a file must hold for one parameter: its dtype and shape.
struct TensorSpec {
  DType dtype;
  Shape shape;
};
// By parameter name, in the model's order (named_parameters()).
using TensorSpecs = std::vector<std::pair<std::string, TensorSpec>>;

TensorSpecs specs_of(const NamedTensors& params);

// Checks a file's header (read_safetensors_header) against `expected`: every name present, no
// other, the same dtype and shape each; throws IOError, ShapeError or DTypeError naming `who`,
// the file, the tensor and both shapes (or dtypes). load_model checks the model a config
// describes this way before it builds (and initializes) a single parameter.
void check_header(const char* who, const std::string& path, const TensorSpecs& expected,
                  const std::vector<SafetensorsEntry>& header);

// Reads `path`, which must hold exactly the tensors of `params` (checked as check_header does,
// on the header before any data is read and again on the data).
std::map<std::string, Tensor> read_expected_tensors(const char* who, const std::string& path,
                                                    const NamedTensors& params);

// Copies checked values (one per name of `params`) into the parameters' own storage, so every
// handle to a parameter sees them.
void assign(const NamedTensors& params, const std::map<std::string, Tensor>& values);

}  // namespace tapegrad::nn::detail
