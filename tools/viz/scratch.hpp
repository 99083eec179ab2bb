// A fresh private temporary directory, removed with everything in it when it goes out of
// scope (internal to tools/viz): where a chart or a page is drawn before its bytes replace
// the output file atomically.
#pragma once

#include <filesystem>
#include <string>

namespace tapegrad::tools {

class ScratchDirectory {
 public:
  // `what` names the caller in the IOError thrown when the directory cannot be created.
  explicit ScratchDirectory(const std::string& what);
  ~ScratchDirectory();
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// The whole content of a file (empty when it cannot be read).
std::string read_all(const std::filesystem::path& file);

}  // namespace tapegrad::tools
