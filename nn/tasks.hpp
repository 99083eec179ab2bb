// Independent training tasks on several threads, with results that do not depend on how many.
//
//   std::vector<double> mse = tg::nn::run_seeded_tasks<double>("my_sweep", 12, {.jobs = 2},
//       [&](std::size_t i) { return train_and_score(i); });
//
// Each task first seeds its thread's default generator from (seed, task index) alone
// (task_seed), so the initial weights and batch order of a task, and so its result, are bit
// for bit the same for any number of threads and any schedule. Threads pull the next task
// index from a shared counter (tg::dist::TaskCounter), so long and short tasks balance out;
// list the long ones first. After a task fails no new one starts, every task already started
// runs to its end, and the error of the lowest failed index is thrown: the one a sequential
// run would meet first. Cross-validation (model_selection.hpp) runs its folds this way, over
// the ranks of a distributed run too; run_seeded_tasks is the same on this process's threads.
//
// With jobs > 1 give BLAS one thread (tg::set_num_threads(1)): OpenBLAS's pool serializes
// calls from several threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <tapegrad/core/dist.hpp>
#include <tapegrad/core/random.hpp>

namespace tapegrad::nn {

// A well-mixed 64-bit seed per task (splitmix64's finalizer), so neighbouring tasks and seeds
// do not start Mersenne Twister from neighbouring states.
std::uint64_t task_seed(std::uint64_t seed, std::size_t task);

// `jobs` threads, or one per core of this rank for 0; throws ValueError, naming `who`, for a
// negative count.
int resolve_jobs(const char* who, int jobs);

// Gives the calling thread's default generator back its state on exit (also on error).
class GeneratorRestore {
 public:
  GeneratorRestore() : saved_(default_generator()) {}
  ~GeneratorRestore() { default_generator() = saved_; }
  GeneratorRestore(const GeneratorRestore&) = delete;
  GeneratorRestore& operator=(const GeneratorRestore&) = delete;

 private:
  Generator saved_;
};

// What became of one task on this process.
template <class Result>
struct TaskOutcome {
  bool ran_here = false;
  Result result = {};
  std::exception_ptr error;
};

// task(i) for the indices `counter` hands this process, on `threads` threads (threads == 1: on
// the calling thread). After a failure the counter is closed, so no new task starts anywhere;
// every task of a lower index had already been handed out and runs to its end, so the lowest
// failed index is the failure a sequential run would meet first. A CommunicationError (a rank
// fell silent, no task failed) ends the run and is thrown.
template <class Result>
std::vector<TaskOutcome<Result>> run_tasks(std::size_t count, int threads,
                                           dist::TaskCounter& counter,
                                           const std::function<Result(std::size_t)>& task) {
  std::vector<TaskOutcome<Result>> outcomes(count);
  std::exception_ptr lost_counter;  // the counter's own failure (a rank stopped answering)
  std::mutex lost_mutex;
  const auto work = [&] {
    try {
      for (std::uint64_t i = counter.next(); i < count; i = counter.next()) {
        TaskOutcome<Result>& o = outcomes[i];
        o.ran_here = true;
        try {
          o.result = task(i);
        } catch (const dist::CommunicationError&) {
          throw;
        } catch (...) {
          o.error = std::current_exception();
          counter.close();
        }
      }
    } catch (...) {
      const std::lock_guard lock(lost_mutex);
      lost_counter = std::current_exception();
    }
  };
  if (threads == 1) {
    work();
  } else {
    std::vector<std::jthread> pool;  // joined when it goes out of scope
    for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  }
  if (lost_counter) std::rethrow_exception(lost_counter);
  return outcomes;
}

struct TaskOptions {
  int jobs = 1;            // threads; 0: one per core of this rank
  std::uint64_t seed = 0;  // each task's default generator starts from task_seed(seed, index)
};

// task(0) ... task(count - 1) on this process's threads, each with its default generator
// seeded from (opts.seed, index); the results in index order. The calling thread's default
// generator is left as it was. Throws the lowest failed task's error.
template <class Result>
std::vector<Result> run_seeded_tasks(const char* who, std::size_t count, const TaskOptions& opts,
                                     const std::function<Result(std::size_t)>& task) {
  const int threads = static_cast<int>(std::min<std::size_t>(
      static_cast<std::size_t>(resolve_jobs(who, opts.jobs)), std::max<std::size_t>(count, 1)));
  dist::TaskCounter counter({.across_ranks = false});
  std::vector<TaskOutcome<Result>> outcomes;
  {
    const GeneratorRestore keep_callers_generator;
    outcomes = run_tasks<Result>(count, threads, counter, [&](std::size_t i) {
      default_generator().seed_(task_seed(opts.seed, i));
      return task(i);
    });
  }
  std::vector<Result> results;
  for (TaskOutcome<Result>& o : outcomes) {
    if (o.error) std::rethrow_exception(o.error);
    results.push_back(std::move(o.result));
  }
  return results;
}

}  // namespace tapegrad::nn
