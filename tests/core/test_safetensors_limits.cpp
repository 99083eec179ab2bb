// safetensors from a stranger: bounded time and memory, and nothing outside the format.
//
// A header of many entries must parse in time linear in its size (the DOM parser with a
// callback used before was quadratic: 20k empty entries took seconds); a header padded with
// content the format has no place for (an extra field holding a huge array) must be
// refused at that field, before anything is built from it; and every number must be what
// the format says it is.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>

#include <tapegrad/core/core.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;

using tg_test::contains;
using tg_test::message_of;
using tg_test::ScratchDir;
using tg_test::write_file;

namespace {

// A safetensors file from its header text and data (little-endian length first).
std::string file_bytes(const std::string& header, const std::string& data = "") {
  std::string length(8, '\0');
  std::uint64_t n = header.size();
  for (auto& c : length) {
    c = static_cast<char>(n & 0xff);
    n >>= 8;
  }
  return length + header + data;
}

// {"t0":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},...}: n valid empty tensors.
std::string empty_entries(int n) {
  std::string header = "{";
  for (int i = 0; i < n; ++i) {
    if (i > 0) header += ',';
    header += R"("t)" + std::to_string(i) + R"(":{"dtype":"F32","shape":[0],"data_offsets":[0,0]})";
  }
  return header + "}";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Generous bounds: both take tens of milliseconds in Release and a few hundred under the
// sanitizers; the quadratic parser took 3.3 s (Release) for the 20k entries.
constexpr double kSecondsAllowed = 2.0;

}  // namespace

TEST_CASE("safetensors limits: a header of 20k empty tensors loads in time linear in its size") {
  ScratchDir dir("tg-st-limits");
  const std::string path = dir / "many.safetensors";
  write_file(path, file_bytes(empty_entries(20000)));

  const auto start = std::chrono::steady_clock::now();
  const auto tensors = tg::load_safetensors(path);
  const double seconds = seconds_since(start);
  MESSAGE("20k-entry header (1.1 MB) loaded in " << seconds * 1e3 << " ms");
  CHECK(tensors.size() == 20000);
  CHECK(tensors.at("t19999").numel() == 0);
  CHECK(seconds < kSecondsAllowed);
}

TEST_CASE("safetensors limits: an extra field holding a huge array is refused at once") {
  ScratchDir dir("tg-st-limits");
  const std::string path = dir / "padded.safetensors";
  // One valid entry, plus 5M array elements (10 MB) where the format has no field.
  std::string array = "[0";
  for (int i = 1; i < 5'000'000; ++i) array += ",0";
  array += ']';
  write_file(path, file_bytes(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"extra":)" +
                              array + "}}"));

  const auto start = std::chrono::steady_clock::now();
  const std::string msg = message_of<tg::IOError>([&] { tg::load_safetensors(path); });
  const double seconds = seconds_since(start);
  MESSAGE("10 MB header with an extra field rejected in " << seconds * 1e3 << " ms");
  CHECK(contains(msg, "'" + path + "'"));
  CHECK(contains(msg, "tensor 't': unknown field \"extra\""));
  CHECK(contains(msg, "only dtype, shape and data_offsets"));
  CHECK(seconds < kSecondsAllowed);
}

TEST_CASE("safetensors limits: anything outside the format is refused, naming key and field") {
  ScratchDir dir("tg-st-limits");
  const std::string path = dir / "bad.safetensors";
  struct Case {
    const char* what;
    std::string header;
    std::string message;
  };
  const std::string eight(8, '\0');
  const std::vector<Case> cases = {
      {"unknown field", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})",
       "tensor 't': unknown field \"x\""},
      {"unknown field before the others", R"({"t":{"note":"hi","dtype":"F32"}})",
       "tensor 't': unknown field \"note\""},
      {"nested shape", R"({"t":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})",
       "tensor 't': shape holds an array, not an integer"},
      {"object in data_offsets", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,{}]}})",
       "tensor 't': data_offsets holds an object, not an integer"},
      {"exponent extent", R"({"t":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}})",
       "shape holds the number 2e0, not an integer"},
      {"integer beyond 64 bits", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,1e30]}})",
       "data_offsets holds the number 1e30, not an integer"},
      {"boolean offset", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[true,8]}})",
       "data_offsets holds a boolean, not an integer"},
      {"one offset", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}})",
       "tensor 't': data_offsets is not a [begin, end] pair"},
      {"null dtype", R"({"t":{"dtype":null,"shape":[2],"data_offsets":[0,8]}})",
       "tensor 't': dtype is not a string but null"},
      {"metadata nested", R"({"__metadata__":{"a":{"b":"c"}}})",
       "__metadata__ value for key 'a' is not a string but an object"},
      {"metadata key twice", R"({"__metadata__":{"a":"1","a":"2"}})",
       "__metadata__ repeats the key \"a\""},
      {"metadata twice", R"({"__metadata__":{},"__metadata__":{}})",
       "header repeats the key \"__metadata__\""},
      {"array at the root", R"([{"t":1}])", "header is not a JSON object but an array"},
      {"strides overflow int64",
       R"({"a":{"dtype":"F32","shape":[0,9223372036854775807,2],"data_offsets":[0,0]}})",
       "tensor 'a': shape [0,9223372036854775807,2] is not a valid tensor shape"},
  };
  for (const Case& c : cases) {
    const std::string what = c.what;
    CAPTURE(what);
    write_file(path, file_bytes(c.header, eight));
    const std::string msg = message_of<tg::IOError>([&] { tg::read_safetensors_header(path); });
    CHECK_MESSAGE(contains(msg, "load_safetensors: '" + path + "'"), msg);
    CHECK_MESSAGE(contains(msg, c.message), msg);
    CHECK_THROWS_AS(tg::load_safetensors(path), tg::IOError);
  }
}

TEST_CASE("safetensors limits: what the format allows still loads") {
  ScratchDir dir("tg-st-limits");
  const std::string path = dir / "ok.safetensors";
  // Metadata anywhere among the tensors, an empty metadata map, keys in any order, -0.
  write_file(path, file_bytes(R"({"b":{"shape":[2,0],"data_offsets":[0,0],"dtype":"F32"},)"
                              R"("__metadata__":{},"a":{"dtype":"F32","shape":[-0],)"
                              R"("data_offsets":[0,0]}})"));
  std::map<std::string, std::string> meta;
  const auto entries = tg::read_safetensors_header(path, &meta);
  CHECK(meta.empty());
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].name == "a");
  CHECK(entries[0].shape == tg::Shape{0});
  CHECK(entries[1].name == "b");
}
