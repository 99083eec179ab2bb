// tg::data: getting samples into batches, splits and windows.
//
//   for (auto [xb, yb] : tg::data::batches(X, y, {.batch_size = 32, .shuffle = true})) ...
//
// Samples run along axis 0 of X and y. batches() draws its permutation once, when called
// (tg::randperm on the default generator unless one is given), so a run is reproducible
// from tg::manual_seed. Each batch is a gathered contiguous copy of its rows: plain data,
// not on the tape, and independent of X (writing into a batch never changes X). Batch
// sizes are batch_size except the last, which is smaller unless drop_last drops it
// (100 samples / 32 -> 32, 32, 32, 4).
//
// Splits follow Keras and scikit-learn: split_last keeps the LAST fraction of the samples
// for validation (Keras's validation_split, taken before any shuffling, so time series
// validate on their end), train_test_split shuffles first. For forecasting, a series is
// read from a CSV column, scaled to [0, 1] by a min-max Scaler (fitted on the training
// part only) and cut into sliding windows.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/core/random.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad::data {

// The rows of x (axis 0) at `rows`, in that order, as a new contiguous tensor.
Tensor take(const Tensor& x, const std::vector<int64_t>& rows);

struct BatchOptions {
  int64_t batch_size = 32;
  bool shuffle = false;  // like PyTorch's DataLoader; fit() shuffles by default (Keras)
  bool drop_last = false;
  Generator* generator = nullptr;  // nullptr: tg::default_generator()
};

// A range of (xb, yb) pairs over the samples of X and y.
class Batches {
 public:
  Batches(Tensor X, Tensor y, BatchOptions opts = {});

  class iterator {
   public:
    using value_type = std::pair<Tensor, Tensor>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const Batches* owner, int64_t index) : owner_(owner), index_(index) {}
    value_type operator*() const { return owner_->batch(index_); }
    iterator& operator++() {
      ++index_;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++index_;
      return old;
    }
    bool operator==(const iterator& other) const { return index_ == other.index_; }

   private:
    const Batches* owner_ = nullptr;
    int64_t index_ = 0;
  };

  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, size()}; }
  // Number of batches.
  int64_t size() const;
  // Batch i (0 <= i < size()).
  std::pair<Tensor, Tensor> batch(int64_t i) const;
  // The sample indices of batch i, to take the same rows of another tensor (a mask).
  std::vector<int64_t> rows(int64_t i) const;
  // The sample order of this pass (the permutation when shuffling).
  const std::vector<int64_t>& order() const { return order_; }

 private:
  Tensor X_, y_;
  BatchOptions opts_;
  std::vector<int64_t> order_;
};

Batches batches(const Tensor& X, const Tensor& y, BatchOptions opts = {});

struct Split {
  Tensor X_train, y_train, X_test, y_test;
};

// The first floor(N * (1 - fraction)) samples train, the rest test (Keras's
// validation_split). Throws ValueError unless both parts are non-empty.
Split split_last(const Tensor& X, const Tensor& y, double fraction);
// split_last after a random permutation of the samples (scikit-learn's train_test_split).
Split train_test_split(const Tensor& X, const Tensor& y, double fraction, bool shuffle = true,
                       Generator* generator = nullptr);

// One numeric column of a CSV file as an (N) tensor. By name, the first line is the header
// and must hold the name; by 0-based index, a first line whose field is not a number is
// taken as a header and skipped. A negative index counts from the end of the first line,
// as in Python: -1 is the last column. Blank lines are skipped, \r\n endings, a leading UTF-8
// byte order mark and surrounding spaces/quotes accepted (no quoted commas). "nan" and "inf"
// read as NaN and infinity. Only a regular file of at most kMaxCsvBytes is read: a missing or
// unreadable file, a FIFO, a device or a directory (also behind a symbolic link) and a larger
// file throw IOError; an unknown column, a short line, a non-number or a number out of the
// range of the dtype throws ValueError naming path, line and column.
inline constexpr std::uint64_t kMaxCsvBytes = std::uint64_t{256} << 20;  // 256 MiB
Tensor read_csv_column(const std::string& path, const std::string& column, DType dtype = f32);
Tensor read_csv_column(const std::string& path, int64_t column, DType dtype = f32);
// read_csv_column with the 1-based line of the file each value was read from, so that a
// caller refusing a value (a NaN) can name its file:line.
struct CsvColumn {
  Tensor values;               // (N)
  std::vector<int64_t> lines;  // N line numbers
};
CsvColumn read_csv_column_lines(const std::string& path, const std::string& column,
                                DType dtype = f32);
CsvColumn read_csv_column_lines(const std::string& path, int64_t column, DType dtype = f32);

// Sliding windows of a series (N) for forecasting: X (M, length, 1) holds
// series[i : i + length], y (M, horizon) the next `horizon` values, M = N - length - horizon
// + 1 (must be >= 1).
std::pair<Tensor, Tensor> windows(const Tensor& series, int64_t length, int64_t horizon = 1);

// Samples and targets, one per row of X and y.
struct Dataset {
  Tensor X, y;
};

// The adding problem (Hochreiter & Schmidhuber 1997), the field's test of memory across time:
// n sequences of `steps` pairs (value ~ U[0, 1), marker); exactly two markers are 1, one in
// each half of the sequence, and the target is the sum of the two marked values. X is
// (n, steps, 2) f32, y (n, 1). Predicting the mean, 1, scores MSE = Var(U + U) = 1/6; to do
// better a model must carry the first marked value across steps / 2 steps or more. Drawn
// from `gen` (values, then the two marker positions, sample by sample), so a seed gives the
// same data everywhere. Throws ValueError unless n >= 1 and steps is even and >= 4.
Dataset adding_problem(int64_t n, int64_t steps, std::mt19937_64& gen);
// The MSE of predicting the mean: Var(U + U) for U ~ U[0, 1).
inline constexpr double kAddingBaselineMse = 1.0 / 6.0;

// Min-max scaling to [lo, hi] (default [0, 1]) with one min and max over all elements of
// the fitted data (a series; use one Scaler per feature otherwise). A constant series maps
// to lo, as scikit-learn's MinMaxScaler does. transform and inverse_transform are ops, so
// they also work on tensors on the tape.
// Keras's pad_sequences: a list of sequences of different lengths, each (T_i) or (T_i, F),
// made one batch (B, maxlen) or (B, maxlen, F) of their dtype, with the mask (B, maxlen)
// (1 at the valid steps, 0 at the padding) that RNN::run and fit take, and the lengths
// after truncation. maxlen 0 means the longest sequence. Sequences longer than maxlen lose
// their first steps (truncating "pre", Keras's default) or their last ("post"); shorter ones
// are filled with `value` before them (padding "pre", Keras's default) or after ("post",
// what PyTorch's pack_padded_sequence expects). All sequences must share dtype and features.
struct PadOptions {
  int64_t maxlen = 0;  // 0: the longest sequence
  std::string padding = "pre";
  std::string truncating = "pre";
  double value = 0.0;
};

struct PaddedSequences {
  Tensor values;                 // (B, maxlen) or (B, maxlen, F)
  Tensor mask;                   // (B, maxlen), nonzero at valid steps
  std::vector<int64_t> lengths;  // valid steps per sample
};

PaddedSequences pad_sequences(const std::vector<Tensor>& sequences, const PadOptions& opts = {});

class Scaler {
 public:
  explicit Scaler(double lo = 0.0, double hi = 1.0);
  // Throws ValueError for data holding NaN or an infinity, and for a range set_data_range
  // refuses.
  Scaler& fit(const Tensor& x);
  // The scaler fitted elsewhere (one read back from a file): as if fit on data whose min and
  // max are these. Throws ValueError unless both are finite, min <= max, and max - min is
  // finite and, when not 0, wide enough that 1 / (max - min) is.
  Scaler& set_data_range(double min, double max);
  Tensor transform(const Tensor& x) const;
  Tensor fit_transform(const Tensor& x) { return fit(x).transform(x); }
  Tensor inverse_transform(const Tensor& x) const;

  bool fitted() const { return fitted_; }
  double data_min() const { return min_; }
  double data_max() const { return max_; }

 private:
  void check_fitted(const char* what) const;
  // Units of the target range per unit of data.
  double scale() const;

  double lo_, hi_;
  double min_ = 0, max_ = 0;
  bool fitted_ = false;
};

}  // namespace tapegrad::data
