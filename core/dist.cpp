#include <tapegrad/core/dist.hpp>

#include <atomic>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <tapegrad/core/dist_detail.hpp>

namespace tapegrad::dist {

bool is_root() {
  return rank() == 0;
}

Share share_of(std::int64_t count, int r, int ranks) {
  return {count * r / ranks, count * (r + 1) / ranks};
}

Share share_of(std::int64_t count) {
  return share_of(count, rank(), world_size());
}

namespace {

constexpr double kDefaultTimeoutSeconds = 300;

void check_timeout(double seconds, std::string_view where) {
  if (!(std::isfinite(seconds) && seconds > 0)) {
    throw_error<ValueError>("dist::set_timeout: {} is {} s; expected a positive number of seconds",
                            where, seconds);
  }
}

double timeout_from_environment() {
  const char* text = std::getenv("TAPEGRAD_DIST_TIMEOUT");
  if (text == nullptr || *text == '\0') return kDefaultTimeoutSeconds;
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (end == text || *end != '\0') {
    throw_error<ValueError>("dist: TAPEGRAD_DIST_TIMEOUT is '{}'; expected a number of seconds",
                            text);
  }
  check_timeout(seconds, "TAPEGRAD_DIST_TIMEOUT");
  return seconds;
}

std::atomic<double>& timeout_seconds() {
  static std::atomic<double> seconds{timeout_from_environment()};
  return seconds;
}

}  // namespace

void set_timeout(Seconds limit) {
  check_timeout(limit.count(), "the limit");
  timeout_seconds() = limit.count();
}

Seconds timeout() {
  return Seconds(timeout_seconds().load());
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

void flush_output() {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
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
    : impl_(opts.across_ranks ? detail::make_task_counter(opts.on_report)
                              : std::make_unique<detail::LocalCounter>()) {}

TaskCounter::~TaskCounter() = default;

std::uint64_t TaskCounter::next() {
  return impl_->next();
}

void TaskCounter::close() {
  impl_->close();
}

void TaskCounter::report(std::string_view bytes) {
  impl_->report(bytes);
}

void TaskCounter::check() const {
  impl_->check_alive();
}

std::vector<std::string> TaskCounter::finish(std::string_view result) {
  return impl_->finish(result);
}

}  // namespace tapegrad::dist
