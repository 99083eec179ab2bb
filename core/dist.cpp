#include <tapegrad/core/dist.hpp>

#include <climits>

#include <tapegrad/core/dist_detail.hpp>

namespace tapegrad::dist {

bool is_root() {
  return rank() == 0;
}

namespace detail {

void check_tensor(std::string_view op, const Tensor& t) {
  if (!t.defined()) throw_error<ValueError>("dist::{}: the tensor is undefined", op);
  if (!t.is_contiguous()) {
    throw_error<ValueError>(
        "dist::{}: the {} tensor of shape {} is not contiguous; collectives send one dense "
        "buffer: pass t.contiguous() and use the tensor it returns",
        op, t.dtype(), t.shape());
  }
  if (t.numel() > INT_MAX) {
    throw_error<ShapeError>(
        "dist::{}: the {} tensor of shape {} has {} elements; MPI counts at most {} per call: "
        "split it",
        op, t.dtype(), t.shape(), t.numel(), INT_MAX);
  }
}

void check_root(std::string_view op, int root, int world_size) {
  if (root < 0 || root >= world_size) {
    throw_error<ValueError>("dist::{}: root {} is not a rank of this world of {} (0..{})", op, root,
                            world_size, world_size - 1);
  }
}

}  // namespace detail
}  // namespace tapegrad::dist
