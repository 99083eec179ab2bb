// Batching, splitting, CSV columns, windows and scaling; see data.hpp.
#include <tapegrad/nn/data.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>

#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/core/regular_file.hpp>
#include <tapegrad/ops/ops.hpp>

namespace tapegrad::data {

namespace {

int64_t samples(const char* op, const Tensor& t) {
  check_defined(op, t);
  if (t.dim() < 1) throw_error<ShapeError>("{}: expected samples along axis 0, got a scalar", op);
  return t.shape()[0];
}

void check_same_samples(const char* op, const Tensor& X, const Tensor& y) {
  const int64_t n = samples(op, X);
  if (samples(op, y) != n) {
    throw_error<ShapeError>("{}: X has {} samples (shape {}) but y has {} (shape {})", op, n,
                            X.shape(), y.shape()[0], y.shape());
  }
}

std::vector<int64_t> identity(int64_t n) {
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  return order;
}

std::vector<int64_t> sample_order(int64_t n, bool shuffle, Generator* gen) {
  return shuffle ? randperm(n, gen ? *gen : default_generator()) : identity(n);
}

std::vector<int64_t> range_of(const std::vector<int64_t>& order, int64_t start, int64_t stop) {
  return {order.begin() + start, order.begin() + stop};
}

Split split_ordered(const Tensor& X, const Tensor& y, double fraction,
                    const std::vector<int64_t>& order, const char* op) {
  const int64_t n = static_cast<int64_t>(order.size());
  if (!(fraction > 0 && fraction < 1)) {
    throw_error<ValueError>("{}: fraction must be in (0, 1), got {}", op, fraction);
  }
  const auto n_train = static_cast<int64_t>(std::floor(static_cast<double>(n) * (1.0 - fraction)));
  if (n_train < 1 || n_train >= n) {
    throw_error<ValueError>("{}: a fraction of {} of {} samples leaves one part empty", op,
                            fraction, n);
  }
  const auto train = range_of(order, 0, n_train);
  const auto test = range_of(order, n_train, n);
  return {take(X, train), take(y, train), take(X, test), take(y, test)};
}

}  // namespace

Tensor take(const Tensor& x, const std::vector<int64_t>& rows) {
  const int64_t n = samples("take", x);
  const Tensor src = x.contiguous();
  Shape shape = x.shape();
  shape[0] = static_cast<int64_t>(rows.size());
  Tensor out = empty(shape, x.dtype());
  const std::size_t row_bytes =
      (n == 0 ? 0 : static_cast<std::size_t>(x.numel() / n)) * element_size(x.dtype());
  const auto* from = static_cast<const char*>(src.impl().storage->data()) +
                     src.offset() * static_cast<int64_t>(element_size(x.dtype()));
  auto* to = static_cast<char*>(out.impl().storage->data()) +
             out.offset() * static_cast<int64_t>(element_size(x.dtype()));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= n) {
      throw_error<ShapeError>("take: row {} out of range for shape {}", rows[i], x.shape());
    }
    std::memcpy(to + i * row_bytes, from + static_cast<std::size_t>(rows[i]) * row_bytes,
                row_bytes);
  }
  return out;
}

Batches::Batches(Tensor X, Tensor y, BatchOptions opts)
    : X_(std::move(X)), y_(std::move(y)), opts_(opts) {
  check_same_samples("batches", X_, y_);
  if (opts_.batch_size < 1) {
    throw_error<ValueError>("batches: batch_size must be >= 1, got {}", opts_.batch_size);
  }
  order_ = sample_order(X_.shape()[0], opts_.shuffle, opts_.generator);
}

int64_t Batches::size() const {
  const auto n = static_cast<int64_t>(order_.size());
  const int64_t full = n / opts_.batch_size;
  return opts_.drop_last || n % opts_.batch_size == 0 ? full : full + 1;
}

std::pair<Tensor, Tensor> Batches::batch(int64_t i) const {
  if (i < 0 || i >= size()) {
    throw_error<ValueError>("batches: batch {} out of range (there are {})", i, size());
  }
  const auto batch_rows = rows(i);
  return {take(X_, batch_rows), take(y_, batch_rows)};
}

std::vector<int64_t> Batches::rows(int64_t i) const {
  const int64_t start = i * opts_.batch_size;
  const int64_t stop = std::min(start + opts_.batch_size, static_cast<int64_t>(order_.size()));
  return range_of(order_, start, stop);
}

Batches batches(const Tensor& X, const Tensor& y, BatchOptions opts) {
  return Batches(X, y, opts);
}

namespace {

bool pre_or_post(const char* option, const std::string& value) {
  if (value != "pre" && value != "post") {
    throw_error<ValueError>("pad_sequences: {} must be \"pre\" or \"post\", got \"{}\"", option,
                            value);
  }
  return value == "pre";
}

// The feature shape shared by all sequences ({} for (T_i) sequences, {F} for (T_i, F)).
Shape common_features(const std::vector<Tensor>& sequences) {
  if (sequences.empty()) throw ValueError("pad_sequences: no sequences given");
  const Tensor& first = sequences[0];
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const Tensor& s = sequences[i];
    check_defined("pad_sequences", s);
    if (s.dim() < 1 || s.dim() > 2) {
      throw_error<ShapeError>(
          "pad_sequences: sequence {} has shape {}, expected (time) or (time, features)", i,
          s.shape());
    }
    if (s.dim() != first.dim() || (s.dim() == 2 && s.shape()[1] != first.shape()[1]) ||
        s.dtype() != first.dtype()) {
      throw_error<ShapeError>(
          "pad_sequences: sequence {} has shape {} ({}), sequence 0 has shape {} ({}); all "
          "need the same features and dtype",
          i, s.shape(), dtype_name(s.dtype()), first.shape(), dtype_name(first.dtype()));
    }
  }
  return first.dim() == 2 ? Shape{first.shape()[1]} : Shape{};
}

}  // namespace

PaddedSequences pad_sequences(const std::vector<Tensor>& sequences, const PadOptions& opts) {
  const Shape features = common_features(sequences);
  const bool pad_pre = pre_or_post("padding", opts.padding);
  const bool truncate_pre = pre_or_post("truncating", opts.truncating);
  if (opts.maxlen < 0)
    throw_error<ValueError>("pad_sequences: maxlen must be >= 0, got {}", opts.maxlen);
  int64_t maxlen = opts.maxlen;
  if (maxlen == 0) {
    for (const Tensor& s : sequences) maxlen = std::max(maxlen, s.shape()[0]);
  }
  const auto batch = static_cast<int64_t>(sequences.size());
  Shape shape{batch, maxlen};
  if (!features.empty()) shape.push_back(features[0]);
  // A maxlen whose product overflows is a ShapeError naming this function; made as tensors,
  // whose allocation turns more than the machine has into a tg::Error.
  check_shape(shape, "pad_sequences");
  NoGradGuard filling;
  const Tensor values = full(shape, opts.value, sequences[0].dtype());
  const Tensor mask = zeros({batch, maxlen}, sequences[0].dtype());
  std::vector<int64_t> lengths;
  for (int64_t b = 0; b < batch; ++b) {
    const Tensor& s = sequences[static_cast<std::size_t>(b)];
    const int64_t length = std::min(s.shape()[0], maxlen);
    const int64_t skipped = truncate_pre ? s.shape()[0] - length : 0;  // steps cut off
    const int64_t at = pad_pre ? maxlen - length : 0;                  // first valid position
    kernel::copy_into(slice(select(values, 0, b), 0, at, at + length),
                      slice(s, 0, skipped, skipped + length));
    kernel::copy_into(slice(select(mask, 0, b), 0, at, at + length), ones({length}, mask.dtype()));
    lengths.push_back(length);
  }
  return {values, mask, std::move(lengths)};
}

Split split_last(const Tensor& X, const Tensor& y, double fraction) {
  check_same_samples("split_last", X, y);
  return split_ordered(X, y, fraction, identity(X.shape()[0]), "split_last");
}

Split train_test_split(const Tensor& X, const Tensor& y, double fraction, bool shuffle,
                       Generator* generator) {
  check_same_samples("train_test_split", X, y);
  return split_ordered(X, y, fraction, sample_order(X.shape()[0], shuffle, generator),
                       "train_test_split");
}

std::pair<Tensor, Tensor> windows(const Tensor& series, int64_t length, int64_t horizon) {
  check_defined("windows", series);
  if (series.dim() != 1) {
    throw_error<ShapeError>("windows: expected a series of shape (N), got {}", series.shape());
  }
  if (length < 1 || horizon < 1) {
    throw_error<ValueError>("windows: length and horizon must be >= 1, got {} and {}", length,
                            horizon);
  }
  const int64_t m = series.shape()[0] - length - horizon + 1;
  if (m < 1) {
    throw_error<ValueError>("windows: a series of {} values has no window of {} + {}",
                            series.shape()[0], length, horizon);
  }
  const std::vector<double> s = series.to(f64).to_vector<double>();
  std::vector<double> x, y;
  x.reserve(static_cast<std::size_t>(m * length));
  y.reserve(static_cast<std::size_t>(m * horizon));
  for (int64_t i = 0; i < m; ++i) {
    x.insert(x.end(), s.begin() + i, s.begin() + i + length);
    y.insert(y.end(), s.begin() + i + length, s.begin() + i + length + horizon);
  }
  return {from_vector(x, {m, length, 1}).to(series.dtype()),
          from_vector(y, {m, horizon}).to(series.dtype())};
}

// ---- CSV ----

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

std::string_view trim(std::string_view s) {
  const char* space = " \t\r\n";
  const auto first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  s = s.substr(first, s.find_last_not_of(space) - first + 1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0;;) {
    const auto comma = line.find(',', start);
    out.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

// A field read as a number: its value, or why it is none.
struct Number {
  double value = 0;
  std::errc error{};  // invalid_argument: not a number; result_out_of_range: beyond a double
};

Number parse_number(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  Number n;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n.value);
  if (s.empty() || end != s.data() + s.size()) {
    n.error = std::errc::invalid_argument;
  } else {
    n.error = ec;
  }
  return n;
}

// The file's text without a leading UTF-8 byte order mark (which spreadsheet programs write),
// so that it is not taken as part of the first field.
std::string read_csv_text(const std::string& path) {
  std::string text = read_regular_file("read_csv_column", path, kMaxCsvBytes);
  if (std::string_view(text).starts_with(kUtf8Bom)) text.erase(0, kUtf8Bom.size());
  return text;
}

// The non-blank lines of a text, each with its 1-based line number, viewed in place.
class Lines {
 public:
  explicit Lines(std::string_view text) : rest_(text) {}
  // The next non-blank line, or false at the end.
  bool next(int64_t& number, std::string_view& line) {
    while (!rest_.empty()) {
      const auto newline = rest_.find('\n');
      line = rest_.substr(0, newline);
      rest_ = newline == std::string_view::npos ? std::string_view() : rest_.substr(newline + 1);
      number = ++count_;
      if (!trim(line).empty()) return true;
    }
    return false;
  }

 private:
  std::string_view rest_;
  int64_t count_ = 0;
};

struct FirstLine {
  int64_t number;
  std::string_view text;
};

FirstLine first_line(const std::string& path, Lines& lines) {
  FirstLine first{};
  if (!lines.next(first.number, first.text)) {
    throw_error<ValueError>("read_csv_column: '{}' holds no lines", path);
  }
  return first;
}

std::optional<int64_t> find_column(std::string_view header, std::string_view name) {
  const auto names = fields(header);
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int64_t>(i);
  }
  return std::nullopt;
}

// A field's value in the column's dtype. A number no double holds (1e400) and a finite one
// that the dtype cannot hold (8e88 in f32, which would silently become an infinity) are
// refused as out of range, with the way out where there is one.
double field_value(const std::string& path, int64_t line, const std::string& label,
                   std::string_view text, DType dtype) {
  const Number n = parse_number(text);
  if (n.error == std::errc::result_out_of_range) {
    throw_error<ValueError>(
        "read_csv_column: {}:{}: column {}: {} is out of the range of f64 (magnitudes up to "
        "about 1.8e308, nonzero ones from 4.9e-324)",
        path, line, label, quoted(text));
  }
  if (n.error != std::errc()) {
    throw_error<ValueError>("read_csv_column: {}:{}: column {}: {} is not a number", path, line,
                            label, quoted(text));
  }
  if (dtype == f32 && std::isfinite(n.value) && std::isinf(static_cast<float>(n.value))) {
    throw_error<ValueError>(
        "read_csv_column: {}:{}: column {}: {} is beyond the range of f32 (about +-3.4e38); "
        "read the column as f64",
        path, line, label, quoted(text));
  }
  return n.value;
}

// Parses column `index` (shown as `label` in errors) of the lines left.
CsvColumn parse_column(const std::string& path, Lines& lines, int64_t index,
                       const std::string& label, DType dtype) {
  std::vector<double> values;
  std::vector<int64_t> line_numbers;
  int64_t number = 0;
  std::string_view line;
  while (lines.next(number, line)) {
    const auto row = fields(line);
    if (index >= static_cast<int64_t>(row.size())) {
      throw_error<ValueError>("read_csv_column: {}:{}: no column {} (the line has {} fields)", path,
                              number, label, row.size());
    }
    values.push_back(field_value(path, number, label, row[static_cast<std::size_t>(index)], dtype));
    line_numbers.push_back(number);
  }
  if (values.empty()) throw_error<ValueError>("read_csv_column: '{}' has no data rows", path);
  return {from_vector(values, {static_cast<int64_t>(values.size())}).to(dtype),
          std::move(line_numbers)};
}

}  // namespace

Tensor read_csv_column(const std::string& path, const std::string& column, DType dtype) {
  return read_csv_column_lines(path, column, dtype).values;
}

Tensor read_csv_column(const std::string& path, int64_t column, DType dtype) {
  return read_csv_column_lines(path, column, dtype).values;
}

CsvColumn read_csv_column_lines(const std::string& path, const std::string& column, DType dtype) {
  const std::string text = read_csv_text(path);
  Lines lines(text);
  const FirstLine header = first_line(path, lines);
  const auto index = find_column(header.text, column);
  if (!index) {
    throw_error<ValueError>("read_csv_column: {}:{}: no column {} in the header {}", path,
                            header.number, tapegrad::quoted(column), quoted(trim(header.text)));
  }
  return parse_column(path, lines, *index, tapegrad::quoted(column), dtype);
}

CsvColumn read_csv_column_lines(const std::string& path, int64_t column, DType dtype) {
  const std::string text = read_csv_text(path);
  Lines lines(text);
  const FirstLine first = first_line(path, lines);
  const auto head = fields(first.text);
  if (column < 0) {
    const auto count = static_cast<int64_t>(head.size());
    if (column < -count) {
      throw_error<ValueError>(
          "read_csv_column: {}:{}: column index {} is out of range: the line has {} fields "
          "(-1 is the last, -{} the first)",
          path, first.number, column, count, count);
    }
    column += count;
  }
  // A first line whose field is not a number is a header; otherwise (also when the number is
  // out of range, which parse_column then reports) it is data, read again.
  const bool header =
      column < static_cast<int64_t>(head.size()) &&
      parse_number(head[static_cast<std::size_t>(column)]).error == std::errc::invalid_argument;
  if (!header) lines = Lines(text);
  return parse_column(path, lines, column, std::to_string(column), dtype);
}

// ---- Scaler ----

Scaler::Scaler(double lo, double hi) : lo_(lo), hi_(hi) {
  if (!(lo < hi)) throw_error<ValueError>("Scaler: the range [{}, {}] is empty", lo, hi);
}

Scaler& Scaler::fit(const Tensor& x) {
  check_defined("Scaler::fit", x);
  if (x.numel() == 0) throw ValueError("Scaler::fit: no data");
  const Tensor flat = x.detach();
  const double min = -kernel::max(kernel::neg(flat), {}, false).item();
  const double max = kernel::max(flat, {}, false).item();
  if (!std::isfinite(min) || !std::isfinite(max)) {
    throw ValueError("Scaler::fit: the data holds NaN or infinite values");
  }
  return set_data_range(min, max);
}

// Besides order, a range whose width, or the factor that maps it to [lo, hi], is no finite
// double is refused: it would scale every value to an infinity or NaN.
Scaler& Scaler::set_data_range(double min, double max) {
  if (!std::isfinite(min) || !std::isfinite(max)) {
    throw_error<ValueError>("Scaler: the data range [{}, {}] is not finite", min, max);
  }
  if (min > max) {
    throw_error<ValueError>("Scaler: the data minimum {} is above the maximum {}", min, max);
  }
  const double range = max - min;
  if (!std::isfinite(range)) {
    throw_error<ValueError>(
        "Scaler: the data range [{}, {}] is wider than a double holds (max - min overflows)", min,
        max);
  }
  if (range > 0 && !std::isfinite((hi_ - lo_) / range)) {
    throw_error<ValueError>(
        "Scaler: the data range [{}, {}] is too narrow to scale by (1 / (max - min) overflows)",
        min, max);
  }
  min_ = min;
  max_ = max;
  fitted_ = true;
  return *this;
}

double Scaler::scale() const {
  const double range = max_ - min_;
  return (hi_ - lo_) / (range > 0 ? range : 1.0);
}

void Scaler::check_fitted(const char* what) const {
  if (!fitted_) throw_error<ValueError>("Scaler::{}: call fit() first", what);
}

Tensor Scaler::transform(const Tensor& x) const {
  check_fitted("transform");
  return (x - min_) * scale() + lo_;
}

Tensor Scaler::inverse_transform(const Tensor& x) const {
  check_fitted("inverse_transform");
  return (x - lo_) / scale() + min_;
}

// The markers go one in each half so that every sample needs memory across at least the
// middle of the sequence; with both anywhere, some samples would be easy short-range ones.
Dataset adding_problem(int64_t n, int64_t steps, std::mt19937_64& gen) {
  if (n < 1 || steps < 4 || steps % 2 != 0) {
    throw_error<ValueError>(
        "adding_problem: {} sequences of {} steps (expected at least 1 sequence and an even "
        "length >= 4: one marker in each half)",
        n, steps);
  }
  std::uniform_real_distribution<float> value(0.0f, 1.0f);
  std::uniform_int_distribution<int64_t> first(0, steps / 2 - 1), second(steps / 2, steps - 1);
  std::vector<float> x(static_cast<std::size_t>(n * steps * 2), 0.0f), y;
  y.reserve(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float* sample = x.data() + i * steps * 2;
    for (int64_t t = 0; t < steps; ++t) sample[2 * t] = value(gen);
    const int64_t a = first(gen), b = second(gen);
    sample[2 * a + 1] = 1.0f;
    sample[2 * b + 1] = 1.0f;
    y.push_back(sample[2 * a] + sample[2 * b]);
  }
  return {from_vector(x, {n, steps, 2}), from_vector(y, {n, 1})};
}

}  // namespace tapegrad::data
