// tg::Tensor: a cheap handle on shared, strided storage.
//
// Copying a Tensor aliases it (like torch::Tensor): both handles see the same TensorImpl.
// A TensorImpl is a view: storage + shape + strides + offset, so transpose, permute, slice,
// select and reshape of contiguous data create new views without copying a byte;
// contiguous() materializes when a kernel needs dense data.
//
// Storage carries a version counter, bumped by every in-place write, which lets autograd
// notice that a tensor it saved for backward was overwritten.
//
// The autograd part of a tensor (requires_grad, grad, the record that produced it, hooks)
// lives in AutogradMeta, defined by autograd/; core only holds the pointer, so core knows
// nothing about the tape. The Tensor methods that touch it are defined in autograd/.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <tapegrad/core/dtype.hpp>
#include <tapegrad/core/error.hpp>
#include <tapegrad/core/shape.hpp>

namespace tapegrad {

class Storage {
 public:
  Storage(std::size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  std::uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_;
  std::size_t bytes_;
  std::uint64_t version_ = 0;
};

struct AutogradMeta;  // autograd/autograd_meta.hpp

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  DType dtype = f32;
  std::shared_ptr<AutogradMeta> autograd;  // null for plain data
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  int64_t dim() const { return impl().shape.size(); }
  int64_t size(int64_t axis) const;
  // Unchecked: empty() and make_view() made sure the shape is valid (see shape.hpp).
  int64_t numel() const { return impl().shape.unchecked_numel(); }
  DType dtype() const { return impl().dtype; }
  bool is_contiguous() const;

  // Typed pointer to the first element; throws DTypeError when T is not the dtype.
  template <class T>
  T* data() const {
    check_dtype(dtype_of<T>());
    return static_cast<T*>(impl().storage->data()) + impl().offset;
  }
  // The value of a one-element tensor, as double.
  double item() const;
  // Copies the elements out in row-major order.
  template <class T>
  std::vector<T> to_vector() const;

  // A copy with another element type (or this tensor when the dtype already matches).
  Tensor to(DType dtype) const;
  // This tensor if contiguous, else a dense row-major copy.
  Tensor contiguous() const;
  // A dense copy that shares nothing with this tensor.
  Tensor clone() const;

  std::uint64_t version() const { return impl().storage->version(); }
  // Call after writing into the storage in place.
  void bump_version() const { impl().storage->bump_version(); }
  bool shares_storage_with(const Tensor& other) const {
    return impl().storage == other.impl().storage;
  }

  // Autograd (defined in autograd/tensor_autograd.cpp).
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const;
  // The accumulated gradient of a leaf (or of a tensor that called retain_grad()).
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  // Backpropagates from this one-element tensor into .grad() of the leaves.
  void backward(bool retain_graph = false) const;
  // The same data without a link to the graph.
  Tensor detach() const;
  // fn sees the gradient flowing into this tensor and may return a replacement.
  void register_hook(std::function<Tensor(const Tensor&)> fn) const;
  // Keep .grad() for this non-leaf tensor too.
  void retain_grad() const;

  TensorImpl& impl() const {
    if (!impl_) [[unlikely]]
      throw_undefined();
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  void check_dtype(DType expected) const;
  [[noreturn]] static void throw_undefined();
  std::shared_ptr<TensorImpl> impl_;
};

using TensorList = std::vector<Tensor>;

// A new dense tensor of this shape and dtype; contents unspecified.
Tensor empty(const Shape& shape, DType dtype = f32);
// A view on t's storage with other shape/strides/offset, carrying no autograd link.
Tensor make_view(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset);

// Factories.
Tensor zeros(const Shape& shape, DType dtype = f32);
Tensor ones(const Shape& shape, DType dtype = f32);
Tensor full(const Shape& shape, double value, DType dtype = f32);
Tensor arange(double start, double stop, double step = 1.0, DType dtype = f32);
inline Tensor arange(int64_t n, DType dtype = f32) {
  return arange(0.0, static_cast<double>(n), 1.0, dtype);
}
Tensor scalar_tensor(double value, DType dtype = f32);
// tensor({1.f, 2.f}) is f32, tensor({1.0, 2.0}) f64; a 1-D tensor.
Tensor tensor(std::initializer_list<float> values);
Tensor tensor(std::initializer_list<double> values);
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);

// Throws DTypeError naming `op` unless a and b have the same dtype.
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
// Throws ValueError naming `op` on an undefined tensor.
void check_defined(const char* op, const Tensor& t);

extern template std::vector<float> Tensor::to_vector<float>() const;
extern template std::vector<double> Tensor::to_vector<double>() const;
extern template Tensor from_vector<float>(const std::vector<float>&, const Shape&);
extern template Tensor from_vector<double>(const std::vector<double>&, const Shape&);

}  // namespace tapegrad
