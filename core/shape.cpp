#include <tapegrad/core/shape.hpp>

#include <tapegrad/core/error.hpp>

namespace tapegrad {

Shape Shape::filled(int64_t rank, int64_t value) {
  Shape s;
  for (int64_t i = 0; i < rank; ++i) s.push_back(value);
  return s;
}

void Shape::push_back(int64_t d) {
  if (rank_ == kMaxDims) {
    throw_error<ShapeError>("shape: at most {} dimensions are supported", kMaxDims);
  }
  dims_[rank_++] = d;
}

void Shape::insert(int64_t pos, int64_t d) {
  push_back(0);
  std::copy_backward(begin() + pos, end() - 1, end());
  dims_[pos] = d;
}

void Shape::erase(int64_t pos) {
  std::copy(begin() + pos + 1, end(), begin() + pos);
  --rank_;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : *this) n *= d;
  return n;
}

std::string to_string(const Shape& s) {
  return fmt::format("[{}]", fmt::join(s, ","));
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides = Shape::filled(shape.size(), 1);
  for (int64_t i = shape.size() - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * std::max<int64_t>(shape[i + 1], 1);
  }
  return strides;
}

int64_t normalize_axis(int64_t axis, int64_t rank, const char* op) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1)) {
    throw_error<ShapeError>("{}: axis {} is out of range for a tensor of rank {}", op, axis, rank);
  }
  return axis < 0 ? axis + rank : axis;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int64_t rank = std::max(a.size(), b.size());
  Shape out = Shape::filled(rank, 1);
  for (int64_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw_error<ShapeError>(
          "{}: shapes {} and {} cannot be broadcast together (dimension {}: {} vs {})", op, a, b, i,
          da, db);
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace tapegrad
