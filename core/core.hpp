// Everything in core/: tensors, factories, kernels, random numbers, printing, memory, files,
// the collectives of distributed training.
#pragma once

#include <tapegrad/core/allocator.hpp>
#include <tapegrad/core/atomic_file.hpp>
#include <tapegrad/core/csv.hpp>
#include <tapegrad/core/denormal.hpp>
#include <tapegrad/core/dist.hpp>
#include <tapegrad/core/dtype.hpp>
#include <tapegrad/core/error.hpp>
#include <tapegrad/core/format.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/core/random.hpp>
#include <tapegrad/core/regular_file.hpp>
#include <tapegrad/core/safetensors.hpp>
#include <tapegrad/core/shape.hpp>
#include <tapegrad/core/tensor.hpp>
#include <tapegrad/core/version.hpp>
