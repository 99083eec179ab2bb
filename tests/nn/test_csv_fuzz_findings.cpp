// Regression tests for what fuzzing read_csv_column found (tests/fuzz/fuzz_csv.cpp); each
// reproducer lies in tests/fuzz/findings/csv/.
#include <cfloat>
#include <string>

#include <doctest/doctest.h>

#include <tapegrad/tapegrad.hpp>
#include <test_util.hpp>

namespace tg = tapegrad;

namespace {

const std::string kFindings = std::string(TAPEGRAD_TEST_DATA_DIR) + "/../fuzz/findings/csv/";

}  // namespace

TEST_CASE("read_csv_column refuses a finite number that f32 cannot hold instead of reading inf") {
  // The fuzzer's input: the single line "8e88", read as f32, came back as +inf.
  const std::string finding = kFindings + "f32-overflow";
  REQUIRE(tg_test::read_file(finding) == "8e88");
  CHECK_THROWS_WITH_AS(
      tg::data::read_csv_column(finding, 0),
      doctest::Contains((finding + ":1: column 0: '8e88' is beyond the range of f32").c_str()),
      tg::ValueError);
  CHECK(tg::data::read_csv_column(finding, 0, tg::f64).item() == 8e88);

  tg_test::ScratchDir dir("csv-fuzz");
  const std::string path = dir / "series.csv";
  tg_test::write_file(path, "t,value\n1,3.4028234e38\n2,-1e39\n");
  CHECK_THROWS_WITH_AS(tg::data::read_csv_column(path, "value"),
                       doctest::Contains(":3: column 'value': '-1e39' is beyond the range of f32 "
                                         "(about +-3.4e38); read the column as f64"),
                       tg::ValueError);
  // The largest float and the infinities written out stay what they are.
  tg_test::write_file(path, "3.4028234e38\ninf\n-inf\n");
  const tg::Tensor s = tg::data::read_csv_column(path, 0);
  CHECK(s.to_vector<float>() == std::vector<float>{FLT_MAX, INFINITY, -INFINITY});
}
