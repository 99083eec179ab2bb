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
// The worker threads that compute bands of a large GEMM (core/parallel) take the mode of the
// thread that hands them the work, so their share flushes exactly when the caller's does.
// (OpenBLAS's own workers could not be switched from outside, and an unflushed worker's half
// of a GEMM on subnormal gradients ran ~5x slower than the caller's: tapegrad runs OpenBLAS
// on one thread and splits products itself.)
#pragma once

namespace tapegrad {

// Whether FlushDenormalScope flushes (default true). Returns false, changing nothing, where
// the CPU has no such mode (as torch.set_flush_denormal does).
bool set_flush_denormal(bool on);
bool flush_denormal();

// For its lifetime, the calling thread flushes denormals if flush_denormal() is set; the
// thread's previous floating-point mode is restored by the destructor.
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
