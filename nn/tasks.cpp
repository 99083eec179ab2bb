#include <tapegrad/nn/tasks.hpp>

#include <tapegrad/core/error.hpp>

namespace tapegrad::nn {

std::uint64_t task_seed(std::uint64_t seed, std::size_t task) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(task) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int resolve_jobs(const char* who, int jobs) {
  if (jobs < 0) {
    throw_error<ValueError>("{}: jobs must be >= 0 (0: one per core of this rank), got {}", who,
                            jobs);
  }
  return jobs > 0 ? jobs : dist::cores_per_rank();
}

}  // namespace tapegrad::nn
