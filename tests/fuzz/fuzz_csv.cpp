// libFuzzer target: tg::data::read_csv_column on arbitrary bytes, by index (0 and 1) and by
// name ("value"), in f32 and f64.
//
// Beyond "only tg::Error", the two dtypes must read the same numbers: the f32 column is the
// f64 column rounded to float, and a finite number never becomes an infinity (a value
// outside float's range is an error, not inf).
#include <cmath>
#include <cstdint>
#include <variant>

#include "fuzz_support.hpp"

namespace {

namespace tg = tapegrad;
using Column = std::variant<int64_t, std::string>;

tg::Tensor read(const std::string& path, const Column& column, tg::DType dtype) {
  return std::visit([&](const auto& c) { return tg::data::read_csv_column(path, c, dtype); },
                    column);
}

void check_same_numbers(const tg::Tensor& as_f32, const tg::Tensor& as_f64) {
  if (as_f32.dim() != 1 || as_f32.dtype() != tg::f32 || as_f64.dtype() != tg::f64) {
    fuzz::finding("read_csv_column returned the wrong shape or dtype");
  }
  const std::vector<float> a = as_f32.to_vector<float>();
  const std::vector<double> b = as_f64.to_vector<double>();
  if (a.size() != b.size()) fuzz::finding("f32 and f64 read different numbers of rows");
  for (std::size_t i = 0; i < a.size(); ++i) {
    const bool same = std::isnan(a[i]) ? std::isnan(b[i]) : a[i] == static_cast<float>(b[i]);
    if (!same) fuzz::finding("f32 and f64 read different values in row " + std::to_string(i));
    if (std::isinf(a[i]) && std::isfinite(b[i])) {
      fuzz::finding("the finite value " + std::to_string(b[i]) + " in row " + std::to_string(i) +
                    " was read as an infinity in f32");
    }
  }
}

// Reads `column` in both dtypes; when both succeed, they must agree.
void read_both(const std::string& path, const Column& column) {
  tg::Tensor as_f64;
  fuzz::run_one([&] { as_f64 = read(path, column, tg::f64); });
  fuzz::run_one([&] {
    const tg::Tensor as_f32 = read(path, column, tg::f32);
    if (!as_f64.defined()) fuzz::finding("a column f64 refuses was read in f32");
    check_same_numbers(as_f32, as_f64);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::InputFile file;
  const std::string& path = file.write(data, size);
  for (const Column& column :
       {Column(int64_t{0}), Column(int64_t{1}), Column(std::string("value"))}) {
    read_both(path, column);
  }
  return 0;
}
