// A file of another format given as safetensors (a CSV named as weights) is named as such,
// not by the header length its first 8 bytes happen to make.
#include <doctest/doctest.h>

#include <string>

#include <tapegrad/tapegrad.hpp>

#include "test_util.hpp"

namespace tg = tapegrad;

namespace {

std::string load_error(const std::string& path) {
  try {
    tg::load_safetensors(path);
  } catch (const tg::IOError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("load_safetensors names a file of another format as not a safetensors file") {
  tg_test::ScratchDir dir("safetensors-other-format");
  const std::string csv = dir / "weights.csv";
  tg_test::write_file(csv, "date,passengers\n1949-01,112\n1949-02,118\n");
  const std::string message = load_error(csv);
  CHECK(tg_test::contains(message, "'" + csv + "' is not a safetensors file"));
  CHECK(tg_test::contains(message, "its first 8 bytes 'date,pas'"));
  CHECK(tg_test::contains(message, "exceeds the limit"));
  CHECK(message.find('\n') == std::string::npos);

  // Short text: the length it makes runs past the file, said with the bytes as they are.
  const std::string text = dir / "short.txt";
  tg_test::write_file(text, std::string("\x01\x02\0\0\0\0\0\0hello", 13));
  const std::string short_message = load_error(text);
  CHECK(tg_test::contains(short_message, "is not a safetensors file"));
  CHECK(tg_test::contains(short_message, "'\\x01\\x02\\x00"));
  CHECK(tg_test::contains(short_message, "runs past the end of the file (13 bytes)"));
}

TEST_CASE("a safetensors file whose header length is wrong keeps the format's own message") {
  tg_test::ScratchDir dir("safetensors-other-format");
  const std::string path = dir / "cut.safetensors";
  // A real header start, '{' after the length: a damaged safetensors file, not another format.
  tg_test::write_file(path, std::string("\xe8\x03\0\0\0\0\0\0{}", 10));
  const std::string message = load_error(path);
  CHECK(tg_test::contains(message, "header length 1000 runs past the end of the file"));
  CHECK_FALSE(tg_test::contains(message, "not a safetensors file"));
}
