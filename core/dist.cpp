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

namespace tapegrad::dist {

TaskCounter::TaskCounter(const Options& opts)
    : impl_(opts.across_ranks ? detail::make_task_counter(opts.timeout)
                              : std::make_unique<detail::LocalCounter>()) {}

TaskCounter::~TaskCounter() = default;

std::uint64_t TaskCounter::next() {
  return impl_->next();
}

void TaskCounter::close() {
  impl_->close();
}

std::vector<std::string> TaskCounter::finish(std::string_view result) {
  return impl_->finish(result);
}

}  // namespace tapegrad::dist
