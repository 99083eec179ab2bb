// write_csv_field: the one CSV field writer of tapegrad (RFC 4180 quoting).
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include <tapegrad/core/csv.hpp>

namespace tg = tapegrad;

namespace {

std::string field(std::string_view text) {
  std::string out = "x,";
  tg::write_csv_field(out, text);
  return out.substr(2);
}

}  // namespace

TEST_CASE("write_csv_field appends plain text as it is") {
  CHECK(field("lstm_32") == "lstm_32");
  CHECK(field("") == "");
  CHECK(field("a b;c\t'd'") == "a b;c\t'd'");
  std::string row = "name,";
  tg::write_csv_field(row, "rnn");
  CHECK(row == "name,rnn");
}

TEST_CASE("write_csv_field quotes a comma, a quote, \\r and \\n, doubling quotes") {
  CHECK(field("a,b") == "\"a,b\"");
  CHECK(field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(field("\"") == "\"\"\"\"");
  CHECK(field("line\nbreak") == "\"line\nbreak\"");
  // A lone carriage return ends a row for readers of \r\n files: it must be quoted too.
  CHECK(field("carriage\rreturn") == "\"carriage\rreturn\"");
  CHECK(field("\r") == "\"\r\"");
  CHECK(field("a\r\nb") == "\"a\r\nb\"");
}

TEST_CASE("write_csv_field keeps every byte, NUL and non-ASCII included") {
  const std::string text("caf\xc3\xa9\0x", 7);
  CHECK(field(text) == text);
  CHECK(field(std::string("a,\0b", 4)) == std::string("\"a,\0b\"", 6));
}
