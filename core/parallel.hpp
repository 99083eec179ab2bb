// Splitting one kernel call over the cores: the calling thread and tapegrad's workers each
// take parts of it. Internal to core.
//
// OpenBLAS parallelizes its own large products, but the kernels tapegrad runs itself (the
// small-GEMM path, at the per-time-step shapes of a recurrent layer) would otherwise use one
// core however many tg::set_num_threads allows. The workers are made on first use, one fewer
// than num_threads(), and wait for work spinning briefly before they sleep, since a recurrent
// layer hands out a part every few tens of microseconds.
#pragma once

#include <cstdint>

namespace tapegrad::kernel::detail {

// Runs part(context, i) for every i in [0, parts), on the calling thread and up to
// num_threads() - 1 workers, and returns when all have run. Parts must not throw. The
// workers run with the caller's floating-point mode (flush-denormal). A call made while
// another thread's call is running, or from a forked child, runs every part on its caller.
void run_parts(int parts, void (*part)(void* context, int i), void* context);

// The same for any callable taking the part's index.
template <class F>
void run_parts(int parts, F& f) {
  run_parts(
      parts, [](void* c, int i) { (*static_cast<F*>(c))(i); }, &f);
}

}  // namespace tapegrad::kernel::detail
