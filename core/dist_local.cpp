// tg::dist built without MPI (-DTAPEGRAD_MPI=OFF): every program is a world of one, where
// each collective checks its arguments as with MPI and leaves its tensor as it is.
#if !TAPEGRAD_MPI

#include <algorithm>
#include <cstdlib>
#include <thread>

#include <tapegrad/core/dist.hpp>
#include <tapegrad/core/dist_detail.hpp>

namespace tapegrad::dist {

Session::Session() = default;
Session::Session(int& /*argc*/, char**& /*argv*/) {}
Session::~Session() = default;

int rank() {
  return 0;
}

int world_size() {
  return 1;
}

int cores_per_rank() {
  return static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
}

void all_reduce(const Tensor& t, Op /*op*/, Order /*order*/) {
  detail::check_tensor("all_reduce", t);
}

void broadcast(const Tensor& t, int root) {
  detail::check_tensor("broadcast", t);
  detail::check_root("broadcast", root, 1);
}

void broadcast(std::string& /*bytes*/, int root) {
  detail::check_root("broadcast", root, 1);
}

void barrier() {}

std::vector<std::uint64_t> all_gather(std::uint64_t value) {
  return {value};
}

void abort(int exit_code) {
  detail::flush_output();
  std::exit(exit_code);
}

namespace detail {

bool communication_thread_allowed() {
  return true;
}

}  // namespace detail

}  // namespace tapegrad::dist

namespace tapegrad::dist::detail {

std::unique_ptr<TaskCounter::Impl> make_task_counter(
    const std::function<void(std::string_view)>& /*on_report*/) {
  return std::make_unique<LocalCounter>();
}

}  // namespace tapegrad::dist::detail

#endif
