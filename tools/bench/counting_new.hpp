// A counting replacement of the global operator new (counting_new.cpp), linked into the
// per-op benchmarks: every call is heap traffic that bypasses the library's own tensor
// allocator, so after warm-up a recorded op should make none.
#pragma once

#include <cstdint>

namespace counting_new {

// Calls of any form of the global operator new so far in this process.
std::uint64_t calls();

// Prints a backtrace to stderr for each of the next `n` calls (0 stops). Frames have names
// only in executables linked with -rdynamic (CMake: ENABLE_EXPORTS).
void trace_next(int n);

// backtrace() loads libgcc on its first use, which allocates: call this before counting.
void prepare_tracing();

}  // namespace counting_new
