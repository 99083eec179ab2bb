// tg::data: batch sizes and contents, shuffling, splits, windows, the CSV reader on the
// real airline series and on malformed files, and the Scaler.
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include <doctest/doctest.h>

#include "train_util.hpp"

namespace data = tapegrad::data;
using tg_train::TempPath;
namespace tg = tapegrad;

namespace {

// X = [0, 1, ..., n-1] as (n, 1), y = 10 X as (n): row i is sample i.
std::pair<tg::Tensor, tg::Tensor> numbered(int64_t n) {
  const tg::Tensor x = tg::arange(n, tg::f64);
  return {tg::reshape(x, {n, 1}), (10.0 * x).detach()};
}

std::vector<double> values(const tg::Tensor& t) {
  return t.to(tg::f64).to_vector<double>();
}

std::vector<int64_t> sizes(const data::Batches& batches) {
  std::vector<int64_t> out;
  for (auto [xb, yb] : batches) {
    CHECK(yb.shape()[0] == xb.shape()[0]);
    out.push_back(xb.shape()[0]);
  }
  return out;
}

// The sample ids of a pass, read from the batches' contents.
std::vector<double> ids(const data::Batches& batches) {
  std::vector<double> out;
  for (auto [xb, yb] : batches) {
    const auto x = values(xb), yv = values(yb);
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(yv[i] == 10 * x[i]);  // pairs stay aligned
    out.insert(out.end(), x.begin(), x.end());
  }
  return out;
}

}  // namespace

TEST_CASE("batches: 100 samples by 32 are 32, 32, 32, 4; drop_last drops the 4") {
  const auto [X, y] = numbered(100);
  CHECK(sizes(data::batches(X, y, {.batch_size = 32})) == std::vector<int64_t>{32, 32, 32, 4});
  CHECK(data::batches(X, y, {.batch_size = 32}).size() == 4);
  const auto dropped = data::batches(X, y, {.batch_size = 32, .drop_last = true});
  CHECK(sizes(dropped) == std::vector<int64_t>{32, 32, 32});
  CHECK(sizes(data::batches(X, y, {.batch_size = 25, .drop_last = true})) ==
        std::vector<int64_t>{25, 25, 25, 25});
  CHECK(sizes(data::batches(X, y, {.batch_size = 500})) == std::vector<int64_t>{100});
}

TEST_CASE("batches without shuffle keep sample order; with shuffle visit each sample once") {
  const auto [X, y] = numbered(100);
  std::vector<double> in_order(100);
  std::iota(in_order.begin(), in_order.end(), 0.0);
  CHECK(ids(data::batches(X, y, {.batch_size = 32})) == in_order);

  tg::manual_seed(3);
  std::vector<double> shuffled = ids(data::batches(X, y, {.batch_size = 32, .shuffle = true}));
  CHECK(shuffled != in_order);
  std::vector<double> sorted = shuffled;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == in_order);
}

TEST_CASE("shuffling is reproducible from manual_seed or an explicit generator") {
  const auto [X, y] = numbered(50);
  const auto pass = [&](std::uint64_t seed) {
    tg::manual_seed(seed);
    return ids(data::batches(X, y, {.batch_size = 8, .shuffle = true}));
  };
  CHECK(pass(5) == pass(5));
  CHECK(pass(5) != pass(6));
  tg::Generator g1(9), g2(9);
  CHECK(ids(data::batches(X, y, {.batch_size = 8, .shuffle = true, .generator = &g1})) ==
        ids(data::batches(X, y, {.batch_size = 8, .shuffle = true, .generator = &g2})));
  // Each batches() call draws a new permutation: epochs differ.
  tg::manual_seed(5);
  const auto first = ids(data::batches(X, y, {.batch_size = 8, .shuffle = true}));
  const auto second = ids(data::batches(X, y, {.batch_size = 8, .shuffle = true}));
  CHECK(first != second);
}

TEST_CASE("batches are contiguous copies, independent of X") {
  const tg::Tensor X = tg::arange(24, tg::f32);
  const tg::Tensor X3 = tg::reshape(X, {6, 2, 2});
  const tg::Tensor y = tg::zeros({6, 1});
  const auto batches = data::batches(X3, y, {.batch_size = 4});
  auto [xb, yb] = batches.batch(1);
  CHECK(xb.shape() == tg::Shape{2, 2, 2});
  CHECK(xb.is_contiguous());
  CHECK(values(xb) == std::vector<double>{16, 17, 18, 19, 20, 21, 22, 23});
  xb.data<float>()[0] = -1;
  CHECK(X.data<float>()[16] == 16);
  // Rows of a transposed (non-contiguous) input are gathered correctly too.
  const tg::Tensor T = tg::transpose(tg::reshape(tg::arange(6, tg::f32), {2, 3}), 0, 1);  // (3, 2)
  CHECK(values(data::take(T, {2, 0})) == std::vector<double>{2, 5, 0, 3});
}

TEST_CASE("batches reject mismatched sample counts and bad sizes") {
  CHECK_THROWS_WITH_AS(data::batches(tg::zeros({10, 3}), tg::zeros({9, 1})),
                       doctest::Contains("X has 10 samples"), tg::ShapeError);
  CHECK_THROWS_AS(data::batches(tg::zeros({10, 3}), tg::zeros({10}), {.batch_size = 0}),
                  tg::ValueError);
  CHECK_THROWS_AS(data::batches(tg::zeros({4}), tg::zeros({4}), {}).batch(1), tg::ValueError);
}

TEST_CASE("split_last keeps the last fraction for validation (Keras validation_split)") {
  const auto [X, y] = numbered(10);
  const data::Split s = data::split_last(X, y, 0.2);
  CHECK(values(s.X_train) == std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(values(s.X_test) == std::vector<double>{8, 9});
  CHECK(values(s.y_test) == std::vector<double>{80, 90});
  CHECK(data::split_last(X, y, 0.25).X_test.shape()[0] == 3);  // floor(10 * 0.75) = 7 train
  CHECK_THROWS_AS(data::split_last(X, y, 0.0), tg::ValueError);
  CHECK_THROWS_AS(data::split_last(X, y, 1.0), tg::ValueError);
  CHECK_THROWS_AS(data::split_last(X, y, 0.95), tg::ValueError);  // floor(0.5) = 0 train
}

TEST_CASE("train_test_split shuffles before splitting, unless told not to") {
  const auto [X, y] = numbered(20);
  tg::manual_seed(1);
  const data::Split s = data::train_test_split(X, y, 0.25);
  CHECK(s.X_train.shape()[0] == 15);
  CHECK(s.X_test.shape()[0] == 5);
  std::vector<double> all = values(s.X_train);
  const auto test = values(s.X_test);
  all.insert(all.end(), test.begin(), test.end());
  CHECK(std::set<double>(all.begin(), all.end()).size() == 20);
  CHECK(test != std::vector<double>{15, 16, 17, 18, 19});
  const auto yt = values(s.y_test);
  for (std::size_t i = 0; i < test.size(); ++i) CHECK(yt[i] == 10 * test[i]);
  CHECK(values(data::train_test_split(X, y, 0.25, false).X_test) ==
        std::vector<double>{15, 16, 17, 18, 19});
}

TEST_CASE("windows cut a series into (X, y) forecasting pairs") {
  const auto [X, y] = data::windows(tg::arange(10, tg::f32), 3, 2);
  CHECK(X.shape() == tg::Shape{6, 3, 1});
  CHECK(y.shape() == tg::Shape{6, 2});
  CHECK(X.dtype() == tg::f32);
  const auto xv = values(X), yv = values(y);
  CHECK(std::vector<double>(xv.begin(), xv.begin() + 3) == std::vector<double>{0, 1, 2});
  CHECK(std::vector<double>(yv.begin(), yv.begin() + 2) == std::vector<double>{3, 4});
  CHECK(std::vector<double>(xv.end() - 3, xv.end()) == std::vector<double>{5, 6, 7});
  CHECK(std::vector<double>(yv.end() - 2, yv.end()) == std::vector<double>{8, 9});
  CHECK(data::windows(tg::arange(10, tg::f32), 9).first.shape() == tg::Shape{1, 9, 1});
  CHECK_THROWS_AS(data::windows(tg::arange(10, tg::f32), 10), tg::ValueError);
  CHECK_THROWS_AS(data::windows(tg::zeros({10, 1}), 3), tg::ShapeError);
  CHECK_THROWS_AS(data::windows(tg::arange(10, tg::f32), 0), tg::ValueError);
}

TEST_CASE("read_csv_column reads the airline passengers series") {
  const std::string path = TAPEGRAD_TEST_DATA_DIR "/airline-passengers.csv";
  const tg::Tensor s = data::read_csv_column(path, "passengers");
  CHECK(s.shape() == tg::Shape{144});
  CHECK(s.dtype() == tg::f32);
  const auto v = values(s);
  CHECK(v.front() == 112);
  CHECK(v[1] == 118);
  CHECK(v.back() == 432);
  CHECK(values(data::read_csv_column(path, 1, tg::f64)) == v);  // the header is detected
  CHECK_THROWS_WITH_AS(data::read_csv_column(path, 0),
                       doctest::Contains("airline-passengers.csv:2: column 0: '1949-01'"),
                       tg::ValueError);
}

TEST_CASE("read_csv_column on malformed files names path, line and column") {
  TempPath f("bad.csv");
  f.write("t,value\r\n1,10\r\n\r\n2,abc\r\n");
  CHECK_THROWS_WITH_AS(
      data::read_csv_column(f.str(), "value"),
      doctest::Contains((f.str() + ":4: column 'value': 'abc' is not a number").c_str()),
      tg::ValueError);
  CHECK_THROWS_WITH_AS(data::read_csv_column(f.str(), "price"),
                       doctest::Contains("no column 'price' in the header 't,value'"),
                       tg::ValueError);
  f.write("t,value\n1,10\n2\n");
  CHECK_THROWS_WITH_AS(data::read_csv_column(f.str(), "value"),
                       doctest::Contains(":3: no column 'value' (the line has 1 fields)"),
                       tg::ValueError);
  f.write("t,value\n");
  CHECK_THROWS_WITH_AS(data::read_csv_column(f.str(), "value"), doctest::Contains("no data rows"),
                       tg::ValueError);
  f.write("");
  CHECK_THROWS_AS(data::read_csv_column(f.str(), 0), tg::ValueError);
  CHECK_THROWS_WITH_AS(data::read_csv_column("/nonexistent/x.csv", "value"),
                       doctest::Contains("/nonexistent/x.csv"), tg::IOError);
  // No header, CRLF endings, blank lines, spaces and quotes are all fine.
  f.write("1.5, \"2\"\r\n\r\n-3e2,4\r\n");
  CHECK(values(data::read_csv_column(f.str(), 0, tg::f64)) == std::vector<double>{1.5, -300});
  CHECK(values(data::read_csv_column(f.str(), 1, tg::f64)) == std::vector<double>{2, 4});
}

TEST_CASE("Scaler maps the fitted range to [0, 1] and back") {
  data::Scaler scaler;
  CHECK_THROWS_AS(scaler.transform(tg::zeros({2})), tg::ValueError);
  const tg::Tensor s = tg::tensor({2.0, 4.0, 6.0});
  CHECK(values(scaler.fit_transform(s)) == std::vector<double>{0, 0.5, 1});
  CHECK(scaler.data_min() == 2);
  CHECK(scaler.data_max() == 6);
  CHECK(values(scaler.transform(tg::tensor({8.0}))) == std::vector<double>{1.5});  // no clipping
  CHECK(values(scaler.inverse_transform(tg::tensor({0.0, 0.25, 1.0}))) ==
        std::vector<double>{2, 3, 6});
  data::Scaler sym(-1, 1);
  CHECK(values(sym.fit_transform(s)) == std::vector<double>{-1, 0, 1});
  CHECK(values(data::Scaler().fit_transform(tg::tensor({5.0, 5.0}))) == std::vector<double>{0, 0});
  CHECK_THROWS_AS(data::Scaler(1, 1), tg::ValueError);
}

// A FIFO, a device or a link to one never blocks nor fills memory, and a
// regular file is read up to data::kMaxCsvBytes.
TEST_CASE("read_csv_column reads regular files only, and at most kMaxCsvBytes") {
  tg_test::ScratchDir dir("csv-files");
  const std::string fifo = dir / "fifo.csv", link = dir / "zero.csv", big = dir / "big.csv";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::filesystem::create_symlink("/dev/zero", link);
  CHECK_THROWS_WITH_AS(data::read_csv_column(fifo, 0),
                       doctest::Contains("it is a FIFO, not a regular file"), tg::IOError);
  CHECK_THROWS_WITH_AS(data::read_csv_column("/dev/zero", "value"),
                       doctest::Contains("read_csv_column: '/dev/zero': it is a character device, "
                                         "not a regular file"),
                       tg::IOError);
  CHECK_THROWS_WITH_AS(data::read_csv_column(link, -1),
                       doctest::Contains("it is a character device, not a regular file"),
                       tg::IOError);
  // A sparse file one byte over the bound is refused before a byte of it is read.
  tg_test::write_file(big, "1\n");
  std::filesystem::resize_file(big, data::kMaxCsvBytes + 1);
  CHECK_THROWS_WITH_AS(data::read_csv_column(big, 0),
                       doctest::Contains("it is larger than the 256 MiB this reads at most"),
                       tg::IOError);
}

// Item 5: a message quotes a bounded part of a field, however long the field.
TEST_CASE("read_csv_column quotes at most a bounded part of a bad field or header") {
  TempPath f("long.csv");
  const std::string field(5'000'000, 'x');
  f.write("value\n1\n" + field + "\n");
  const std::string msg =
      tg_test::message_of<tg::ValueError>([&] { data::read_csv_column(f.str(), "value"); });
  CHECK(msg.size() < 400);
  CHECK(tg_test::contains(msg, ":3: column 'value': 'xxxx"));
  CHECK(tg_test::contains(msg, "... (+4999936 bytes) is not a number"));
  f.write(field + "\n1\n");
  const std::string header =
      tg_test::message_of<tg::ValueError>([&] { data::read_csv_column(f.str(), "value"); });
  CHECK(header.size() < 400);
  CHECK(tg_test::contains(header, "no column 'value' in the header 'xxx"));
  // Control bytes in a field are escaped, not written to the terminal.
  f.write("value\n\x1b[2J\n");
  CHECK_THROWS_WITH_AS(data::read_csv_column(f.str(), "value"),
                       doctest::Contains("'\\x1b[2J' is not a number"), tg::ValueError);
}

// Item 10: the byte order mark spreadsheet programs write is not part of the first field.
TEST_CASE("read_csv_column skips a leading UTF-8 byte order mark") {
  TempPath f("bom.csv");
  f.write(
      "\xEF\xBB\xBF"
      "112\n118\n132\n");
  CHECK(values(data::read_csv_column(f.str(), 0, tg::f64)) == std::vector<double>{112, 118, 132});
  f.write(
      "\xEF\xBB\xBF"
      "v\r\n1\r\n2\r\n");
  CHECK(values(data::read_csv_column(f.str(), "v", tg::f64)) == std::vector<double>{1, 2});
  CHECK(values(data::read_csv_column(f.str(), -1, tg::f64)) == std::vector<double>{1, 2});
}

// Item 14: a number beyond a double's range is out of range, not "not a number".
TEST_CASE("read_csv_column says a number no double holds is out of range") {
  TempPath f("range.csv");
  f.write("value\n1\n1e400\n");
  CHECK_THROWS_WITH_AS(data::read_csv_column(f.str(), "value", tg::f64),
                       doctest::Contains(":3: column 'value': '1e400' is out of the range of f64"),
                       tg::ValueError);
  // Without a header line too: an out-of-range first value is data, not a header.
  f.write("-1e400\n1\n");
  CHECK_THROWS_WITH_AS(data::read_csv_column(f.str(), 0),
                       doctest::Contains(":1: column 0: '-1e400' is out of the range of f64"),
                       tg::ValueError);
  f.write("1e-400\n");
  CHECK_THROWS_WITH_AS(data::read_csv_column(f.str(), 0, tg::f64),
                       doctest::Contains("'1e-400' is out of the range of f64"), tg::ValueError);
}

// Item 9: a scaler read back from a file is checked as fit() checks the data.
TEST_CASE("Scaler::set_data_range takes a fitted range and refuses one that cannot scale") {
  data::Scaler scaler;
  scaler.set_data_range(100, 700);
  CHECK(values(scaler.transform(tg::tensor({100.0, 400.0, 700.0}))) ==
        std::vector<double>{0, 0.5, 1});
  CHECK(values(data::Scaler().set_data_range(5, 5).transform(tg::tensor({5.0}))) ==
        std::vector<double>{0});
  CHECK_THROWS_WITH_AS(data::Scaler().set_data_range(1000, 622),
                       doctest::Contains("the data minimum 1000 is above the maximum 622"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(data::Scaler().set_data_range(-1.7e308, 1.7e308),
                       doctest::Contains("wider than a double holds"), tg::ValueError);
  CHECK_THROWS_WITH_AS(data::Scaler().set_data_range(0, 1e-320),
                       doctest::Contains("too narrow to scale by"), tg::ValueError);
  CHECK_THROWS_AS(data::Scaler().set_data_range(0, NAN), tg::ValueError);
  CHECK_THROWS_AS(data::Scaler().set_data_range(-INFINITY, 0), tg::ValueError);
  // fit() refuses such data the same way, instead of scaling it to NaN.
  CHECK_THROWS_WITH_AS(data::Scaler().fit(tg::tensor({-1.7e308, 1.7e308})),
                       doctest::Contains("wider than a double holds"), tg::ValueError);
}
