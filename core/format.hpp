// Printing tensors like NumPy: fmt::format("{}", t) gives the values in nested brackets, then
// the shape and dtype; tensors above 1000 elements show the first and last three entries of
// each axis with "..." between. std::cout << t and << t.shape() print the same text.
#pragma once

#include <iosfwd>
#include <string>

#include <fmt/format.h>

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {
std::string to_string(const Tensor& t);

// What fmt::format("{}", ...) gives, for iostreams (std::cout << t << '\n').
std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::ostream& operator<<(std::ostream& os, const Shape& s);
}  // namespace tapegrad

template <>
struct fmt::formatter<tapegrad::Tensor> : fmt::formatter<std::string> {
  auto format(const tapegrad::Tensor& t, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(tapegrad::to_string(t), ctx);
  }
};
