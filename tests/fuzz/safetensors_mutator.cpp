// A structure-aware mutator for the targets whose inputs are safetensors files
// (fuzz_safetensors, fuzz_nn_load, fuzz_checkpoint), linked into those targets only.
//
// libFuzzer's byte mutations almost never put a number from the edges of a type where a
// reader must check it. A checkpoint is ~8 kB of header (the generator state alone is 6 kB
// of text) and a few hundred bytes of data: a write lands on optimizer.step once in
// thousands of tries and then rarely makes inf or 1e20 of it; and a shape extent grows
// from 3 to 2^63 - 1 only through many mutations that each gain no coverage. So one
// mutation in four overwrites an element of the data section with a value from the edges
// of float and double (inf, NaN, 1e20, 2^63...), one in four replaces an integer of the
// header JSON (a shape extent, an offset, the format version) with one from the edges of
// int32/int64/uint64, and the rest are libFuzzer's own. save_safetensors aligns every
// tensor to its element size, so writes at multiples of 4 or 8 hit element boundaries.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string_view>
#include <vector>

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

template <class T>
constexpr T kEdges[] = {std::numeric_limits<T>::infinity(),
                        -std::numeric_limits<T>::infinity(),
                        std::numeric_limits<T>::quiet_NaN(),
                        std::numeric_limits<T>::max(),
                        std::numeric_limits<T>::lowest(),
                        std::numeric_limits<T>::denorm_min(),
                        T(1e20),
                        T(-1),
                        T(0),
                        T(0.5),
                        T(9223372036854775807.0),   // 2^63: past int64
                        T(18446744073709551616.0),  // 2^64
                        T(2147483648.0)};           // 2^31: past int32

// The data section of a safetensors file, or false when the length prefix does not fit.
bool data_section(const std::uint8_t* data, std::size_t size, std::size_t* begin) {
  if (size < 8) return false;
  std::uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | data[i];
  if (header > size - 8) return false;
  *begin = 8 + static_cast<std::size_t>(header);
  return *begin < size;
}

template <class T>
void overwrite_element(std::uint8_t* data, std::size_t begin, std::size_t size, std::mt19937& rng) {
  const std::size_t slots = (size - begin) / sizeof(T);
  if (slots == 0) return;
  const std::size_t at = begin + sizeof(T) * (rng() % slots);
  const T value = kEdges<T>[rng() % std::size(kEdges<T>)];
  std::memcpy(data + at, &value, sizeof(T));  // little-endian hosts, like the format
}

constexpr std::string_view kIntegers[] = {"0",
                                          "1",
                                          "2",
                                          "-1",
                                          "2147483647",
                                          "2147483648",
                                          "4294967296",
                                          "4611686018427387904",
                                          "9223372036854775807",
                                          "9223372036854775808",
                                          "18446744073709551615",
                                          "18446744073709551616"};

// Replaces one run of digits in the header with an integer from kIntegers and rewrites the
// length prefix to match, so the data section stays where its offsets say.
std::size_t replace_header_integer(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                   std::size_t begin, std::mt19937& rng) {
  const auto is_digit = [&](std::size_t i) { return data[i] >= '0' && data[i] <= '9'; };
  std::vector<std::size_t> runs;
  for (std::size_t i = 8; i < begin; ++i) {
    if (is_digit(i) && !is_digit(i - 1)) runs.push_back(i);
  }
  if (runs.empty()) return size;
  const std::size_t first = runs[rng() % runs.size()];
  std::size_t last = first;
  while (last < begin && is_digit(last)) ++last;
  const std::string_view number = kIntegers[rng() % std::size(kIntegers)];
  const std::size_t new_size = size - (last - first) + number.size();
  if (new_size > max_size) return size;
  std::memmove(data + first + number.size(), data + last, size - last);
  std::memcpy(data + first, number.data(), number.size());
  std::uint64_t header = begin - 8 - (last - first) + number.size();
  for (int i = 0; i < 8; ++i, header >>= 8) data[i] = static_cast<std::uint8_t>(header & 0xff);
  return new_size;
}

}  // namespace

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size,
                                               std::size_t max_size, unsigned int seed) {
  std::mt19937 rng(seed);
  std::size_t begin = 0;
  const unsigned kind = rng() % 4;
  if (kind >= 2 || !data_section(data, size, &begin)) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  if (kind == 1) return replace_header_integer(data, size, max_size, begin, rng);
  if (rng() % 2 == 0) {
    overwrite_element<double>(data, begin, size, rng);
  } else {
    overwrite_element<float>(data, begin, size, rng);
  }
  return size;
}
