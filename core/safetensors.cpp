// safetensors reading and writing; the format is described in safetensors.hpp.
//
// Loading runs in three steps, each of which can only fail with IOError:
//   1. open the file (regular files only, so a FIFO cannot make us wait forever: see
//      regular_file.hpp), read the 8-byte header length and check it against the file size
//      and a 100 MB cap;
//   2. parse the header JSON with a SAX handler that accepts only the format's grammar and
//      validates every entry against the size of the data section as it is read, so time
//      is linear and memory bounded by the header's size (see "Header parsing" below);
//   3. only then allocate each tensor, whose size is now known to fit inside the file, and
//      read its bytes.
// Saving plans the layout, builds the header with nlohmann's ordered_json (so the byte
// layout matches the reference implementation: "__metadata__" first, then the tensors in
// data order, each as dtype/shape/data_offsets), and writes through AtomicFileWriter.
#include <tapegrad/core/safetensors.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include <tapegrad/core/atomic_file.hpp>
#include <tapegrad/core/regular_file.hpp>

namespace tapegrad {
namespace {

using json = nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";
// The reference implementation refuses larger headers too; real ones are a few kB.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

// ---------------------------------------------------------------------------------------
// Errors

template <class... Args>
[[noreturn]] void fail_load(const std::string& path, fmt::format_string<Args...> what,
                            Args&&... args) {
  throw IOError(fmt::format("load_safetensors: '{}': {}", path,
                            fmt::format(what, std::forward<Args>(args)...)));
}

// ---------------------------------------------------------------------------------------
// Byte order: the format is little-endian; on a big-endian host every element is swapped.

constexpr bool kLittleEndianHost = std::endian::native == std::endian::little;

void swap_elements(void* data, std::size_t bytes, std::size_t element_bytes) {
  auto* p = static_cast<unsigned char*>(data);
  for (std::size_t i = 0; i + element_bytes <= bytes; i += element_bytes) {
    std::reverse(p + i, p + i + element_bytes);
  }
}

std::uint64_t decode_u64_le(const unsigned char* bytes) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | bytes[i];
  return v;
}

std::array<unsigned char, 8> encode_u64_le(std::uint64_t v) {
  std::array<unsigned char, 8> bytes{};
  for (auto& b : bytes) {
    b = static_cast<unsigned char>(v & 0xff);
    v >>= 8;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------
// Header parsing
//
// The JSON is read by a SAX handler that accepts exactly the format's grammar
//
//   header   = { name: entry, ..., "__metadata__": metadata (optional) }
//   entry    = { "dtype": "F32" | "F64", "shape": [count, ...], "data_offsets": [count, count] }
//   metadata = { key: string, ... }
//   count    = an integer in [0, INT64_MAX]
//
// and throws at the first event outside it (an unknown field, a nested array, a number that
// is not such an integer, a repeated key), naming the tensor and what was expected. Nothing
// the format has no place for is ever built, so time is linear in the header's size and
// memory is the header text plus one SafetensorsEntry per tensor. (The DOM parse with a
// callback used before was quadratic, as nlohmann 3.11 rescans an object at each of its
// members, and it kept any extra field: a 49M-element array cost 1.9 GB.)

struct Header {
  std::vector<SafetensorsEntry> entries;  // sorted by name
  std::map<std::string, std::string> metadata;
  std::uint64_t data_start = 0;  // file offset of the data section
};

// The fields of an entry, in the order the format lists them.
enum class Field { dtype, shape, data_offsets };
constexpr std::array<std::string_view, 3> kFieldNames = {"dtype", "shape", "data_offsets"};

std::string_view field_name(Field f) {
  return kFieldNames[static_cast<std::size_t>(f)];
}

DType parse_dtype(const std::string& path, const std::string& name, const std::string& dtype) {
  if (dtype == "F32") return f32;
  if (dtype == "F64") return f64;
  fail_load(path, "tensor '{}' has unsupported dtype '{}' (tapegrad reads F32 and F64)", name,
            dtype);
}

// The entry's element count. Shape owns the overflow checks: numel() throws ShapeError when
// the extents (zeros counted as ones, as they are for strides) multiply past INT64_MAX.
std::uint64_t element_count(const std::string& path, const SafetensorsEntry& entry) {
  try {
    return static_cast<std::uint64_t>(entry.shape.numel());
  } catch (const ShapeError& e) {
    fail_load(path, "tensor '{}': shape {} is not a valid tensor shape ({})", entry.name,
              entry.shape, e.what());
  }
}

// "12", or "more than 2^64" when the product does not fit (only ever printed).
std::string describe_bytes(std::uint64_t count, std::uint64_t element_bytes) {
  if (count > std::numeric_limits<std::uint64_t>::max() / element_bytes) return "more than 2^64";
  return std::to_string(count * element_bytes);
}

// An entry whose fields all parsed: its offsets must lie in the data section and hold
// exactly its elements.
void check_entry_size(const std::string& path, const SafetensorsEntry& entry,
                      std::uint64_t data_size) {
  if (entry.data_begin > entry.data_end) {
    fail_load(path, "tensor '{}': data_offsets [{}, {}] end before they begin", entry.name,
              entry.data_begin, entry.data_end);
  }
  if (entry.data_end > data_size) {
    fail_load(path, "tensor '{}': data_offsets end {} lies beyond the data section ({} bytes)",
              entry.name, entry.data_end, data_size);
  }
  const std::uint64_t count = element_count(path, entry);
  const std::uint64_t span = entry.data_end - entry.data_begin;
  const std::uint64_t element_bytes = element_size(entry.dtype);
  // Division, not count * element_bytes, which could wrap around to exactly `span`.
  if (span % element_bytes != 0 || span / element_bytes != count) {
    fail_load(path, "tensor '{}': shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}",
              entry.name, entry.shape, entry.dtype, describe_bytes(count, element_bytes),
              entry.data_begin, entry.data_end, span);
  }
}

// nlohmann's SAX interface over the grammar above. `place_` says which part of the grammar
// the next event belongs to; every handler either moves on or throws IOError.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, std::uint64_t data_size)
      : path_(path), data_size_(data_size) {}

  // The parsed entries and metadata, once the whole header was read.
  Header take() && { return {std::move(entries_), std::move(metadata_)}; }

  bool null() { return unexpected("null"); }
  bool boolean(bool) { return unexpected("a boolean"); }
  bool binary(json::binary_t&) { return unexpected("binary data"); }
  bool number_float(json::number_float_t, const std::string& text) {
    return unexpected(fmt::format("the number {}", text));
  }
  // nlohmann reports integers written with a minus sign here, others as unsigned.
  bool number_integer(json::number_integer_t value) {
    if (value >= 0) return number_unsigned(static_cast<std::uint64_t>(value));
    if (!in_count_list()) return unexpected(fmt::format("the number {}", value));
    fail_tensor("{} holds the negative value {}", field_name(field_), value);
  }
  bool number_unsigned(json::number_unsigned_t value) {
    if (!in_count_list()) return unexpected(fmt::format("the number {}", value));
    if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail_tensor("{} value {} is too large (at most 2^63 - 1)", field_name(field_), value);
    }
    place_ == Place::shape ? add_extent(value) : add_offset(value);
    return true;
  }
  bool string(std::string& value) {
    if (place_ == Place::entry && field_ == Field::dtype) {
      entry_.dtype = parse_dtype(path_, entry_.name, value);
    } else if (place_ == Place::metadata) {
      metadata_.emplace(key_, std::move(value));
    } else {
      return unexpected("a string");
    }
    return true;
  }

  bool start_object(std::size_t) {
    if (place_ == Place::before_root) {
      place_ = Place::root;
    } else if (place_ == Place::root && key_ == kMetadataKey) {
      place_ = Place::metadata;
    } else if (place_ == Place::root) {
      place_ = Place::entry;
      entry_ = SafetensorsEntry{.name = std::move(key_)};
      seen_fields_ = 0;
    } else {
      return unexpected("an object");
    }
    return true;
  }
  bool start_array(std::size_t) {
    if (place_ == Place::entry && field_ == Field::shape) {
      place_ = Place::shape;
    } else if (place_ == Place::entry && field_ == Field::data_offsets) {
      place_ = Place::data_offsets;
      offsets_read_ = 0;
    } else {
      return unexpected("an array");
    }
    return true;
  }
  bool key(std::string& key) {
    if (place_ == Place::entry) field_ = entry_field(key);
    if (place_ == Place::metadata && metadata_.contains(key)) {
      fail_load(path_, "__metadata__ repeats the key \"{}\"", key);
    }
    if (place_ == Place::root && key == kMetadataKey) {
      if (seen_metadata_) fail_load(path_, "header repeats the key \"{}\"", key);
      seen_metadata_ = true;
    }
    key_ = std::move(key);
    return true;
  }
  bool end_object() {
    if (place_ == Place::entry) finish_entry();
    place_ = place_ == Place::root ? Place::after_root : Place::root;
    return true;
  }
  bool end_array() {
    if (place_ == Place::data_offsets && offsets_read_ != 2) not_a_pair();
    place_ = Place::entry;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    fail_load(path_, "header is not valid JSON ({})", e.what());
  }

 private:
  enum class Place { before_root, root, entry, shape, data_offsets, metadata, after_root };

  template <class... Args>
  [[noreturn]] void fail_tensor(fmt::format_string<Args...> what, Args&&... args) const {
    fail_load(path_, "tensor '{}': {}", entry_.name,
              fmt::format(what, std::forward<Args>(args)...));
  }

  [[noreturn]] void not_a_pair() const { fail_tensor("data_offsets is not a [begin, end] pair"); }

  bool in_count_list() const { return place_ == Place::shape || place_ == Place::data_offsets; }

  // A value the grammar has no place for, described as `found` ("an array", "the number 2.5").
  [[noreturn]] bool unexpected(const std::string& found) const {
    switch (place_) {
      case Place::before_root:
        fail_load(path_, "header is not a JSON object but {}", found);
      case Place::root:
        if (key_ == kMetadataKey)
          fail_load(path_, "__metadata__ is not a JSON object but {}", found);
        fail_load(path_, "tensor '{}': entry is not a JSON object but {}", key_, found);
      case Place::entry:
        if (field_ == Field::dtype) fail_tensor("dtype is not a string but {}", found);
        if (field_ == Field::shape) fail_tensor("shape is not an array but {}", found);
        fail_tensor("data_offsets is not a [begin, end] pair but {}", found);
      case Place::shape:
      case Place::data_offsets:
        fail_tensor("{} holds {}, not an integer", field_name(field_), found);
      case Place::metadata:
        fail_load(path_, "__metadata__ value for key '{}' is not a string but {}", key_, found);
      case Place::after_root:
        break;
    }
    fail_load(path_, "header holds {} after its end", found);
  }

  Field entry_field(const std::string& key) {
    const auto it = std::find(kFieldNames.begin(), kFieldNames.end(), key);
    if (it == kFieldNames.end()) {
      fail_tensor("unknown field \"{}\" (an entry holds only dtype, shape and data_offsets)", key);
    }
    const auto bit = 1u << (it - kFieldNames.begin());
    if (seen_fields_ & bit) fail_tensor("header repeats the key \"{}\"", key);
    seen_fields_ |= bit;
    return static_cast<Field>(it - kFieldNames.begin());
  }

  void add_extent(std::uint64_t extent) {
    if (entry_.shape.size() == Shape::kMaxDims) {
      fail_tensor("shape has {} dimensions or more; tapegrad supports at most {}",
                  Shape::kMaxDims + 1, Shape::kMaxDims);
    }
    entry_.shape.push_back(static_cast<int64_t>(extent));
  }

  void add_offset(std::uint64_t offset) {
    if (offsets_read_ == 2) not_a_pair();
    (offsets_read_++ == 0 ? entry_.data_begin : entry_.data_end) = offset;
  }

  void finish_entry() {
    for (std::size_t i = 0; i < kFieldNames.size(); ++i) {
      if (!(seen_fields_ & (1u << i))) {
        fail_load(path_, "tensor '{}' has no \"{}\"", entry_.name, kFieldNames[i]);
      }
    }
    check_entry_size(path_, entry_, data_size_);
    entries_.push_back(std::move(entry_));
  }

  const std::string& path_;
  const std::uint64_t data_size_;
  Place place_ = Place::before_root;
  std::string key_;  // the last key read: a tensor's name, a field, a metadata key
  SafetensorsEntry entry_;
  Field field_ = Field::dtype;
  unsigned seen_fields_ = 0;  // bit i: kFieldNames[i] was read for entry_
  int offsets_read_ = 0;
  bool seen_metadata_ = false;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// A tensor named twice is an error because JSON parsers disagree on which copy wins, so two
// readers could see two different files. `entries` is sorted by name.
void check_unique_names(const std::vector<SafetensorsEntry>& entries, const std::string& path) {
  const auto twice =
      std::adjacent_find(entries.begin(), entries.end(),
                         [](const auto& a, const auto& b) { return a.name == b.name; });
  if (twice != entries.end()) fail_load(path, "header repeats the key \"{}\"", twice->name);
}

// Two tensors sharing bytes would alias in the file; writers never produce that, so it
// means the file is corrupt or crafted. Empty tensors own no bytes and cannot overlap.
// (Gaps and trailing bytes, which some writers leave, are allowed.) Sorts pointers, not
// copies, to keep the memory a header costs small.
void check_no_overlap(const std::vector<SafetensorsEntry>& entries, const std::string& path) {
  std::vector<const SafetensorsEntry*> owning_bytes;
  for (const auto& e : entries) {
    if (e.data_begin != e.data_end) owning_bytes.push_back(&e);
  }
  std::sort(owning_bytes.begin(), owning_bytes.end(),
            [](const auto* a, const auto* b) { return a->data_begin < b->data_begin; });
  for (std::size_t i = 1; i < owning_bytes.size(); ++i) {
    const auto& prev = *owning_bytes[i - 1];
    const auto& next = *owning_bytes[i];
    if (prev.data_end > next.data_begin) {
      fail_load(path, "tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", prev.name, prev.data_begin,
                prev.data_end, next.name, next.data_begin, next.data_end);
    }
  }
}

Header parse_header(const std::string& text, std::uint64_t data_size, const std::string& path) {
  // JSON text never holds a raw NUL, but nlohmann stops reading at one, which would let
  // "{...}\0anything" pass; the reference implementation rejects it, and so do we.
  if (const auto nul = text.find('\0'); nul != std::string::npos) {
    fail_load(path, "header is not valid JSON (NUL byte at offset {})", nul);
  }
  HeaderParser parser(path, data_size);
  json::sax_parse(text, &parser);  // every failure throws from inside the parser
  Header header = std::move(parser).take();
  std::sort(header.entries.begin(), header.entries.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  check_unique_names(header.entries, path);
  check_no_overlap(header.entries, path);
  return header;
}

// "'date,pas'": the bytes of another format, shown as text where they are printable.
std::string shown_bytes(const std::array<unsigned char, 8>& bytes) {
  std::string out;
  for (const unsigned char b : bytes) {
    out +=
        b >= 0x20 && b < 0x7f ? std::string(1, static_cast<char>(b)) : fmt::format("\\x{:02x}", b);
  }
  return "'" + out + "'";
}

// A header length that does not fit the file, and no JSON object after it: the file is some
// other format (a CSV named as weights), said in those words rather than by the number its
// first bytes make.
void refuse_other_format(const RegularFile& file, const std::string& path,
                         const std::array<unsigned char, 8>& length_bytes,
                         std::uint64_t header_bytes) {
  char first = '\0';
  if (file.size() > 8) file.read_at(&first, 1, 8);
  if (first == '{') return;
  const std::string why =
      header_bytes > kMaxHeaderBytes
          ? fmt::format("exceeds the limit of {} bytes", kMaxHeaderBytes)
          : fmt::format("runs past the end of the file ({} bytes)", file.size());
  throw IOError(fmt::format(
      "load_safetensors: '{}' is not a safetensors file (its first 8 bytes {} read as a header "
      "length of {}, which {}; a safetensors file starts with the length of the JSON header "
      "that follows)",
      path, shown_bytes(length_bytes), header_bytes, why));
}

Header read_header(const RegularFile& file, const std::string& path) {
  const std::uint64_t file_size = file.size();
  if (file_size < 8) {
    fail_load(path, "file is {} bytes, too short for the 8-byte header length", file_size);
  }
  std::array<unsigned char, 8> length_bytes{};
  file.read_at(length_bytes.data(), length_bytes.size(), 0);
  const std::uint64_t header_bytes = decode_u64_le(length_bytes.data());
  if (header_bytes > kMaxHeaderBytes || header_bytes > file_size - 8) {
    refuse_other_format(file, path, length_bytes, header_bytes);
  }
  if (header_bytes > kMaxHeaderBytes) {
    fail_load(path, "header length {} exceeds the limit of {} bytes", header_bytes,
              kMaxHeaderBytes);
  }
  if (header_bytes > file_size - 8) {
    fail_load(path, "header length {} runs past the end of the file ({} bytes)", header_bytes,
              file_size);
  }
  // Safe to allocate now: the size is capped and backed by bytes that exist in the file.
  std::string text(header_bytes, '\0');
  file.read_at(text.data(), text.size(), 8);
  Header header = parse_header(text, file_size - 8 - header_bytes, path);
  header.data_start = 8 + header_bytes;
  return header;
}

Tensor read_tensor(const RegularFile& file, const Header& header, const SafetensorsEntry& entry) {
  Tensor t = empty(entry.shape, entry.dtype);
  const std::size_t bytes = entry.data_end - entry.data_begin;
  if (bytes == 0) return t;
  void* dst = dispatch(entry.dtype, [&]<class T>(T) -> void* { return t.data<T>(); });
  file.read_at(dst, bytes, header.data_start + entry.data_begin);
  if (!kLittleEndianHost) swap_elements(dst, bytes, element_size(entry.dtype));
  return t;
}

// ---------------------------------------------------------------------------------------
// Writing

struct PlannedTensor {
  std::string name;
  Tensor tensor;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

void check_savable(const std::map<std::string, Tensor>& tensors) {
  for (const auto& [name, t] : tensors) {
    if (name == kMetadataKey) {
      throw ValueError("save_safetensors: \"__metadata__\" is reserved and cannot name a tensor");
    }
    if (!t.defined()) {
      throw_error<ValueError>("save_safetensors: tensor '{}' is undefined", name);
    }
  }
}

// f64 tensors first, then f32, each group by name: this is the reference implementation's
// order, and with the data section starting on an 8-byte boundary it aligns every tensor to
// its element size, so readers that map the file can use the data in place.
std::vector<PlannedTensor> plan_layout(const std::map<std::string, Tensor>& tensors) {
  std::vector<PlannedTensor> plan;
  for (const auto& [name, t] : tensors) plan.push_back({name, t});
  std::stable_sort(plan.begin(), plan.end(), [](const auto& a, const auto& b) {
    return element_size(a.tensor.dtype()) > element_size(b.tensor.dtype());
  });
  std::uint64_t offset = 0;
  for (auto& p : plan) {
    p.begin = offset;
    offset += static_cast<std::uint64_t>(p.tensor.numel()) * element_size(p.tensor.dtype());
    p.end = offset;
  }
  return plan;
}

std::string safetensors_dtype(DType d) {
  return d == f32 ? "F32" : "F64";
}

// Compact JSON (as the reference writes it), padded with spaces to a multiple of 8 so the
// data section starts aligned.
std::string build_header(const std::vector<PlannedTensor>& plan,
                         const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[std::string(kMetadataKey)] = metadata;
  for (const auto& p : plan) {
    nlohmann::ordered_json info;
    info["dtype"] = safetensors_dtype(p.tensor.dtype());
    info["shape"] = p.tensor.shape().vec();
    info["data_offsets"] = {p.begin, p.end};
    header[p.name] = std::move(info);
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::ordered_json::type_error&) {
    throw ValueError("save_safetensors: a tensor name or metadata string is not valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

void write_tensor(AtomicFileWriter& file, const Tensor& t) {
  const Tensor dense = t.contiguous();
  const std::size_t bytes = static_cast<std::size_t>(dense.numel()) * element_size(t.dtype());
  if (bytes == 0) return;
  const void* src =
      dispatch(dense.dtype(), [&]<class T>(T) -> const void* { return dense.data<T>(); });
  if (kLittleEndianHost) return file.write(src, bytes);
  std::vector<unsigned char> swapped(static_cast<const unsigned char*>(src),
                                     static_cast<const unsigned char*>(src) + bytes);
  swap_elements(swapped.data(), bytes, element_size(t.dtype()));
  file.write(swapped.data(), bytes);
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  check_savable(tensors);
  const std::vector<PlannedTensor> plan = plan_layout(tensors);
  const std::string header = build_header(plan, metadata);
  AtomicFileWriter file("save_safetensors", path);
  const auto length = encode_u64_le(header.size());
  file.write(length.data(), length.size());
  file.write(header);
  for (const auto& p : plan) write_tensor(file, p.tensor);
  file.commit();
}

std::vector<SafetensorsEntry> read_safetensors_header(
    const std::string& path, std::map<std::string, std::string>* metadata) {
  const RegularFile file("load_safetensors", path);
  Header header = read_header(file, path);
  if (metadata) *metadata = std::move(header.metadata);
  return std::move(header.entries);
}

std::map<std::string, Tensor> load_safetensors(const std::string& path,
                                               std::map<std::string, std::string>* metadata) {
  const RegularFile file("load_safetensors", path);
  const Header header = read_header(file, path);
  std::map<std::string, Tensor> tensors;
  for (const auto& entry : header.entries) {
    tensors.emplace(entry.name, read_tensor(file, header, entry));
  }
  if (metadata) *metadata = header.metadata;
  return tensors;
}

}  // namespace tapegrad
