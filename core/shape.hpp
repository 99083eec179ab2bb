// Shape: the extents (or strides) of a tensor, held inline.
//
// Shapes are built for every op result, so they must not touch the heap: a Shape stores up
// to kMaxDims extents in place. Ranks above that throw ShapeError.
//
// A valid shape has extents >= 0 whose product, zeros counted as ones, fits in int64: that
// product is the element count of a non-empty tensor and bounds its contiguous strides, and
// a shape with a zero extent still has strides (a [0, 2^62, 4] tensor's first is 2^64).
// numel(), checked_numel() and contiguous_strides() check this, so no size computed from a
// shape wraps; empty() and make_view() check every tensor's shape once, so Tensor::numel()
// can take the plain product.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace tapegrad {

class Shape {
 public:
  static constexpr int kMaxDims = 8;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }
  template <class It>
  Shape(It first, It last) {
    assign(first, last);
  }
  // A shape of `rank` entries all equal to `value`.
  static Shape filled(int64_t rank, int64_t value);

  int64_t size() const { return rank_; }
  bool empty() const { return rank_ == 0; }
  int64_t& operator[](int64_t i) { return dims_[i]; }
  int64_t operator[](int64_t i) const { return dims_[i]; }
  int64_t back() const { return dims_[rank_ - 1]; }
  int64_t* begin() { return dims_.data(); }
  int64_t* end() { return dims_.data() + rank_; }
  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + rank_; }
  const int64_t* data() const { return dims_.data(); }

  void push_back(int64_t d);
  void insert(int64_t pos, int64_t d);
  void erase(int64_t pos);

  // Product of the extents (1 for a scalar); throws ShapeError for an invalid shape.
  int64_t numel() const;
  std::vector<int64_t> vec() const { return {begin(), end()}; }

  friend bool operator==(const Shape& a, const Shape& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  template <class It>
  void assign(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }

  friend class Tensor;
  // The product without the checks, for a shape known to be valid: a tensor's, which
  // empty() and make_view() checked. Tensor::numel() is called several times per op.
  int64_t unchecked_numel() const {
    int64_t n = 1;
    for (int64_t d : *this) n *= d;
    return n;
  }

  std::array<int64_t, kMaxDims> dims_{};
  int64_t rank_ = 0;
};

// "[2,3]"; "[]" for a scalar.
std::string to_string(const Shape& s);

// The element count of `shape`; throws ShapeError naming `op` unless the shape is valid
// (see the top of this file).
int64_t checked_numel(const Shape& shape, const char* op);
inline void check_shape(const Shape& shape, const char* op) {
  checked_numel(shape, op);
}

// Row-major strides of a contiguous tensor of this shape; throws ShapeError for an invalid
// shape.
Shape contiguous_strides(const Shape& shape);

// Wraps a possibly negative axis into [0, rank); throws ShapeError naming `op` otherwise.
int64_t normalize_axis(int64_t axis, int64_t rank, const char* op);

// NumPy broadcasting of two shapes; throws ShapeError naming `op` when they do not fit.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace tapegrad

template <>
struct fmt::formatter<tapegrad::Shape> : fmt::formatter<std::string> {
  auto format(const tapegrad::Shape& s, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(tapegrad::to_string(s), ctx);
  }
};
