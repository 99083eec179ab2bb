// safetensors: round trips, the exact bytes the reference implementation writes, rejection
// of every kind of malformed file, and atomic writes that never damage the old file.
//
// There is no Python safetensors package on the build machines, so reference files are
// spelled out byte by byte here from the format spec and from the bytes that
// huggingface/safetensors's own tests expect (bindings/python/tests/test_simple.py).
// Malformed files are written into a fresh temporary directory per test.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <tapegrad/core/core.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;
namespace fs = std::filesystem;

using tg_test::contains;
using tg_test::message_of;
using tg_test::read_file;
using tg_test::ScratchDir;
using tg_test::write_file;

namespace {

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (auto& c : s) {
    c = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}

// The raw little-endian bytes of these values (the tests run on little-endian hosts).
template <class T>
std::string raw(std::initializer_list<T> values) {
  std::string s(values.size() * sizeof(T), '\0');
  std::memcpy(s.data(), std::data(values), s.size());
  return s;
}

// A safetensors file from its header text (unpadded is fine for a reader) and data.
std::string file_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

template <class T>
void check_same(const tg::Tensor& got, const tg::Tensor& want) {
  CHECK(got.dtype() == want.dtype());
  CHECK(got.shape() == want.shape());
  CHECK(got.to_vector<T>() == want.to_vector<T>());
}

}  // namespace

static_assert(std::endian::native == std::endian::little, "these tests spell bytes as LE");

TEST_CASE("safetensors: f32 and f64 round trip with scalars, empty tensors and metadata") {
  ScratchDir dir("tapegrad-io");
  const std::string path = dir / "model.safetensors";
  const std::map<std::string, tg::Tensor> tensors = {
      {"0.cell.kernel", tg::from_vector<float>({1.5f, -2.f, 3.25f, 1e-30f, 7.f, -0.f}, {2, 3})},
      {"2.kernel", tg::from_vector<double>({0.1, -1e300, 3.0, 4.0}, {4, 1})},
      {"scalar32", tg::scalar_tensor(42.5, tg::f32)},
      {"scalar64", tg::scalar_tensor(-1.0 / 3.0, tg::f64)},
      {"empty", tg::zeros({0}, tg::f32)},
      {"empty3d", tg::zeros({2, 0, 3}, tg::f64)},
      {"rank8", tg::ones({1, 2, 1, 2, 1, 2, 1, 2}, tg::f32)},
  };
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"note", "unicode ok: \u00e9\u4e2d \"quoted\" \\ \n"}, {"", ""}};
  tg::save_safetensors(path, tensors, metadata);

  std::map<std::string, std::string> meta_back = {{"stale", "entry"}};
  const auto back = tg::load_safetensors(path, &meta_back);
  CHECK(meta_back == metadata);
  REQUIRE(back.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    CAPTURE(name);
    REQUIRE(back.count(name) == 1);
    if (t.dtype() == tg::f32) check_same<float>(back.at(name), t);
    if (t.dtype() == tg::f64) check_same<double>(back.at(name), t);
  }
  // Loaded tensors own fresh memory: writing one leaves the originals alone.
  back.at("0.cell.kernel").data<float>()[0] = 99.f;
  CHECK(tensors.at("0.cell.kernel").data<float>()[0] == 1.5f);

  SUBCASE("without metadata, loading reports an empty map") {
    tg::save_safetensors(path, {{"x", tg::ones({3})}});
    std::map<std::string, std::string> m = {{"stale", "entry"}};
    tg::load_safetensors(path, &m);
    CHECK(m.empty());
  }
  SUBCASE("no tensors at all") {
    tg::save_safetensors(path, {});
    CHECK(read_file(path) == le64(8) + "{}      ");
    CHECK(tg::load_safetensors(path).empty());
  }
}

TEST_CASE("safetensors: non-contiguous tensors are written densely") {
  ScratchDir dir("tapegrad-io");
  const std::string path = dir / "views.safetensors";
  const tg::Tensor base = tg::from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  const tg::Tensor t = tg::kernel::transpose(base, 0, 1);    // [4,3], strides [1,4]
  const tg::Tensor s = tg::kernel::slice(base, 1, 1, 4, 2);  // [3,2], strided
  const tg::Tensor b = tg::kernel::broadcast_to(tg::tensor({1.0, 2.0}), {3, 2});  // stride 0
  REQUIRE_FALSE(t.is_contiguous());
  REQUIRE_FALSE(s.is_contiguous());
  tg::save_safetensors(path, {{"t", t}, {"s", s}, {"b", b}});
  const auto back = tg::load_safetensors(path);
  CHECK(back.at("t").to_vector<float>() ==
        std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  CHECK(back.at("s").to_vector<float>() == std::vector<float>{1, 3, 5, 7, 9, 11});
  CHECK(back.at("b").to_vector<double>() == std::vector<double>{1, 2, 1, 2, 1, 2});
  CHECK(back.at("t").shape() == tg::Shape{4, 3});
  // Header 8 + N, then 4*3*4 + 3*2*4 + 3*2*8 bytes with no gap.
  const std::string bytes = read_file(path);
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(bytes.size() == 8 + n + 48 + 24 + 48);
}

TEST_CASE("safetensors: byte-exact layout matches the reference implementation") {
  ScratchDir dir("tapegrad-io");
  const std::string path = dir / "golden.safetensors";

  SUBCASE("one tensor: safetensors.torch.save({'test': torch.zeros(2, 2)})") {
    tg::save_safetensors(path, {{"test", tg::zeros({2, 2})}});
    // The reference's own test expects these bytes for an int32 zeros((2,2)); F32 is the
    // same length. 60 bytes of compact JSON padded with 4 spaces to 64 = '@'.
    const std::string expected = std::string("@\0\0\0\0\0\0\0", 8) +
                                 R"({"test":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})" +
                                 "    " + std::string(16, '\0');
    CHECK(read_file(path) == expected);
  }
  SUBCASE("[1,2,3] f32 named attn.0: a header of exactly 64 bytes needs no padding") {
    tg::save_safetensors(path, {{"attn.0", tg::from_vector<float>({0, 1, 2, 3, 4, 5}, {1, 2, 3})}});
    const std::string expected =
        le64(64) + R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})" +
        raw<float>({0, 1, 2, 3, 4, 5});
    CHECK(read_file(path) == expected);
  }
  SUBCASE("metadata first; f64 tensors before f32 ones so each is aligned; scalars") {
    tg::save_safetensors(
        path, {{"a", tg::tensor({1.f, 2.f, 3.f})}, {"b", tg::scalar_tensor(0.5, tg::f64)}},
        {{"framework", "tapegrad"}});
    std::string header = R"({"__metadata__":{"framework":"tapegrad"},)"
                         R"("b":{"dtype":"F64","shape":[],"data_offsets":[0,8]},)"
                         R"("a":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}})";
    header.append((8 - header.size() % 8) % 8, ' ');
    REQUIRE(header.size() % 8 == 0);
    const std::string expected =
        le64(header.size()) + header + raw<double>({0.5}) + raw<float>({1.f, 2.f, 3.f});
    CHECK(read_file(path) == expected);
  }
}

TEST_CASE("safetensors: files spelled by hand from the spec load") {
  ScratchDir dir("tapegrad-io");
  const std::string path = dir / "hand.safetensors";

  SUBCASE("the reference's metadata example, header length not a multiple of 8") {
    // From the reference's tests (I32 changed to F32): N = 102, with 7 spaces of padding.
    const std::string header =
        R"({"__metadata__":{"framework":"pt"},"test1":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})"
        "       ";
    REQUIRE(header.size() == 102);
    write_file(path, file_bytes(header, raw<float>({1, 2, 3, 4})));
    std::map<std::string, std::string> meta;
    const auto m = tg::load_safetensors(path, &meta);
    CHECK(meta == std::map<std::string, std::string>{{"framework", "pt"}});
    REQUIRE(m.size() == 1);
    check_same<float>(m.at("test1"), tg::from_vector<float>({1, 2, 3, 4}, {2, 2}));
  }
  SUBCASE("other writers: keys in any order, whitespace, gaps, trailing bytes") {
    // (Unknown fields are refused: tests/io/test_safetensors_limits.cpp.)
    const std::string header = R"( { "w" : { "data_offsets" : [ 16 , 32 ], "shape" : [ 2 ],
        "dtype" : "F64" },
        "v" : { "shape" : [ 1 ], "dtype" : "F32", "data_offsets" : [ 4 , 8 ] } } )";
    const std::string data = std::string(4, 'x') + raw<float>({2.5f}) + std::string(8, 'x') +
                             raw<double>({-1.0, 8.0}) + "trailing";
    write_file(path, file_bytes(header, data));
    const auto m = tg::load_safetensors(path);
    check_same<double>(m.at("w"), tg::tensor({-1.0, 8.0}));
    check_same<float>(m.at("v"), tg::tensor({2.5f}));
  }
  SUBCASE("read_safetensors_header describes the tensors without reading them") {
    tg::save_safetensors(path, {{"k", tg::zeros({3, 2}, tg::f64)}, {"z", tg::zeros({5})}},
                         {{"epoch", "3"}});
    std::map<std::string, std::string> meta;
    const auto entries = tg::read_safetensors_header(path, &meta);
    CHECK(meta.at("epoch") == "3");
    struct Want {
      std::string name;
      tg::DType dtype;
      tg::Shape shape;
      std::uint64_t data_begin, data_end;
    };
    const std::vector<Want> want = {{"k", tg::f64, {3, 2}, 0, 48}, {"z", tg::f32, {5}, 48, 68}};
    REQUIRE(entries.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      CAPTURE(want[i].name);
      CHECK(entries[i].name == want[i].name);
      CHECK(entries[i].dtype == want[i].dtype);
      CHECK(entries[i].shape == want[i].shape);
      CHECK(entries[i].data_begin == want[i].data_begin);
      CHECK(entries[i].data_end == want[i].data_end);
    }
  }
}

TEST_CASE("safetensors: every malformed file throws IOError naming the path and the problem") {
  ScratchDir dir("tapegrad-io");
  const std::string path = dir / "bad.safetensors";
  const std::string ok_entry = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string eight = std::string(8, '\0');

  struct Case {
    const char* what;
    std::string bytes;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"empty file", "", "too short"},
      {"7 bytes", std::string(7, '\0'), "file is 7 bytes, too short"},
      {"header length beyond the file", le64(1000) + "{}", "runs past the end of the file"},
      {"absurd header length", le64(std::uint64_t{1} << 40) + "{}", "exceeds the limit"},
      {"u64 max header length", le64(std::numeric_limits<std::uint64_t>::max()),
       "exceeds the limit"},
      {"header not JSON", file_bytes(R"({"t":{"dtype":)", ""), "not valid JSON"},
      {"zero-length header", file_bytes("", ""), "not valid JSON"},
      {"NUL padding", file_bytes(std::string("{}\0\0\0\0\0\0", 8), ""), "not valid JSON"},
      {"invalid UTF-8", file_bytes("{\"\xff\":{}}", ""), "not valid JSON"},
      {"header an array", file_bytes("[1,2]", ""), "not a JSON object"},
      {"header a string", file_bytes(R"("safetensors")", ""), "not a JSON object"},
      {"deep nesting", file_bytes(R"({"t":)" + std::string(100000, '[') + "]}", ""),
       "tensor 't': entry is not a JSON object but an array"},
      {"duplicate tensor", file_bytes("{" + ok_entry + "," + ok_entry + "}", eight),
       "repeats the key \"t\""},
      {"duplicate field",
       file_bytes(R"({"t":{"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8]}})", eight),
       "repeats the key \"dtype\""},
      {"entry not an object", file_bytes(R"({"t":5})", ""), "tensor 't': entry is not"},
      {"no dtype", file_bytes(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", eight),
       "tensor 't' has no \"dtype\""},
      {"no shape", file_bytes(R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", eight),
       "has no \"shape\""},
      {"no data_offsets", file_bytes(R"({"t":{"dtype":"F32","shape":[2]}})", eight),
       "has no \"data_offsets\""},
      {"unsupported dtype",
       file_bytes(R"({"t":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}})", eight),
       "unsupported dtype 'BF16'"},
      {"dtype not a string",
       file_bytes(R"({"t":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", eight),
       "dtype is not a string"},
      {"negative extent",
       file_bytes(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight),
       "negative value -2"},
      {"fractional extent",
       file_bytes(R"({"t":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", eight),
       "not an integer"},
      {"string extent",
       file_bytes(R"({"t":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", eight),
       "not an integer"},
      {"huge extent",
       file_bytes(R"({"t":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})",
                  eight),
       "too large"},
      {"shape not an array",
       file_bytes(R"({"t":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", eight),
       "shape is not an array"},
      {"rank 9",
       file_bytes(R"({"t":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]}})",
                  eight),
       "9 dimensions"},
      {"offsets reversed",
       file_bytes(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight),
       "end before they begin"},
      {"offsets not a pair",
       file_bytes(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}})", eight),
       "not a [begin, end] pair"},
      {"negative offset",
       file_bytes(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", eight),
       "negative value -8"},
      {"offset beyond the data",
       file_bytes(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234"),
       "beyond the data section (4 bytes)"},
      {"size does not match the shape",
       file_bytes(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight),
       "needs 12 bytes but data_offsets [0, 8] hold 8"},
      {"f64 size mismatch",
       file_bytes(R"({"t":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", eight),
       "needs 16 bytes"},
      {"numel overflows 64 bits",
       file_bytes(R"({"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})",
                  eight),
       "tensor 't': shape [4611686018427387904,4] is not a valid tensor shape"},
      {"overflow to exactly the right size",
       file_bytes(R"({"t":{"dtype":"F32","shape":[4611686018427387906],"data_offsets":[0,8]}})",
                  eight),
       "more than 2^64"},
      {"overlapping tensors",
       file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                  std::string(12, '\0')),
       "'a' [0, 8] and 'b' [4, 12] overlap"},
      {"aliasing tensors",
       file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                  eight),
       "overlap"},
      {"metadata value not a string", file_bytes(R"({"__metadata__":{"epoch":3}})", ""),
       "__metadata__ value for key 'epoch' is not a string"},
      {"metadata not an object", file_bytes(R"({"__metadata__":["a"]})", ""),
       "__metadata__ is not a JSON object"},
  };
  for (const Case& c : cases) {
    const std::string what = c.what;
    CAPTURE(what);
    write_file(path, c.bytes);
    const std::string msg = message_of<tg::IOError>([&] { tg::load_safetensors(path); });
    CHECK_MESSAGE(contains(msg, path), msg);
    CHECK_MESSAGE(contains(msg, c.message), msg);
    // The header-only reader applies the same checks.
    CHECK_THROWS_AS(tg::read_safetensors_header(path), tg::IOError);
  }

  SUBCASE("a missing file, a directory") {
    const std::string missing = dir / "missing.safetensors";
    CHECK(contains(message_of<tg::IOError>([&] { tg::load_safetensors(missing); }),
                   "'" + missing + "': cannot open: No such file or directory"));
    CHECK(contains(message_of<tg::IOError>([&] { tg::load_safetensors(dir.path.string()); }),
                   "not a regular file"));
  }
  SUBCASE("a FIFO is refused at once instead of waiting for a writer") {
    const std::string fifo = dir / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(contains(message_of<tg::IOError>([&] { tg::load_safetensors(fifo); }),
                   "not a regular file"));
  }
  SUBCASE("a valid file truncated anywhere") {
    tg::save_safetensors(path, {{"a", tg::ones({5})}, {"b", tg::ones({2, 2}, tg::f64)}});
    const std::string good = read_file(path);
    for (std::size_t n = 0; n < good.size(); ++n) {
      CAPTURE(n);
      write_file(path, good.substr(0, n));
      CHECK_THROWS_AS(tg::load_safetensors(path), tg::IOError);
    }
  }
}

TEST_CASE("safetensors: corrupting any byte of the header loads or throws IOError, nothing else") {
  ScratchDir dir("tapegrad-io");
  const std::string path = dir / "flip.safetensors";
  tg::save_safetensors(path, {{"a", tg::ones({3})}, {"b", tg::ones({2, 2}, tg::f64)}},
                       {{"k", "v"}});
  const std::string good = read_file(path);
  std::uint64_t n = 0;
  std::memcpy(&n, good.data(), 8);
  int loaded = 0;
  int rejected = 0;
  for (std::size_t i = 0; i < 8 + n; ++i) {
    for (const unsigned char value : {0x00, 0x01, 0x22, 0x2c, 0x30, 0x39, 0x5b, 0x7d, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(value);
      write_file(path, bad);
      try {
        tg::load_safetensors(path);
        ++loaded;
      } catch (const tg::IOError&) {
        ++rejected;
      }
    }
  }
  MESSAGE(loaded << " corrupted headers still loaded, " << rejected << " rejected");
  CHECK(rejected > 0);
}

TEST_CASE("safetensors: invalid arguments throw ValueError and touch nothing") {
  ScratchDir dir("tapegrad-io");
  const std::string path = dir / "m.safetensors";
  CHECK_THROWS_AS(tg::save_safetensors(path, {{"x", tg::Tensor()}}), tg::ValueError);
  CHECK(contains(message_of<tg::ValueError>([&] {
                   tg::save_safetensors(path, {{"__metadata__", tg::ones({1})}});
                 }),
                 "reserved"));
  CHECK(contains(message_of<tg::ValueError>([&] {
                   tg::save_safetensors(path, {{"bad\xff", tg::ones({1})}});
                 }),
                 "not valid UTF-8"));
  CHECK_THROWS_AS(tg::save_safetensors(path, {{"x", tg::ones({1})}}, {{"k", "\xc3"}}),
                  tg::ValueError);
  CHECK(dir.listing().empty());
}

TEST_CASE("safetensors: overwriting replaces the file whole, leaving no temporary") {
  ScratchDir dir("tapegrad-io");
  const std::string path = dir / "model.safetensors";
  tg::save_safetensors(path, {{"old", tg::ones({2})}});
  tg::save_safetensors(path, {{"new", tg::zeros({3}, tg::f64)}});
  const auto m = tg::load_safetensors(path);
  CHECK(m.size() == 1);
  CHECK(m.count("new") == 1);
  CHECK(dir.listing() == std::vector<std::string>{"model.safetensors"});
}

TEST_CASE("safetensors: a failed write keeps the old file and leaves no temporary") {
  ScratchDir dir("tapegrad-io");
  const std::string path = dir / "model.safetensors";
  tg::save_safetensors(path, {{"old", tg::ones({2})}});
  const std::string old_bytes = read_file(path);

  SUBCASE("a path inside a regular file") {
    const std::string bad = path + "/inner.safetensors";
    const std::string msg = message_of<tg::IOError>([&] {
      tg::save_safetensors(bad, {{"x", tg::ones({2})}});
    });
    CHECK(contains(msg, "'" + bad + "'"));
    CHECK(contains(msg, "Not a directory"));
  }
  SUBCASE("a directory that does not exist") {
    const std::string bad = dir / "nowhere/m.safetensors";
    CHECK(contains(message_of<tg::IOError>([&] {
                     tg::save_safetensors(bad, {{"x", tg::ones({2})}});
                   }),
                   "No such file or directory"));
  }
  SUBCASE("the target is a directory: refused, nothing written") {
    const std::string target = dir / "adir";
    fs::create_directory(target);
    write_file(target + "/keep", "keep");
    const std::string msg = message_of<tg::IOError>([&] {
      tg::save_safetensors(target, {{"x", tg::ones({100})}});
    });
    CHECK(contains(msg, "it is a directory, not a regular file"));
    CHECK(read_file(target + "/keep") == "keep");
  }
  SUBCASE("the disk fills up mid-write (RLIMIT_FSIZE): the old file survives") {
    // Exceeding the limit raises SIGXFSZ, which would kill the test; ignored, write()
    // fails with EFBIG instead, as it would with ENOSPC on a full disk.
    auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit old_limit{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    rlimit small = old_limit;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string msg;
    try {
      tg::save_safetensors(path, {{"big", tg::ones({100000})}});
    } catch (const tg::IOError& e) {
      msg = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    std::signal(SIGXFSZ, old_handler);
    CHECK(contains(msg, "'" + path + "'"));
    CHECK(contains(msg, "File too large"));
  }
  SUBCASE("a directory we may not write to") {
    if (::geteuid() == 0) {
      MESSAGE("running as root: permission bits do not stop writes; skipped");
    } else {
      fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
      CHECK(contains(message_of<tg::IOError>([&] {
                       tg::save_safetensors(path, {{"x", tg::ones({2})}});
                     }),
                     "Permission denied"));
      fs::permissions(dir.path, fs::perms::owner_all);
    }
  }
  // Whatever failed, the old file is intact and no temporary remains.
  CHECK(read_file(path) == old_bytes);
  for (const auto& name : dir.listing()) CHECK_MESSAGE(!contains(name, ".tmp."), name);
}
