// The multi-rank tests: one program that every rank runs, started by ctest through mpirun
// on 2 and 3 ranks, over shared memory and over TCP alone (tests/CMakeLists.txt). Every test
// case is collective: all ranks run the same cases in the same order, and a check that
// fails on one rank fails that rank's exit status and so mpirun's. Started alone it is a
// world of one, and passes too.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <tapegrad/core/dist.hpp>

int main(int argc, char** argv) {
  tapegrad::dist::Session session(argc, argv);
  doctest::Context context(argc, argv);
  return context.run();
}
