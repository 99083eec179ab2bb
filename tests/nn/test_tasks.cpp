// tg::nn::run_seeded_tasks: each task's default generator is seeded from (seed, index) alone, so
// the results are the same for any number of jobs; the lowest failed task's error is thrown;
// the caller's generator is left as it was.
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

namespace {

// A number from the task's default generator: what its initial weights would be drawn from.
std::function<double(std::size_t)> draw() {
  return [](std::size_t i) { return tg::rand({1}).item() + static_cast<double>(i); };
}

}  // namespace

TEST_CASE("run_seeded_tasks: the same results in index order for 1 and 2 jobs") {
  const auto one = tg::nn::run_seeded_tasks<double>("t", 6, {.jobs = 1, .seed = 5}, draw());
  const auto two = tg::nn::run_seeded_tasks<double>("t", 6, {.jobs = 2, .seed = 5}, draw());
  const auto other = tg::nn::run_seeded_tasks<double>("t", 6, {.jobs = 1, .seed = 6}, draw());
  REQUIRE(one.size() == 6);
  CHECK(one == two);
  CHECK(one != other);
  for (std::size_t i = 0; i < one.size(); ++i) CHECK(one[i] >= static_cast<double>(i));
}

TEST_CASE("run_seeded_tasks: the caller's generator is untouched; the lowest failure is thrown") {
  tg::manual_seed(1);
  const double expected = tg::rand({1}).item();
  tg::manual_seed(1);
  tg::nn::run_seeded_tasks<double>("t", 3, {.jobs = 1}, draw());
  CHECK(tg::rand({1}).item() == expected);

  const auto failing = [](std::size_t i) -> int {
    if (i == 1 || i == 3) throw std::runtime_error("task " + std::to_string(i));
    return 0;
  };
  for (const int jobs : {1, 2}) {
    CAPTURE(jobs);
    CHECK_THROWS_WITH(tg::nn::run_seeded_tasks<int>("t", 4, {.jobs = jobs}, failing), "task 1");
  }
  CHECK_THROWS_WITH_AS(tg::nn::run_seeded_tasks<int>("sweep", 1, {.jobs = -1}, failing),
                       doctest::Contains("sweep: jobs must be >= 0"), tg::ValueError);
}
