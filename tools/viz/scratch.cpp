#include <tapegrad/tools/viz/scratch.hpp>

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <tapegrad/core/error.hpp>

namespace tapegrad::tools {

namespace fs = std::filesystem;

ScratchDirectory::ScratchDirectory(const std::string& what) {
  std::string name = (fs::temp_directory_path() / "tapegrad-viz-XXXXXX").string();
  if (::mkdtemp(name.data()) == nullptr) {
    throw_error<IOError>("{}: cannot create a temporary directory '{}': {}", what, name,
                         std::strerror(errno));
  }
  path_ = name;
}

ScratchDirectory::~ScratchDirectory() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace tapegrad::tools
