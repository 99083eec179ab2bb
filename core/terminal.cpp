#include <tapegrad/core/terminal.hpp>

#include <unistd.h>

#include <iostream>

namespace tapegrad {

bool is_terminal(const std::ostream& out) {
  if (&out == &std::cout) return ::isatty(STDOUT_FILENO) == 1;
  if (&out == &std::cerr || &out == &std::clog) return ::isatty(STDERR_FILENO) == 1;
  return false;
}

}  // namespace tapegrad
