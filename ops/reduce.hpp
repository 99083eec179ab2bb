// Reductions over any set of axes (empty = all), with keepdim.
#pragma once

#include <vector>

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

Tensor sum(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdim = false);
// Gradient flows to the maximal elements, split evenly between ties.
Tensor max(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdim = false);

}  // namespace tapegrad
