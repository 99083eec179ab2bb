#include <tapegrad/optim/params.hpp>

#include <set>

#include <tapegrad/core/error.hpp>

namespace tapegrad::optim {

namespace {

NamedTensors name_by_index(const Tensor* first, std::size_t count) {
  NamedTensors named;
  named.reserve(count);
  for (std::size_t i = 0; i < count; ++i) named.emplace_back(std::to_string(i), first[i]);
  return named;
}

}  // namespace

ParamList::ParamList(NamedTensors named) : items_(std::move(named)) {
  validate();
}

ParamList::ParamList(const std::vector<Tensor>& tensors)
    : items_(name_by_index(tensors.data(), tensors.size())) {
  validate();
}

ParamList::ParamList(std::initializer_list<Tensor> tensors)
    : items_(name_by_index(tensors.begin(), tensors.size())) {
  validate();
}

std::vector<Tensor> ParamList::tensors() const {
  std::vector<Tensor> out;
  out.reserve(items_.size());
  for (const auto& [name, t] : items_) out.push_back(t);
  return out;
}

std::size_t ParamList::find(const std::string& name) const {
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (items_[i].first == name) return i;
  }
  return items_.size();
}

void ParamList::validate() const {
  std::set<std::string> seen;
  for (const auto& [name, t] : items_) {
    if (!t.defined()) throw_error<ValueError>("optimizer parameters: '{}' is undefined", name);
    if (!t.is_contiguous()) {
      throw_error<ValueError>(
          "optimizer parameters: '{}' (shape {}) is not contiguous; updates write in place", name,
          t.shape());
    }
    if (!seen.insert(name).second) {
      throw_error<ValueError>("optimizer parameters: the name '{}' appears twice", name);
    }
  }
}

}  // namespace tapegrad::optim
