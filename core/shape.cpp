#include <tapegrad/core/shape.hpp>

#include <limits>

#include <tapegrad/core/error.hpp>

namespace tapegrad {
namespace {

// Whether the extents are >= 0 and multiply, zeros counted as ones, to at most INT64_MAX;
// `empty` tells whether one is 0. Unsigned, so one test per extent covers both: a negative
// extent is >= 2^63 as uint64, and so is any product it enters (or that product overflows).
bool span_fits(const Shape& shape, uint64_t& span, bool& empty) {
  span = 1;
  empty = false;
  bool overflow = false;
  for (int64_t d : shape) {
    empty |= d == 0;
    overflow |=
        __builtin_mul_overflow(span, d == 0 ? uint64_t{1} : static_cast<uint64_t>(d), &span);
  }
  return !overflow && span <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

[[noreturn]] void throw_invalid_shape(const Shape& shape, const char* op) {
  const auto negative = std::find_if(shape.begin(), shape.end(), [](int64_t d) { return d < 0; });
  if (negative != shape.end()) {
    throw_error<ShapeError>("{}: negative extent {} in shape {}", op, *negative, shape);
  }
  throw_error<ShapeError>(
      "{}: shape {} is too large: its extents (zeros counted as 1) multiply past {}, the "
      "largest element count or stride an int64 holds",
      op, shape, std::numeric_limits<int64_t>::max());
}

}  // namespace

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
  return checked_numel(*this, "numel");
}

int64_t checked_numel(const Shape& shape, const char* op) {
  uint64_t span = 0;
  bool empty = false;
  if (!span_fits(shape, span, empty)) throw_invalid_shape(shape, op);
  return empty ? 0 : static_cast<int64_t>(span);
}

std::string to_string(const Shape& s) {
  return fmt::format("[{}]", fmt::join(s, ","));
}

Shape contiguous_strides(const Shape& shape) {
  // Zero extents count as 1, so an empty tensor's strides are those of a non-empty one.
  check_shape(shape, "contiguous_strides");
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
