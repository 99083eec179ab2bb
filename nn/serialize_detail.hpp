// What the readers of weights files share (nn::load, nn::import_torch): a file that must hold
// exactly a given set of tensors is checked in full before anything is changed, and only then
// copied into the parameters. Not part of the public API.
#pragma once

#include <map>
#include <string>

#include <tapegrad/core/tensor.hpp>
#include <tapegrad/optim/params.hpp>

namespace tapegrad::nn::detail {

// Reads `path`, which must hold exactly the tensors of `expected`: every name present, no
// other, the same dtype and shape each. Checked on the header before any data is read and
// again on the data; throws IOError, ShapeError or DTypeError naming `who`, the file, the
// tensor and both shapes (or dtypes).
std::map<std::string, Tensor> read_expected_tensors(const char* who, const std::string& path,
                                                    const NamedTensors& expected);

// Copies checked values (one per name of `params`) into the parameters' own storage, so every
// handle to a parameter sees them.
void assign(const NamedTensors& params, const std::map<std::string, Tensor>& values);

}  // namespace tapegrad::nn::detail
