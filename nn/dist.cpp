#include <tapegrad/nn/dist.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

#include <fmt/ranges.h>

#include <tapegrad/core/dist_detail.hpp>
#include <tapegrad/core/error.hpp>
#include <tapegrad/core/hash.hpp>

namespace tapegrad::dist {
namespace {

// Names, shapes and dtypes in named_parameters() order: what must agree for the broadcasts
// of the parameters to pair up, rank with rank.
std::uint64_t layout_hash(const NamedTensors& params) {
  Fnv1a hash;
  for (const auto& [name, tensor] : params) {
    const std::uint64_t name_size = name.size();  // ("ab", "c") and ("a", "bc") differ
    const std::int64_t rank = tensor.dim();
    const DType dtype = tensor.dtype();
    hash.add(&name_size, sizeof name_size).add(name.data(), name.size());
    hash.add(&rank, sizeof rank).add(tensor.shape().data(), rank * sizeof(std::int64_t));
    hash.add(&dtype, sizeof dtype);
  }
  return hash.value();
}

void check_same_model(const NamedTensors& params, int root) {
  const std::vector<std::uint64_t> hashes = all_gather(layout_hash(params));
  std::vector<int> differ;
  for (int r = 0; r < static_cast<int>(hashes.size()); ++r) {
    if (hashes[r] != hashes[root]) differ.push_back(r);
  }
  if (differ.empty()) return;
  throw_error<ValueError>(
      "dist::broadcast_parameters: mismatched programs: rank(s) {} built a model whose "
      "parameter names, shapes or dtypes differ from root rank {}'s (this rank, {}, has {} "
      "parameters); every rank must build the same model before training",
      fmt::join(differ, ", "), root, rank(), params.size());
}

}  // namespace

void broadcast_parameters(const nn::Module& model, int root) {
  detail::check_root("broadcast_parameters", root, world_size());
  if (world_size() == 1) return;
  const NamedTensors params = model.named_parameters();
  check_same_model(params, root);
  for (const auto& [name, tensor] : params) broadcast(tensor, root);
}

}  // namespace tapegrad::dist
