// safetensors reading and writing; the format is described in safetensors.hpp.
//
// Loading runs in three steps, each of which can only fail with IOError:
//   1. open the file (regular files only, so a FIFO cannot make us wait forever), read the
//      8-byte header length and check it against the file size and a 100 MB cap;
//   2. parse the header JSON (after checking its nesting depth, so a hostile header cannot
//      exhaust the stack) and validate every entry against the size of the data section,
//      without allocating anything whose size comes from the file;
//   3. only then allocate each tensor, whose size is now known to fit inside the file, and
//      read its bytes.
// Saving plans the layout, builds the header with nlohmann's ordered_json (so the byte
// layout matches the reference implementation: "__metadata__" first, then the tensors in
// data order, each as dtype/shape/data_offsets), and writes through AtomicFileWriter.
//
// The file is read with POSIX calls rather than iostreams so that every failure can be
// reported with the OS's own reason (strerror).
#include <tapegrad/core/safetensors.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include <tapegrad/core/atomic_file.hpp>

namespace tapegrad {
namespace {

using json = nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";
// The reference implementation refuses larger headers too; real ones are a few kB.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
// A valid header nests three deep (root, entry, shape); the margin tolerates extra fields
// other writers may add while keeping the JSON parser's recursion and memory bounded.
constexpr int kMaxNesting = 8;

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
// File descriptors

// Closes the descriptor on scope exit, so every early throw releases it.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads exactly n bytes at offset; a short file is an error, not a partial tensor.
void read_exactly(int fd, const std::string& path, void* dst, std::size_t n, std::uint64_t offset) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    const std::size_t chunk = std::min<std::size_t>(n, 1u << 30);
    const ssize_t got = ::pread(fd, p, chunk, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail_load(path, "read failed: {}", std::strerror(errno));
    if (got == 0) fail_load(path, "file ended early (was it truncated while being read?)");
    p += got;
    n -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
}

struct OpenedFile {
  FileDescriptor fd;
  std::uint64_t size;
};

OpenedFile open_for_reading(const std::string& path) {
  // O_NONBLOCK only matters for a FIFO, whose open() would otherwise wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail_load(path, "cannot open: {}", std::strerror(errno));
  OpenedFile file{FileDescriptor(fd), 0};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_load(path, "cannot stat: {}", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail_load(path, "not a regular file");
  file.size = static_cast<std::uint64_t>(st.st_size);
  return file;
}

// ---------------------------------------------------------------------------------------
// Header parsing and validation

// Deepest nesting of [ and { outside strings. nlohmann's parser keeps a stack entry per
// level, so a header of 100 MB of '[' would cost gigabytes; this scan costs nothing.
int json_nesting(std::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) break;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// Parses the header; a key repeated within one object is an error because JSON parsers
// disagree on which copy wins, so two readers could see two different files.
json parse_header_json(const std::string& text, const std::string& path) {
  // JSON text never holds a raw NUL, but nlohmann stops reading at one, which would let
  // "{...}\0anything" pass; the reference implementation rejects it, and so do we.
  if (const auto nul = text.find('\0'); nul != std::string::npos) {
    fail_load(path, "header is not valid JSON (NUL byte at offset {})", nul);
  }
  if (json_nesting(text, kMaxNesting) > kMaxNesting) {
    fail_load(path, "header JSON is nested deeper than {} levels", kMaxNesting);
  }
  // keys[d]: the keys seen so far in the object whose members sit at depth d.
  std::vector<std::set<std::string>> keys(kMaxNesting + 2);
  std::string duplicate;
  const json::parser_callback_t check_keys = [&](int depth, json::parse_event_t event,
                                                 json& parsed) {
    const auto d = static_cast<std::size_t>(depth);
    if (event == json::parse_event_t::object_start && d + 1 < keys.size()) keys[d + 1].clear();
    if (event == json::parse_event_t::key && d < keys.size() && duplicate.empty() &&
        !keys[d].insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json root;
  try {
    root = json::parse(text, check_keys);
  } catch (const json::exception& e) {
    fail_load(path, "header is not valid JSON ({})", e.what());
  }
  if (!duplicate.empty()) fail_load(path, "header repeats the key \"{}\"", duplicate);
  if (!root.is_object()) fail_load(path, "header is not a JSON object");
  return root;
}

DType parse_dtype(const std::string& name, const json& dtype, const std::string& path) {
  if (!dtype.is_string()) fail_load(path, "tensor '{}': dtype is not a string", name);
  const auto& s = dtype.get_ref<const std::string&>();
  if (s == "F32") return f32;
  if (s == "F64") return f64;
  fail_load(path, "tensor '{}' has unsupported dtype '{}' (tapegrad reads F32 and F64)", name, s);
}

// A JSON value that must be an integer in [0, INT64_MAX].
std::uint64_t parse_count(const std::string& name, const char* field, const json& v,
                          const std::string& path) {
  if (!v.is_number_integer()) {
    fail_load(path, "tensor '{}': {} holds {}, not an integer", name, field, v.dump());
  }
  if (!v.is_number_unsigned() && v.get<std::int64_t>() < 0) {
    fail_load(path, "tensor '{}': {} holds the negative value {}", name, field, v.dump());
  }
  const auto value = v.get<std::uint64_t>();
  if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    fail_load(path, "tensor '{}': {} value {} is too large", name, field, value);
  }
  return value;
}

Shape parse_shape(const std::string& name, const json& shape, const std::string& path) {
  if (!shape.is_array()) fail_load(path, "tensor '{}': shape is not an array", name);
  if (shape.size() > static_cast<std::size_t>(Shape::kMaxDims)) {
    fail_load(path, "tensor '{}' has {} dimensions; tapegrad supports at most {}", name,
              shape.size(), Shape::kMaxDims);
  }
  Shape out;
  for (const json& extent : shape) {
    out.push_back(static_cast<int64_t>(parse_count(name, "shape", extent, path)));
  }
  return out;
}

// numel * element size, nullopt when it overflows: a shape like
// [2^40, 2^40] must be rejected, not wrapped around to a small number that might match.
std::optional<std::uint64_t> byte_size(const Shape& shape, DType dtype) {
  std::uint64_t n = element_size(dtype);
  for (const int64_t extent : shape) {
    if (__builtin_mul_overflow(n, static_cast<std::uint64_t>(extent), &n)) return std::nullopt;
  }
  return n;
}

SafetensorsEntry parse_entry(const std::string& name, const json& info, std::uint64_t data_size,
                             const std::string& path) {
  if (!info.is_object()) fail_load(path, "tensor '{}': entry is not a JSON object", name);
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!info.contains(field)) fail_load(path, "tensor '{}' has no \"{}\"", name, field);
  }
  SafetensorsEntry entry;
  entry.name = name;
  entry.dtype = parse_dtype(name, info["dtype"], path);
  entry.shape = parse_shape(name, info["shape"], path);

  const json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    fail_load(path, "tensor '{}': data_offsets is not a [begin, end] pair", name);
  }
  entry.data_begin = parse_count(name, "data_offsets", offsets[0], path);
  entry.data_end = parse_count(name, "data_offsets", offsets[1], path);
  if (entry.data_begin > entry.data_end) {
    fail_load(path, "tensor '{}': data_offsets [{}, {}] end before they begin", name,
              entry.data_begin, entry.data_end);
  }
  if (entry.data_end > data_size) {
    fail_load(path, "tensor '{}': data_offsets end {} lies beyond the data section ({} bytes)",
              name, entry.data_end, data_size);
  }
  const std::optional<std::uint64_t> bytes = byte_size(entry.shape, entry.dtype);
  if (bytes != entry.data_end - entry.data_begin) {
    fail_load(path, "tensor '{}': shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}",
              name, entry.shape, entry.dtype,
              bytes ? std::to_string(*bytes) : std::string("more than 2^64"), entry.data_begin,
              entry.data_end, entry.data_end - entry.data_begin);
  }
  return entry;
}

std::map<std::string, std::string> parse_metadata(const json& metadata, const std::string& path) {
  if (!metadata.is_object()) fail_load(path, "__metadata__ is not a JSON object");
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : metadata.items()) {
    if (!value.is_string()) {
      fail_load(path, "__metadata__ value for key '{}' is not a string but {}", key,
                value.type_name());
    }
    out.emplace(key, value.get<std::string>());
  }
  return out;
}

// Two tensors sharing bytes would alias in the file; writers never produce that, so it
// means the file is corrupt or crafted. Empty tensors own no bytes and cannot overlap.
void check_no_overlap(std::vector<SafetensorsEntry> entries, const std::string& path) {
  std::erase_if(entries, [](const auto& e) { return e.data_begin == e.data_end; });
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.data_begin < b.data_begin; });
  for (std::size_t i = 1; i < entries.size(); ++i) {
    const auto& prev = entries[i - 1];
    const auto& next = entries[i];
    if (prev.data_end > next.data_begin) {
      fail_load(path, "tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", prev.name, prev.data_begin,
                prev.data_end, next.name, next.data_begin, next.data_end);
    }
  }
}

struct Header {
  std::vector<SafetensorsEntry> entries;  // sorted by name
  std::map<std::string, std::string> metadata;
  std::uint64_t data_start = 0;  // file offset of the data section
};

Header read_header(int fd, const std::string& path, std::uint64_t file_size) {
  if (file_size < 8) {
    fail_load(path, "file is {} bytes, too short for the 8-byte header length", file_size);
  }
  std::array<unsigned char, 8> length_bytes{};
  read_exactly(fd, path, length_bytes.data(), length_bytes.size(), 0);
  const std::uint64_t header_bytes = decode_u64_le(length_bytes.data());
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
  read_exactly(fd, path, text.data(), text.size(), 8);

  const json root = parse_header_json(text, path);
  Header header;
  header.data_start = 8 + header_bytes;
  const std::uint64_t data_size = file_size - header.data_start;
  for (const auto& [name, info] : root.items()) {
    if (name == kMetadataKey) {
      header.metadata = parse_metadata(info, path);
    } else {
      header.entries.push_back(parse_entry(name, info, data_size, path));
    }
  }
  check_no_overlap(header.entries, path);
  return header;
}

Tensor read_tensor(int fd, const std::string& path, const Header& header,
                   const SafetensorsEntry& entry) {
  Tensor t = empty(entry.shape, entry.dtype);
  const std::size_t bytes = entry.data_end - entry.data_begin;
  if (bytes == 0) return t;
  void* dst = dispatch(entry.dtype, [&]<class T>(T) -> void* { return t.data<T>(); });
  read_exactly(fd, path, dst, bytes, header.data_start + entry.data_begin);
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
  OpenedFile file = open_for_reading(path);
  Header header = read_header(file.fd.get(), path, file.size);
  if (metadata) *metadata = std::move(header.metadata);
  return std::move(header.entries);
}

std::map<std::string, Tensor> load_safetensors(const std::string& path,
                                               std::map<std::string, std::string>* metadata) {
  OpenedFile file = open_for_reading(path);
  const Header header = read_header(file.fd.get(), path, file.size);
  std::map<std::string, Tensor> tensors;
  for (const auto& entry : header.entries) {
    tensors.emplace(entry.name, read_tensor(file.fd.get(), path, header, entry));
  }
  if (metadata) *metadata = header.metadata;
  return tensors;
}

}  // namespace tapegrad
