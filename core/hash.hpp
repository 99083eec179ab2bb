// FNV-1a, 64 bits: the same on every machine and in every run (std::hash is not promised to
// be), and enough to tell apart what was built or given by mistake, not by an adversary: the
// models of two ranks, the data a search was started on.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tapegrad {

class Fnv1a {
 public:
  Fnv1a& add(const void* bytes, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
      value_ = (value_ ^ static_cast<const unsigned char*>(bytes)[i]) * 0x100000001b3ULL;
    }
    return *this;
  }
  std::uint64_t value() const { return value_; }

 private:
  std::uint64_t value_ = 0xcbf29ce484222325ULL;
};

}  // namespace tapegrad
