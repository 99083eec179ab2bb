// What the libFuzzer targets of tests/fuzz share.
//
// Every reader under test takes a path, so each input goes to a memfd (an anonymous file in
// memory) that the reader opens again as /proc/self/fd/N: it sees a regular file, nothing
// touches the disk, and parallel fuzzing jobs never share a file.
//
// The contract under test: a reader either succeeds or throws a tg::Error subclass, and a
// failed load changes nothing. run_one() accepts tg::Error and turns any other exception
// into a finding; a target calls finding() when a check of its own fails. A finding aborts,
// so libFuzzer saves the input as crash-*; crashes, sanitizer reports, timeouts and memory
// over -rss_limit_mb are libFuzzer's own findings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace fuzz {

namespace tg = tapegrad;

// One in-memory file whose contents are replaced by every input.
class InputFile {
 public:
  InputFile();
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Makes the file hold exactly these bytes and returns its path.
  const std::string& write(const std::uint8_t* data, std::size_t size);
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

// A scratch path for targets that write files (the round trip of fuzz_safetensors): in
// /dev/shm when there is one, one name per process.
std::string scratch_path(std::string_view name);

// Prints what went wrong and aborts, so libFuzzer keeps the input.
[[noreturn]] void finding(std::string_view what);

// "std::out_of_range: map::at" (demangled type name and what()).
std::string describe(const std::exception& e);

// Runs one input through `body`; a tg::Error is an accepted outcome, anything else a finding.
template <class Body>
void run_one(Body&& body) {
  try {
    body();
  } catch (const tg::Error&) {
    // The reader refused the input with a proper error: what it must do.
  } catch (const std::exception& e) {
    finding(std::string("an exception other than tg::Error escaped: ") + describe(e));
  } catch (...) {
    finding("an exception of unknown type (not a std::exception) escaped");
  }
}

// The dtype, shape and bytes of a tensor: equal snapshots mean bitwise equal tensors.
struct TensorBytes {
  tg::DType dtype = tg::f32;
  std::vector<int64_t> shape;
  std::string bytes;
  bool operator==(const TensorBytes&) const = default;
};
TensorBytes bytes_of(const tg::Tensor& t);

using Snapshot = std::map<std::string, TensorBytes>;
Snapshot snapshot(const tg::NamedTensors& tensors);
Snapshot snapshot(const std::map<std::string, tg::Tensor>& tensors);

// Aborts naming the first difference when `after` differs from `before`; `what` says what
// the snapshots are of ("the model's parameters after a failed nn::load").
void check_unchanged(const Snapshot& before, const Snapshot& after, std::string_view what);

}  // namespace fuzz
