// Distributed cross-validation on every rank of the job: the shared task counter hands out
// each index once, cross_validate and grid_search with .distributed = true give every rank
// the one-process result bit for bit while the ranks share the tasks, progress is printed by
// rank 0 alone, and a task that throws on one rank ends every rank with its error.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <cv_data.hpp>
#include <test_util.hpp>

#include "ranks.hpp"

namespace dist = tapegrad::dist;
namespace nn = tapegrad::nn;

namespace {

using tg_test::tiny_data;
using tg_test::tiny_model;
using tg_test::TinyData;

// A model factory that counts the models it built on this rank (one per task it ran), each
// taking a moment, so that every rank gets tasks while the others are busy.
nn::ModelFactory counting(int64_t units, std::atomic<int>& calls) {
  return [units, &calls] {
    ++calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    return tiny_model(units);
  };
}

nn::CVOptions quick(nn::SplitKind split, int folds) {
  return {.folds = folds, .split = split, .fit = {.epochs = 2, .batch_size = 4, .verbose = 0}};
}

// Every rank's count, added up and its smallest.
struct Spread {
  std::uint64_t total = 0, least = ~std::uint64_t{0};
};
Spread spread_of(int calls) {
  Spread s;
  for (std::uint64_t c : dist::all_gather(static_cast<std::uint64_t>(calls))) {
    s.total += c;
    s.least = std::min(s.least, c);
  }
  return s;
}

std::uint64_t hash_of(const std::vector<double>& values) {
  return tg_test::bytes_hash(tg::from_vector(values, {static_cast<int64_t>(values.size())}));
}

// dist::timeout() set for a scope.
class TimeoutFor {
 public:
  explicit TimeoutFor(dist::Seconds limit) : saved_(dist::timeout()) { dist::set_timeout(limit); }
  ~TimeoutFor() { dist::set_timeout(saved_); }
  TimeoutFor(const TimeoutFor&) = delete;
  TimeoutFor& operator=(const TimeoutFor&) = delete;

 private:
  dist::Seconds saved_;
};

std::uint64_t hash_of(const std::string& text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ULL;
  return hash;
}

}  // namespace

TEST_CASE("mpi: a TaskCounter hands every index to one thread of one rank, then gathers") {
  constexpr std::uint64_t kTasks = 40;
  dist::TaskCounter counter;
  std::vector<std::uint64_t> mine;
  std::mutex mutex;
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&] {
        for (std::uint64_t i = counter.next(); i < kTasks; i = counter.next()) {
          const std::lock_guard lock(mutex);
          mine.push_back(i);
        }
      });
    }
  }
  std::string bytes;
  for (std::uint64_t i : mine) bytes += std::to_string(i) + " ";
  const std::vector<std::string> all = counter.finish(bytes);
  REQUIRE(all.size() == static_cast<std::size_t>(dist::world_size()));
  CHECK(all[dist::rank()] == bytes);
  std::multiset<std::uint64_t> seen;
  for (const std::string& part : all) {
    std::istringstream in(part);
    for (std::uint64_t i; in >> i;) seen.insert(i);
  }
  CHECK(seen.size() == kTasks);
  for (std::uint64_t i = 0; i < kTasks; ++i) CHECK(seen.count(i) == 1);
}

TEST_CASE("mpi: a TaskCounter's reports reach rank 0 as they are made, not at finish") {
  // Rank 0 spends half a second on its first task while the others take the rest: their
  // reports must reach it during that time.
  constexpr std::uint64_t kTasks = 12;
  std::multiset<std::string> heard;  // rank 0: the reports, on the counter's service thread
  std::atomic<bool> first_done{false};
  std::atomic<int> heard_during_first{0};
  std::mutex mutex;
  dist::TaskCounter counter({.across_ranks = true, .on_report = [&](std::string_view bytes) {
                               const std::lock_guard lock(mutex);
                               heard.emplace(bytes);
                               if (!first_done) ++heard_during_first;
                             }});
  std::string mine;
  for (std::uint64_t i = counter.next(); i < kTasks; i = counter.next()) {
    const std::string report = std::to_string(i) + " ";
    counter.report(report);  // nothing on rank 0
    mine += report;
    if (dist::is_root() && !first_done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      first_done = true;
    }
  }
  const std::vector<std::string> all = counter.finish(mine);
  std::multiset<std::string> expected;  // rank 0 hears every other rank's tasks, once
  for (int r = 1; r < dist::world_size() && dist::is_root(); ++r) {
    std::istringstream in(all[r]);
    for (std::string i; in >> i;) expected.insert(i + " ");
  }
  CHECK(heard == expected);
  if (dist::is_root() && dist::world_size() > 1) CHECK(heard_during_first >= 1);
}

TEST_CASE("mpi: a closed TaskCounter hands out nothing more, on any rank") {
  dist::TaskCounter counter;
  const std::uint64_t first = counter.next();
  if (first == 0) counter.close();  // the rank that got index 0 closes it for all
  dist::barrier();
  CHECK(counter.next() >= dist::TaskCounter::kClosed);
  counter.finish("");
}

TEST_CASE("mpi: a rank busy for longer than the timeout is waited for, not taken for dead") {
  // Each rank tells rank 0 it is alive while it computes, so a long task is no silence.
  if (dist::world_size() == 1) return;  // no other rank to wait for
  // Twice the limit: a rank's reports every half second keep it alive, even on a busy machine.
  const TimeoutFor two_seconds(dist::Seconds(2));
  dist::TaskCounter counter;
  const auto busy_until = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  if (dist::rank() == dist::world_size() - 1) {
    std::this_thread::sleep_until(busy_until);
  } else {  // meanwhile check(), as a long task's fit does, finds no rank silent
    while (std::chrono::steady_clock::now() < busy_until) {
      CHECK_NOTHROW(counter.check());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const std::vector<std::string> all = counter.finish(std::to_string(dist::rank()));
  for (int r = 0; r < dist::world_size(); ++r) CHECK(all[r] == std::to_string(r));
}

TEST_CASE("mpi: distributed cross_validate equals the one-process run on every rank, shared") {
  const TinyData d = tiny_data(36);
  for (int jobs : {1, 2}) {
    CAPTURE(jobs);
    nn::CVOptions opts = quick(nn::SplitKind::time, 6);  // growing folds: uneven tasks
    opts.jobs = jobs;
    const nn::CVResult alone = nn::cross_validate([] { return tiny_model(3); }, d.X, d.y, opts);

    std::atomic<int> calls{0};
    opts.distributed = true;
    const nn::CVResult shared = nn::cross_validate(counting(3, calls), d.X, d.y, opts);
    CHECK(shared.fold_losses == alone.fold_losses);  // doubles compared exactly
    CHECK(tg_test::same_on_every_rank(hash_of(shared.fold_losses)));
    const Spread s = spread_of(calls);
    CHECK(s.total == 6);  // each task ran once, on one rank
    CHECK(s.least >= 1);  // and every rank ran some
  }
}

TEST_CASE("mpi: distributed grid_search equals the one-process run on every rank, shared") {
  const TinyData d = tiny_data(24);
  std::vector<nn::Candidate> alone_candidates, shared_candidates;
  std::atomic<int> calls{0};
  for (int64_t u : {1, 2, 4}) {
    const std::string name = "units=" + std::to_string(u);
    const auto complexity = static_cast<double>(u);
    alone_candidates.push_back({name, complexity, [u] { return tiny_model(u); }});
    shared_candidates.push_back({name, complexity, counting(u, calls)});
  }
  nn::CVOptions opts = quick(nn::SplitKind::kfold, 3);
  const nn::GridSearchResult alone = nn::grid_search(alone_candidates, d.X, d.y, opts);
  opts.distributed = true;
  const nn::GridSearchResult shared = nn::grid_search(shared_candidates, d.X, d.y, opts);

  REQUIRE(shared.candidates.size() == alone.candidates.size());
  for (std::size_t i = 0; i < alone.candidates.size(); ++i) {
    const nn::CandidateScore &a = alone.candidates[i], &s = shared.candidates[i];
    CAPTURE(a.name);
    CHECK(s.name == a.name);
    CHECK(s.fold_losses == a.fold_losses);
    CHECK(s.mean == a.mean);
    CHECK(s.std == a.std);
    CHECK(s.rank == a.rank);
  }
  CHECK(shared.best == alone.best);
  CHECK(shared.one_se == alone.one_se);
  CHECK(tg_test::same_on_every_rank(hash_of(shared.table())));
  const Spread s = spread_of(calls);
  CHECK(s.total == 9);
  CHECK(s.least >= 1);
}

TEST_CASE("mpi: distributed metrics equal the one-process run on every rank, every task's seen") {
  const TinyData d = tiny_data(24);
  std::vector<nn::Candidate> candidates;
  std::atomic<int> calls{0};
  for (int64_t u : {1, 3}) {
    candidates.push_back(
        {"units=" + std::to_string(u), static_cast<double>(u), counting(u, calls)});
  }
  for (int jobs : {1, 2}) {
    CAPTURE(jobs);
    nn::CVOptions opts = quick(nn::SplitKind::time, 3);
    opts.metrics = {"mae", "rmse"};
    opts.jobs = jobs;
    const nn::GridSearchResult alone = nn::grid_search(candidates, d.X, d.y, opts);
    opts.distributed = true;
    std::vector<nn::TaskLoss> seen;  // on this rank: its own tasks, then the others'
    std::mutex seen_mutex;
    opts.on_task_end = [&](const nn::TaskLoss& t) {
      const std::lock_guard lock(seen_mutex);
      seen.push_back(t);
    };
    const nn::GridSearchResult shared = nn::grid_search(candidates, d.X, d.y, opts);
    for (std::size_t i = 0; i < alone.candidates.size(); ++i) {
      const nn::CandidateScore &a = alone.candidates[i], &s = shared.candidates[i];
      CAPTURE(a.name);
      CHECK(s.fold_losses == a.fold_losses);
      CHECK(s.fold_metrics == a.fold_metrics);  // doubles compared exactly
      REQUIRE(s.fold_metrics.at("rmse").size() == 3);
      std::vector<double> joined = s.fold_metrics.at("mae");
      joined.insert(joined.end(), s.fold_metrics.at("rmse").begin(),
                    s.fold_metrics.at("rmse").end());
      CHECK(tg_test::same_on_every_rank(hash_of(joined)));
    }
    CHECK(tg_test::same_on_every_rank(hash_of(shared.table())));
    REQUIRE(seen.size() == 6);
    for (const nn::TaskLoss& t : seen) {
      const nn::CandidateScore& s = alone.candidates[t.candidate];
      CHECK(t.metrics == std::vector<double>{s.fold_metrics.at("mae")[t.fold],
                                             s.fold_metrics.at("rmse")[t.fold]});
    }
  }
}

TEST_CASE("mpi: rank 0's on_task_end hears of the other ranks' tasks as they finish") {
  // Rank 0 spends a second building its first model while the others run every other task:
  // their tasks must reach rank 0's on_task_end (a journal) during that second, not at the end.
  if (dist::world_size() == 1) return;
  const TinyData d = tiny_data(24);
  std::atomic<bool> rank0_busy{false};
  std::atomic<int> heard_while_busy{0}, calls{0};
  nn::CVOptions opts = quick(nn::SplitKind::kfold, 6);
  opts.metrics = {"mae"};
  opts.distributed = true;
  std::vector<nn::TaskLoss> seen;
  opts.on_task_end = [&](const nn::TaskLoss& t) {
    seen.push_back(t);
    if (rank0_busy) ++heard_while_busy;
  };
  const nn::CVResult shared = nn::cross_validate(
      [&] {
        if (dist::is_root() && calls++ == 0) {
          rank0_busy = true;
          std::this_thread::sleep_for(std::chrono::seconds(1));
          rank0_busy = false;
        }
        return tiny_model(2);
      },
      d.X, d.y, opts);
  REQUIRE(seen.size() == 6);  // every task once, on every rank
  for (const nn::TaskLoss& t : seen) {
    CHECK(t.loss == shared.fold_losses[t.fold]);
    CHECK(t.metrics == std::vector<double>{shared.fold_metrics.at("mae")[t.fold]});
  }
  if (dist::is_root()) CHECK(heard_while_busy >= 1);
  opts.distributed = false;
  opts.on_task_end = {};
  const nn::CVResult alone = nn::cross_validate([] { return tiny_model(2); }, d.X, d.y, opts);
  CHECK(shared.fold_losses == alone.fold_losses);
  CHECK(shared.fold_metrics == alone.fold_metrics);
}

TEST_CASE("mpi: distributed cross-validation prints fit's progress on rank 0 alone") {
  const TinyData d = tiny_data(24);
  std::atomic<int> calls{0};
  std::ostringstream out;
  nn::CVOptions opts = quick(nn::SplitKind::kfold, 4);
  opts.fit.verbose = 1;
  opts.fit.out = &out;
  opts.distributed = true;
  nn::cross_validate(counting(2, calls), d.X, d.y, opts);
  std::size_t fold_lines = 0;
  for (std::size_t at = out.str().find("fold "); at != std::string::npos;
       at = out.str().find("fold ", at + 1)) {
    ++fold_lines;
  }
  if (dist::is_root()) {
    CHECK(fold_lines == static_cast<std::size_t>(calls.load()));  // one per task it ran
  } else {
    CHECK(out.str().empty());
  }
}

TEST_CASE("mpi: a task that throws ends every rank with the error of the lowest failed task") {
  const TinyData d = tiny_data(24);
  for (int jobs : {1, 2}) {
    CAPTURE(jobs);
    nn::CVOptions opts = quick(nn::SplitKind::kfold, 5);
    opts.jobs = jobs;
    opts.distributed = true;
    // Folds 1 and 3 fail in their task, on whichever rank runs it.
    opts.preprocess = [fold = 0](const tg::Tensor&, const tg::Tensor&) mutable {
      const int f = fold++;
      nn::FoldTransform t;
      if (f == 1 || f == 3) {
        t.x = [f](const tg::Tensor&) -> tg::Tensor {
          tg::throw_error<tg::ValueError>("fold {} failed on rank {}", f, dist::rank());
        };
      }
      return t;
    };
    const std::string message = tg_test::message_of<tg::ValueError>(
        [&] { nn::cross_validate([] { return tiny_model(2); }, d.X, d.y, opts); });
    CAPTURE(message);
    CHECK(tg_test::contains(message, "fold 1 failed on rank "));
    CHECK(tg_test::same_on_every_rank(hash_of(message)));
    // The rank that ran fold 1 named itself; with others, some rank got it from another.
    const bool from_another_rank =
        !tg_test::contains(message, "on rank " + std::to_string(dist::rank()));
    std::uint64_t others = 0;
    for (std::uint64_t v : dist::all_gather(from_another_rank)) others += v;
    CHECK(others == static_cast<std::uint64_t>(dist::world_size() - 1));
  }
}
