// libFuzzer target: tg::load_safetensors on arbitrary bytes.
//
// Beyond "only tg::Error, no crash, bounded time and memory", a file that loads must be
// the same file to every reader: read_safetensors_header agrees with load_safetensors on
// every name, dtype and shape, each tensor holds exactly the bytes its data_offsets span,
// and saving what was loaded and loading it again gives it back bit for bit.
#include <cstdint>
#include <filesystem>

#include "fuzz_support.hpp"

namespace {

namespace tg = tapegrad;
using Metadata = std::map<std::string, std::string>;

void check_header_agrees(const std::string& path, const std::map<std::string, tg::Tensor>& tensors,
                         const Metadata& metadata) {
  Metadata header_metadata;
  std::vector<tg::SafetensorsEntry> entries;
  try {
    entries = tg::read_safetensors_header(path, &header_metadata);
  } catch (const tg::Error& e) {
    fuzz::finding(std::string("load_safetensors accepts a file whose header "
                              "read_safetensors_header refuses: ") +
                  e.what());
  }
  if (header_metadata != metadata) fuzz::finding("the two readers return different metadata");
  if (entries.size() != tensors.size()) fuzz::finding("the two readers count different tensors");
  for (const tg::SafetensorsEntry& e : entries) {
    const auto it = tensors.find(e.name);
    if (it == tensors.end()) fuzz::finding("tensor '" + e.name + "' is in the header only");
    const tg::Tensor& t = it->second;
    if (t.dtype() != e.dtype || !(t.shape() == e.shape)) {
      fuzz::finding("tensor '" + e.name + "': the header and the loaded tensor disagree");
    }
    const auto bytes = static_cast<std::uint64_t>(t.numel()) * tg::element_size(t.dtype());
    if (bytes != e.data_end - e.data_begin || !t.is_contiguous()) {
      fuzz::finding("tensor '" + e.name + "' does not hold exactly its data_offsets' bytes");
    }
  }
}

// save(load(file)) loads back to the same tensors: the writer accepts everything the reader
// does (names, metadata strings) and neither loses a bit.
void check_round_trip(const std::map<std::string, tg::Tensor>& tensors, const Metadata& metadata) {
  static const std::string path = fuzz::scratch_path("round-trip.safetensors");
  Metadata again_metadata;
  std::map<std::string, tg::Tensor> again;
  try {
    tg::save_safetensors(path, tensors, metadata);
    again = tg::load_safetensors(path, &again_metadata);
  } catch (const tg::Error& e) {
    fuzz::finding(std::string("a loaded file does not survive save + load: ") + e.what());
  }
  std::filesystem::remove(path);
  if (again_metadata != metadata) fuzz::finding("save + load changed the metadata");
  fuzz::check_unchanged(fuzz::snapshot(tensors), fuzz::snapshot(again),
                        "the tensors after save + load");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::InputFile file;
  const std::string& path = file.write(data, size);
  fuzz::run_one([&] {
    Metadata metadata;
    const std::map<std::string, tg::Tensor> tensors = tg::load_safetensors(path, &metadata);
    check_header_agrees(path, tensors, metadata);
    check_round_trip(tensors, metadata);
  });
  return 0;
}
