// Reading and writing safetensors files (https://github.com/huggingface/safetensors).
//
// The format is the one PyTorch, JAX and Keras use for weights, so a model saved here loads
// there and the other way round:
//
//   [8 bytes]  N, little-endian u64: length of the header
//   [N bytes]  UTF-8 JSON object, padded with spaces so that N is a multiple of 8:
//              {"__metadata__": {"key": "value", ...},            (optional)
//               "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
//   [rest]     raw little-endian tensor data; offsets count from the start of this section
//
// Writing lays tensors out without gaps (f64 ones first, then by name, as the reference
// implementation does, so every tensor is aligned to its element size) and is atomic: the
// bytes go to a temporary file beside the target which is fsynced and renamed over it, so a
// crash or a full disk never leaves a half-written file behind.
//
// Reading trusts nothing in the file: the header must hold exactly what the format allows
// (tensor entries of dtype, shape and data_offsets, and a string-to-string "__metadata__";
// an unknown field, a repeated key or a number that is not a whole count is an error), it
// is parsed in time linear in its size and memory a small multiple of it, and every size
// and offset is checked against the file before any memory is allocated, so a truncated or
// malicious file throws IOError (naming the path and the problem) instead of crashing,
// hanging or allocating gigabytes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <tapegrad/core/dtype.hpp>
#include <tapegrad/core/shape.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

// Writes `tensors` (any layout; non-contiguous ones are written densely) and optional string
// metadata to `path`, replacing an existing file atomically. Throws ValueError for input the
// format cannot hold (an undefined tensor, the reserved name "__metadata__", invalid UTF-8)
// and IOError naming the path and the OS error when the file cannot be written; in both
// cases the target is left as it was.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads every tensor of a safetensors file (dtypes F32 and F64). The header is validated in
// full before any tensor is read; on any problem throws IOError naming the path and what is
// wrong. When `metadata` is given it receives the "__metadata__" map (empty if none).
std::map<std::string, Tensor> load_safetensors(
    const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

// One tensor as a safetensors header describes it. Offsets count from the data section.
struct SafetensorsEntry {
  std::string name = {};
  DType dtype = f32;
  Shape shape = {};
  std::uint64_t data_begin = 0;
  std::uint64_t data_end = 0;
};

// The validated header alone, sorted by name, without reading any tensor data: lets a caller
// (nn::load) check names and shapes against a model before touching it. Throws IOError
// exactly as load_safetensors does for a bad header.
std::vector<SafetensorsEntry> read_safetensors_header(
    const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

}  // namespace tapegrad
