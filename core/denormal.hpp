// Denormal (subnormal) floats, flushed to zero inside tapegrad's backward passes and
// recurrent layer calls.
//
// Gradients that pass back through many steps shrink geometrically, and below the smallest
// normal float (1.2e-38 in f32) x86 computes on them through microcode assists, 10-100x
// slower per operation. Without flushing, one backward pass of an LSTM(64) over T = 10,000
// (batch 8) took 5.8 s, against 0.8 s with flushing; the numbers it changes are below 1e-38,
// gradients no optimizer step can tell from zero. TensorFlow (Keras's backend) runs its CPU
// kernels with flush-to-zero for this reason; PyTorch leaves it to
// torch.set_flush_denormal(True).
//
// The mode is a setting of the CPU per thread. tapegrad sets it in a FlushDenormalScope
// around the work it owns (tg::backward, tg::grad, RNN::run) and restores the caller's mode
// on the way out, so code around it computes as before. On x86 it sets both flush-to-zero
// (subnormal results become 0) and denormals-are-zero (subnormal inputs read as 0).
// OpenBLAS's worker threads, which compute parts of the GEMMs of every scope, cannot be
// switched from outside; they take the mode of the thread that starts them. So tapegrad
// starts them flushing when it loads, and again when the setting or the number of BLAS
// threads changes (set_flush_denormal, tg::set_num_threads): while flushing is on, their
// share of every GEMM flushes, in and out of scopes. Unflushed, the worker's half of a GEMM
// on subnormal gradients ran ~5x slower than the caller's and 2 threads slower than 1.
#pragma once

namespace tapegrad {

// Whether FlushDenormalScope flushes (default true). Returns false, changing nothing, where
// the CPU has no such mode (as torch.set_flush_denormal does). A change restarts OpenBLAS's
// worker threads: call it while no other thread computes.
bool set_flush_denormal(bool on);
bool flush_denormal();

// For its lifetime, the calling thread flushes denormals if flush_denormal() is set; the
// thread's previous floating-point mode is restored by the destructor.
// Restarts OpenBLAS's worker threads in the mode flush_denormal() says (see above).
void sync_blas_workers_with_flush_denormal();

class FlushDenormalScope {
 public:
  FlushDenormalScope();
  ~FlushDenormalScope();
  FlushDenormalScope(const FlushDenormalScope&) = delete;
  FlushDenormalScope& operator=(const FlushDenormalScope&) = delete;

 private:
  unsigned saved_ = 0;
  bool changed_ = false;
};

}  // namespace tapegrad
