// read_csv_column by a negative index (from the end, as in Python): the CLI's "the last
// column" without counting fields itself.
#include <doctest/doctest.h>

#include "train_util.hpp"

namespace tg = tapegrad;
using tg_train::TempPath;

TEST_CASE("read_csv_column: -1 is the last column, -N the first, header or not") {
  TempPath csv("columns.csv");
  csv.write("month,passengers,temp\n1,112,3.5\n2,118,4.5\n");
  CHECK(tg::data::read_csv_column(csv.str(), -1, tg::f64).to_vector<double>() ==
        std::vector<double>{3.5, 4.5});
  CHECK(tg::data::read_csv_column(csv.str(), -2, tg::f64).to_vector<double>() ==
        std::vector<double>{112, 118});
  CHECK(tg::data::read_csv_column(csv.str(), -3, tg::f64).to_vector<double>() ==
        std::vector<double>{1, 2});
  TempPath bare("bare.csv");
  bare.write("1,5\n2,6\n");
  CHECK(tg::data::read_csv_column(bare.str(), -1, tg::f64).to_vector<double>() ==
        std::vector<double>{5, 6});
}

TEST_CASE("read_csv_column: a negative index beyond the first column names the field count") {
  TempPath csv("columns.csv");
  csv.write("a,b\n1,2\n");
  CHECK_THROWS_WITH_AS(tg::data::read_csv_column(csv.str(), -3),
                       doctest::Contains("columns.csv:1: column index -3 is out of range: the "
                                         "line has 2 fields (-1 is the last, -2 the first)"),
                       tg::ValueError);
}
