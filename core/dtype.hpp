// Element types. f32 is the default; f64 exists so gradients can be checked by finite
// differences. Ops never cast silently: mixing dtypes throws DTypeError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <fmt/format.h>

namespace tapegrad {

enum class DType : std::uint8_t { f32, f64 };

inline constexpr DType f32 = DType::f32;
inline constexpr DType f64 = DType::f64;

constexpr std::size_t element_size(DType d) {
  return d == DType::f32 ? 4 : 8;
}
constexpr std::string_view dtype_name(DType d) {
  return d == DType::f32 ? "f32" : "f64";
}

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return f32;
}
template <>
constexpr DType dtype_of<double>() {
  return f64;
}

// Calls fn with a value of the C++ element type of `d`: dispatch(d, [&]<class T>(T) {...}).
template <class Fn>
decltype(auto) dispatch(DType d, Fn&& fn) {
  if (d == DType::f32) return fn(float{});
  return fn(double{});
}

}  // namespace tapegrad

template <>
struct fmt::formatter<tapegrad::DType> : fmt::formatter<std::string_view> {
  auto format(tapegrad::DType d, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(tapegrad::dtype_name(d), ctx);
  }
};
