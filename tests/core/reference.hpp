// Naive reference helpers shared by the core suites: element access through shape, strides
// and offset alone, index iteration, and test tensors with distinct values in any layout.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <tapegrad/core/core.hpp>

namespace tgtest {

namespace tg = tapegrad;

// Calls f(index) for every multi-index of `shape`, row-major.
inline void for_each_index(const tg::Shape& shape,
                           const std::function<void(const std::vector<int64_t>&)>& f) {
  if (shape.numel() == 0) return;
  std::vector<int64_t> idx(shape.size(), 0);
  while (true) {
    f(idx);
    int64_t d = shape.size() - 1;
    for (; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

// The element at `idx`, read from storage through strides and offset only.
template <class T>
T at(const tg::Tensor& t, const std::vector<int64_t>& idx) {
  const T* base = static_cast<const T*>(t.impl().storage->data()) + t.offset();
  int64_t off = 0;
  for (std::size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.strides()[d];
  return base[off];
}

// Deterministic values in [-2, 2) that are distinct for small tensors and never zero.
inline std::vector<double> test_values(int64_t n, int64_t salt) {
  std::vector<double> v(n);
  std::uint64_t s = 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(salt + 1);
  for (int64_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(s >> 11) * 0x1.0p-53;  // [0, 1)
    const double mag = 0.25 + 1.75 * u;
    v[i] = (s >> 7) & 1 ? mag : -mag;
  }
  return v;
}

inline tg::Tensor dense(const tg::Shape& shape, tg::DType dtype, int64_t salt) {
  const std::vector<double> v = test_values(shape.numel(), salt);
  tg::Tensor t = tg::from_vector(v, shape);
  return t.to(dtype);
}

// The same logical values as dense(shape, dtype, salt), laid out in another way.
enum class Layout { contiguous, strided, transposed };
inline const char* layout_name(Layout l) {
  return l == Layout::contiguous ? "contiguous" : l == Layout::strided ? "strided" : "transposed";
}

inline tg::Tensor make(const tg::Shape& shape, tg::DType dtype, int64_t salt, Layout layout) {
  const tg::Tensor src = dense(shape, dtype, salt);
  if (layout == Layout::contiguous || shape.empty()) return src;
  if (layout == Layout::strided) {
    // Every other element of a tensor twice as long in the last axis, offset by one.
    tg::Shape big = shape;
    big[big.size() - 1] = 2 * shape.back() + 1;
    tg::Tensor storage = tg::full(big, 99.0, dtype);
    tg::Tensor view = tg::kernel::slice(storage, -1, 1, big.back(), 2);
    tg::kernel::copy_into(view, src);
    return view;
  }
  // Transposed: dense storage in reversed axis order, permuted back.
  std::vector<int64_t> order;
  tg::Shape reversed;
  for (int64_t d = shape.size() - 1; d >= 0; --d) {
    order.push_back(d);
    reversed.push_back(shape[d]);
  }
  tg::Tensor storage = tg::empty(reversed, dtype);
  tg::Tensor view = tg::kernel::permute(storage, order);
  tg::kernel::copy_into(view, src);
  return view;
}

inline std::string str(const tg::Shape& s) {
  return tg::to_string(s);
}

}  // namespace tgtest
