#include <tapegrad/core/format.hpp>

#include <cmath>
#include <ostream>

#include <tapegrad/core/kernels.hpp>

namespace tapegrad {
namespace {

constexpr int64_t kSummarizeAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Printer {
  const Tensor& t;
  bool summarize;
  std::string out;

  void element(const double v) {
    if (std::isnan(v)) {
      out += "nan";
    } else if (std::isinf(v)) {
      out += v > 0 ? "inf" : "-inf";
    } else {
      out += fmt::format("{:.4g}", v);
    }
  }

  void axis(int64_t depth, int64_t offset) {
    if (depth == t.dim()) {
      dispatch(t.dtype(), [&]<class T>(T) {
        element(static_cast<double>(static_cast<const T*>(t.impl().storage->data())[offset]));
      });
      return;
    }
    const int64_t n = t.shape()[depth];
    const std::string indent(depth + 1, ' ');
    out += '[';
    for (int64_t i = 0; i < n; ++i) {
      if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
        out += depth + 1 == t.dim() ? "..., " : "...,\n" + indent;
        i = n - kEdgeItems;
      }
      axis(depth + 1, offset + i * t.strides()[depth]);
      if (i + 1 < n) out += depth + 1 == t.dim() ? ", " : ",\n" + indent;
    }
    out += ']';
  }
};

}  // namespace

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  Printer p{t, t.numel() > kSummarizeAbove, "tensor("};
  p.axis(0, t.offset());
  p.out += fmt::format(", shape={}, dtype={})", t.shape(), t.dtype());
  return p.out;
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  return os << to_string(t);
}

std::ostream& operator<<(std::ostream& os, const Shape& s) {
  return os << to_string(s);
}

}  // namespace tapegrad
