// Errors thrown by tapegrad.
//
// Every failure a user can cause (a shape that does not fit, a dtype mix, a bad file)
// throws a subclass of tg::Error whose message names the operation, the shapes or dtypes
// involved and what was expected, so the message alone is enough to find the mistake.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace tapegrad {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ShapeError : public Error {
 public:
  using Error::Error;
};

class DTypeError : public Error {
 public:
  using Error::Error;
};

class ValueError : public Error {
 public:
  using Error::Error;
};

class IOError : public Error {
 public:
  using Error::Error;
};

// Misuse of the autograd engine: backward through a freed graph, a saved tensor that was
// modified in place, a NaN caught by AnomalyGuard.
class AutogradError : public Error {
 public:
  using Error::Error;
};

// throw_error<ShapeError>("matmul: shapes {} and {} ...", a, b)
template <class E, class... Args>
[[noreturn]] void throw_error(fmt::format_string<Args...> format, Args&&... args) {
  throw E(fmt::format(format, std::forward<Args>(args)...));
}

// Untrusted text (a file's field, a JSON string, a path) as an error message quotes it:
// in single quotes, control bytes escaped (\n, \x1b), cut after `max_bytes` with the count
// of what was left out ("'aaaa...' (+49999996 bytes)"). A message never grows with its input.
inline constexpr std::size_t kQuoteLimit = 64;
std::string quoted(std::string_view text, std::size_t max_bytes = kQuoteLimit);

}  // namespace tapegrad
