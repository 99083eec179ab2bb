#include <tapegrad/core/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include <tapegrad/core/allocator.hpp>
#include <tapegrad/core/kernels.hpp>

namespace tapegrad {

Storage::Storage(std::size_t bytes) : data_(detail::cached_allocate(bytes)), bytes_(bytes) {}
Storage::~Storage() {
  detail::cached_free(data_, bytes_);
}

void Tensor::throw_undefined() {
  throw ValueError("tensor: use of an undefined (default-constructed) tensor");
}

int64_t Tensor::size(int64_t axis) const {
  return shape()[normalize_axis(axis, dim(), "size")];
}

bool Tensor::is_contiguous() const {
  // An empty tensor holds no element to be out of place (its strides come from extents
  // clamped to 1, so the loop below would reject it).
  if (numel() == 0) return true;
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] != 1 && strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

void Tensor::check_dtype(DType expected) const {
  if (dtype() != expected) {
    throw_error<DTypeError>("data: tensor of shape {} holds {}, requested {}", shape(), dtype(),
                            expected);
  }
}

double Tensor::item() const {
  if (numel() != 1) {
    throw_error<ShapeError>("item: expected a tensor with one element, got shape {}", shape());
  }
  return dispatch(dtype(), [&]<class T>(T) { return static_cast<double>(*data<T>()); });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  const Tensor dense = contiguous();
  const T* p = dense.data<T>();
  return std::vector<T>(p, p + numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  const Tensor src = contiguous();
  Tensor out = empty(shape(), target);
  dispatch(dtype(), [&]<class S>(S) {
    dispatch(target, [&]<class D>(D) {
      std::transform(src.data<S>(), src.data<S>() + numel(), out.data<D>(),
                     [](S v) { return static_cast<D>(v); });
    });
  });
  return out;
}

Tensor Tensor::contiguous() const {
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  kernel::copy_into(out, *this);
  return out;
}

namespace {

// numel * element size, which must fit in int64 like every offset into the storage.
std::size_t storage_bytes(const Shape& shape, DType dtype) {
  const int64_t n = checked_numel(shape, "empty");
  const auto size = static_cast<int64_t>(element_size(dtype));
  int64_t bytes = 0;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    throw_error<ShapeError>(
        "empty: shape {} of {} needs {} elements of {} bytes, more than the {} bytes a tensor "
        "can hold",
        shape, dtype, n, size, std::numeric_limits<int64_t>::max());
  }
  return static_cast<std::size_t>(bytes);
}

}  // namespace

Tensor empty(const Shape& shape, DType dtype) {
  auto impl = make_cached<TensorImpl>();
  impl->storage = make_cached<Storage>(storage_bytes(shape, dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset) {
  check_shape(shape, "make_view");  // so that Tensor::numel() need not check
  auto impl = make_cached<TensorImpl>();
  impl->storage = t.impl().storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor out = empty(shape, dtype);
  kernel::fill(out, value);
  return out;
}
Tensor zeros(const Shape& shape, DType dtype) {
  return full(shape, 0.0, dtype);
}
Tensor ones(const Shape& shape, DType dtype) {
  return full(shape, 1.0, dtype);
}
Tensor scalar_tensor(double value, DType dtype) {
  return full(Shape{}, value, dtype);
}
Tensor zeros_like(const Tensor& t) {
  return zeros(t.shape(), t.dtype());
}
Tensor ones_like(const Tensor& t) {
  return ones(t.shape(), t.dtype());
}

Tensor arange(double start, double stop, double step, DType dtype) {
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step)) {
    throw_error<ValueError>("arange: start {}, stop {} and step {} must be finite", start, stop,
                            step);
  }
  if (step == 0) throw ValueError("arange: step must be non-zero");
  const double count = std::max(0.0, std::ceil((stop - start) / step));
  // 2^62 elements are more than any machine holds; a larger count would not convert.
  if (!(count <= 0x1p62)) {
    throw_error<ValueError>("arange: [{}, {}) in steps of {} has {} elements, too many", start,
                            stop, step, count);
  }
  const auto n = static_cast<int64_t>(count);
  Tensor out = empty({n}, dtype);
  dispatch(dtype, [&]<class T>(T) {
    T* p = out.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return out;
}

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != shape.numel()) {
    throw_error<ShapeError>("from_vector: {} values cannot fill shape {} ({} elements)",
                            values.size(), shape, shape.numel());
  }
  Tensor out = empty(shape, dtype_of<T>());
  std::copy(values.begin(), values.end(), out.data<T>());
  return out;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&);

Tensor tensor(std::initializer_list<float> values) {
  return from_vector(std::vector<float>(values), {static_cast<int64_t>(values.size())});
}
Tensor tensor(std::initializer_list<double> values) {
  return from_vector(std::vector<double>(values), {static_cast<int64_t>(values.size())});
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype()) {
    throw_error<DTypeError>(
        "{}: dtypes {} (shape {}) and {} (shape {}) differ; convert one with .to()", op, a.dtype(),
        a.shape(), b.dtype(), b.shape());
  }
}

void check_defined(const char* op, const Tensor& t) {
  if (!t.defined()) throw_error<ValueError>("{}: got an undefined tensor", op);
}

}  // namespace tapegrad
