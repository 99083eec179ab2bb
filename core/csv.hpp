// Writing CSV text as RFC 4180 has it, for the files tapegrad writes (cross-validation
// results, gradient-flow reports). A field is written as it is unless it holds a comma, a
// double quote, a carriage return or a line feed; then it is enclosed in double quotes, each
// quote inside doubled, so a reader splits the row where the writer meant:
//
//   std::string row;
//   tg::write_csv_field(row, "lstm, 32 units");  // "lstm, 32 units" (quoted)
//   row += ",0.5\n";
//
// A lone \r must be quoted too: readers that accept \r\n line ends (Excel, Python's csv)
// end the row at it.
#pragma once

#include <string>
#include <string_view>

namespace tapegrad {

// Appends `field` to `out` as one CSV field (quoted when needed, see above).
void write_csv_field(std::string& out, std::string_view field);

}  // namespace tapegrad
