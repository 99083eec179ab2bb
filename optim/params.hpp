// The parameters an optimizer updates: an ordered list of (name, tensor) pairs.
//
// Optimizer state and checkpoints are keyed by parameter name, so a state dict saved from
// one run can be matched against another model's parameters by name rather than by
// position. A ParamList is built implicitly from either
//   model.named_parameters()   NamedTensors: the names are kept ("0.cell.kernel", ...)
//   model.parameters()         std::vector<Tensor>: named by index "0", "1", ...
// Construction checks what the update loops rely on: every tensor is defined, contiguous
// (updates write through a raw pointer) and f32 or f64, and names are unique.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

// Ordered (name, tensor) pairs, as Module::named_parameters() returns them.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

namespace optim {

class ParamList {
 public:
  ParamList() = default;
  ParamList(NamedTensors named);
  ParamList(const std::vector<Tensor>& tensors);
  ParamList(std::initializer_list<Tensor> tensors);

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const std::pair<std::string, Tensor>& operator[](std::size_t i) const { return items_[i]; }
  const std::string& name(std::size_t i) const { return items_[i].first; }
  const Tensor& tensor(std::size_t i) const { return items_[i].second; }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

  const NamedTensors& named() const { return items_; }
  std::vector<Tensor> tensors() const;
  // The index of the parameter called `name`, or size() when there is none.
  std::size_t find(const std::string& name) const;

 private:
  void validate() const;
  NamedTensors items_;
};

}  // namespace optim
}  // namespace tapegrad
