// What both builds of tg::dist share (core/dist_mpi.cpp with MPI, core/dist_local.cpp
// without): the checks of a collective's arguments, so that a program that is wrong on N
// ranks is already refused, with the same message, when it runs alone; and the workings of a
// TaskCounter.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/core/dist.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad::dist::detail {

// A defined, contiguous tensor of at most INT_MAX elements (MPI counts are ints); else a
// tg::Error naming `op`, the shape and the dtype.
void check_tensor(std::string_view op, const Tensor& t);
// 0 <= root < world_size; else a ValueError naming `op`.
void check_root(std::string_view op, int root, int world_size);
// Whether a thread other than the one that started MPI may call the collectives while that
// one computes (MPI gave MPI_THREAD_SERIALIZED or more): DataParallel's communication
// thread needs it.
bool communication_thread_allowed();
// Flushes std::cout, std::cerr and C's streams: abort() ends the process without it.
void flush_output();

}  // namespace tapegrad::dist::detail

namespace tapegrad::dist {

// A TaskCounter's workings: local (an atomic) or shared by several ranks (MPI's).
struct TaskCounter::Impl {
  virtual ~Impl() = default;
  virtual std::uint64_t next() = 0;
  virtual void close() = 0;
  virtual std::vector<std::string> finish(std::string_view result) = 0;
  virtual void report(std::string_view /*bytes*/) {}  // rank 0 holds what it reports itself
  virtual void check_alive() {}                       // alone: no other rank to fall silent
};

namespace detail {

// The counter of a world of one; rank 0 of several counts with it too (core/dist.cpp).
class LocalCounter final : public TaskCounter::Impl {
 public:
  std::uint64_t next() override { return next_.fetch_add(1); }
  void close() override { next_.store(TaskCounter::kClosed); }
  std::vector<std::string> finish(std::string_view result) override {
    return {std::string(result)};
  }

 private:
  std::atomic<std::uint64_t> next_{0};
};

// A LocalCounter in a world of one, else the one shared by every rank (core/dist_mpi.cpp),
// whose rank 0 hands the other ranks' reports to `on_report`. Collective.
std::unique_ptr<TaskCounter::Impl> make_task_counter(
    const std::function<void(std::string_view)>& on_report);

}  // namespace detail
}  // namespace tapegrad::dist
