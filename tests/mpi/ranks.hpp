// Helpers of the multi-rank tests: hashes of what each rank holds, compared across ranks.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

namespace tg_test {

// FNV-1a of a tensor's bytes: equal hashes on every rank mean bitwise equal tensors.
inline std::uint64_t bytes_hash(const tg::Tensor& t) {
  const tg::Tensor dense = t.contiguous();
  const auto* bytes = static_cast<const unsigned char*>(dense.impl().storage->data()) +
                      dense.offset() * tg::element_size(dense.dtype());
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < dense.numel() * tg::element_size(dense.dtype()); ++i) {
    hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
  }
  return hash;
}

inline std::uint64_t parameters_hash(const tg::nn::Module& model) {
  std::uint64_t hash = 0;
  for (const auto& [name, p] : model.named_parameters()) hash = hash * 31 + bytes_hash(p);
  return hash;
}

// True on every rank when every rank passed the same value.
inline bool same_on_every_rank(std::uint64_t value) {
  const std::vector<std::uint64_t> values = tg::dist::all_gather(value);
  for (std::uint64_t v : values) {
    if (v != values[0]) return false;
  }
  return true;
}

}  // namespace tg_test
