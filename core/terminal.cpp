#include <tapegrad/core/terminal.hpp>

#include <unistd.h>

#include <cstdint>
#include <iostream>

#include <fmt/format.h>

namespace tapegrad {

bool is_terminal(const std::ostream& out) {
  if (&out == &std::cout) return ::isatty(STDOUT_FILENO) == 1;
  if (&out == &std::cerr || &out == &std::clog) return ::isatty(STDERR_FILENO) == 1;
  return false;
}

std::string clock_time(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  if (s > 3600) return fmt::format("{}:{:02d}:{:02d}", s / 3600, s % 3600 / 60, s % 60);
  if (s > 60) return fmt::format("{}:{:02d}", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace tapegrad
