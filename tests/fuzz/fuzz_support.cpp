#include "fuzz_support.hpp"

#include <cxxabi.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <typeinfo>

namespace fuzz {

InputFile::InputFile() : fd_(::memfd_create("tapegrad-fuzz-input", MFD_CLOEXEC)) {
  if (fd_ < 0) finding(std::string("memfd_create failed: ") + std::strerror(errno));
  path_ = "/proc/self/fd/" + std::to_string(fd_);
}

InputFile::~InputFile() {
  ::close(fd_);
}

const std::string& InputFile::write(const std::uint8_t* data, std::size_t size) {
  if (::ftruncate(fd_, 0) != 0) finding(std::string("ftruncate failed: ") + std::strerror(errno));
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) finding(std::string("writing the input failed: ") + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  return path_;
}

std::string scratch_path(std::string_view name) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  return (dir / ("tapegrad-fuzz-" + std::to_string(::getpid()) + "-" + std::string(name))).string();
}

void finding(std::string_view what) {
  std::fprintf(stderr, "\n==tapegrad-fuzz== FINDING: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::fflush(stderr);
  std::abort();
}

std::string describe(const std::exception& e) {
  int status = 0;
  const std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status), std::free);
  return std::string(status == 0 ? name.get() : typeid(e).name()) + ": " + e.what();
}

TensorBytes bytes_of(const tg::Tensor& t) {
  const tg::Tensor dense = t.contiguous();
  const std::size_t size = static_cast<std::size_t>(dense.numel()) * tg::element_size(t.dtype());
  const auto* data = static_cast<const char*>(dense.impl().storage->data()) +
                     dense.offset() * static_cast<int64_t>(tg::element_size(t.dtype()));
  return {t.dtype(), t.shape().vec(), std::string(data, size)};
}

Snapshot snapshot(const tg::NamedTensors& tensors) {
  Snapshot out;
  for (const auto& [name, t] : tensors) out.emplace(name, bytes_of(t));
  return out;
}

Snapshot snapshot(const std::map<std::string, tg::Tensor>& tensors) {
  Snapshot out;
  for (const auto& [name, t] : tensors) out.emplace(name, bytes_of(t));
  return out;
}

void check_unchanged(const Snapshot& before, const Snapshot& after, std::string_view what) {
  if (before.size() != after.size()) {
    finding(std::string(what) + ": " + std::to_string(before.size()) + " tensors became " +
            std::to_string(after.size()));
  }
  for (const auto& [name, bytes] : before) {
    const auto it = after.find(name);
    if (it == after.end()) finding(std::string(what) + ": tensor '" + name + "' disappeared");
    if (!(it->second == bytes)) finding(std::string(what) + ": tensor '" + name + "' changed");
  }
}

}  // namespace fuzz
