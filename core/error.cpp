#include <tapegrad/core/error.hpp>

namespace tapegrad {

std::string quoted(std::string_view text, std::size_t max_bytes) {
  const std::string_view shown = text.substr(0, max_bytes);
  std::string out = "'";
  for (const char c : shown) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  out += "'";
  if (shown.size() < text.size()) out += fmt::format("... (+{} bytes)", text.size() - shown.size());
  return out;
}

}  // namespace tapegrad
