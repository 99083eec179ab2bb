// What both builds of tg::dist share (core/dist_mpi.cpp with MPI, core/dist_local.cpp
// without): the checks of a collective's arguments, so that a program that is wrong on N
// ranks is already refused, with the same message, when it runs alone.
#pragma once

#include <string_view>

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
