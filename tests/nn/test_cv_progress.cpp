// Progress and resuming of cross-validation: on_task_end sees every task run once with the
// loss the result holds, a search given some tasks as finished runs only the others and
// returns what a straight search returns, bad finished lists are refused, and the progress
// display writes a line per task (verbose 2) or nothing off a terminal (verbose 1).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <cv_data.hpp>
#include <tapegrad/tapegrad.hpp>
#include <test_util.hpp>

namespace tg = tapegrad;
namespace nn = tapegrad::nn;

namespace {

std::vector<nn::Candidate> counted_candidates(std::atomic<int>& models_built) {
  std::vector<nn::Candidate> out;
  for (int64_t u : {2, 3}) {
    out.push_back({.name = "units=" + std::to_string(u),
                   .complexity = static_cast<double>(u),
                   .make_model = [u, &models_built] {
                     ++models_built;
                     return tg_test::tiny_model(u);
                   }});
  }
  return out;
}

nn::CVOptions quick() {
  return {.folds = 3, .fit = {.epochs = 2, .batch_size = 4, .verbose = 0}};
}

}  // namespace

TEST_CASE("grid_search: on_task_end sees each task once, with the loss the result holds") {
  const tg_test::TinyData d = tg_test::tiny_data(12);
  std::atomic<int> built{0};
  for (int jobs : {1, 3}) {
    CAPTURE(jobs);
    nn::CVOptions opts = quick();
    opts.jobs = jobs;
    std::vector<nn::TaskLoss> seen;
    opts.on_task_end = [&](const nn::TaskLoss& t) { seen.push_back(t); };  // one call at a time
    const nn::GridSearchResult r = nn::grid_search(counted_candidates(built), d.X, d.y, opts);
    REQUIRE(seen.size() == 6);
    std::set<std::pair<std::size_t, std::size_t>> tasks;
    for (const nn::TaskLoss& t : seen) {
      tasks.insert({t.candidate, t.fold});
      CHECK(r.candidates[t.candidate].fold_losses[t.fold] == t.loss);
    }
    CHECK(tasks.size() == 6);
  }
}

TEST_CASE("grid_search: tasks given as finished are not run, and the result is a straight run's") {
  const tg_test::TinyData d = tg_test::tiny_data(12);
  std::atomic<int> built{0};
  nn::CVOptions opts = quick();
  std::vector<nn::TaskLoss> first_three;
  opts.on_task_end = [&](const nn::TaskLoss& t) {
    if (first_three.size() < 3) first_three.push_back(t);
  };
  const nn::GridSearchResult straight = nn::grid_search(counted_candidates(built), d.X, d.y, opts);
  CHECK(built == 6);

  // A search stopped after three tasks, resumed: three models built, the same result.
  built = 0;
  opts.finished = first_three;
  std::vector<nn::TaskLoss> run;
  opts.on_task_end = [&](const nn::TaskLoss& t) { run.push_back(t); };
  opts.jobs = 2;
  const nn::GridSearchResult resumed = nn::grid_search(counted_candidates(built), d.X, d.y, opts);
  CHECK(built == 3);
  CHECK(run.size() == 3);
  for (const nn::TaskLoss& t : run) {
    CHECK(std::none_of(first_three.begin(), first_three.end(), [&](const nn::TaskLoss& f) {
      return f.candidate == t.candidate && f.fold == t.fold;
    }));
  }
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(resumed.candidates[i].fold_losses == straight.candidates[i].fold_losses);
    CHECK(resumed.candidates[i].rank == straight.candidates[i].rank);
  }
  CHECK(resumed.best == straight.best);
  CHECK(resumed.one_se == straight.one_se);

  // The given losses are taken as they are, not recomputed.
  opts.finished = {{.candidate = 1, .fold = 2, .loss = 123.0}};
  CHECK(nn::grid_search(counted_candidates(built), d.X, d.y, opts).candidates[1].fold_losses[2] ==
        123.0);
  // Everything finished: nothing runs.
  built = 0;
  opts.finished.clear();
  for (std::size_t c = 0; c < 2; ++c) {
    for (std::size_t f = 0; f < 3; ++f) {
      opts.finished.push_back({c, f, straight.candidates[c].fold_losses[f]});
    }
  }
  run.clear();
  CHECK(nn::grid_search(counted_candidates(built), d.X, d.y, opts).best == straight.best);
  CHECK(built == 0);
  CHECK(run.empty());
}

TEST_CASE("cross_validate: finished folds are skipped too") {
  const tg_test::TinyData d = tg_test::tiny_data(12);
  const auto make = [] { return tg_test::tiny_model(3); };
  const nn::CVResult straight = nn::cross_validate(make, d.X, d.y, quick());
  nn::CVOptions opts = quick();
  opts.finished = {{.candidate = 0, .fold = 1, .loss = straight.fold_losses[1]}};
  std::vector<std::size_t> folds_run;
  opts.on_task_end = [&](const nn::TaskLoss& t) { folds_run.push_back(t.fold); };
  CHECK(nn::cross_validate(make, d.X, d.y, opts).fold_losses == straight.fold_losses);
  CHECK(folds_run == std::vector<std::size_t>{0, 2});
}

TEST_CASE("grid_search: a finished list outside the search or with a task twice is refused") {
  const tg_test::TinyData d = tg_test::tiny_data(12);
  std::atomic<int> built{0};
  nn::CVOptions opts = quick();
  opts.finished = {{.candidate = 2, .fold = 0, .loss = 1}};
  CHECK_THROWS_WITH_AS(nn::grid_search(counted_candidates(built), d.X, d.y, opts),
                       "grid_search: opts.finished holds candidate 2 fold 0, but the search has 2 "
                       "candidates and 3 folds",
                       tg::ValueError);
  opts.finished = {{.candidate = 0, .fold = 1, .loss = 1}, {.candidate = 0, .fold = 1, .loss = 2}};
  CHECK_THROWS_WITH_AS(nn::grid_search(counted_candidates(built), d.X, d.y, opts),
                       "grid_search: opts.finished holds candidate 0 fold 1 twice", tg::ValueError);
  CHECK(built == 0);
}

TEST_CASE("grid_search progress: a line per task with verbose 2, nothing off a terminal with 1") {
  const tg_test::TinyData d = tg_test::tiny_data(8);
  std::atomic<int> built{0};
  std::ostringstream out;
  nn::CVOptions opts{.folds = 2, .fit = {.epochs = 1, .batch_size = 4, .verbose = 0}};
  opts.verbose = 2;
  opts.out = &out;
  opts.finished = {{.candidate = 0, .fold = 0, .loss = 0.5}};
  nn::grid_search(counted_candidates(built), d.X, d.y, opts);
  std::vector<std::string> lines;
  std::istringstream text(out.str());
  for (std::string line; std::getline(text, line);) lines.push_back(line);
  REQUIRE(lines.size() == 4);  // the resumed task is not shown again
  CHECK(lines[0] ==
        "Fitting 2 folds for each of 2 candidates, totalling 4 fits (1 finished before)");
  CHECK(lines[1].rfind("[CV 2/2] END units=2: loss ", 0) == 0);
  CHECK(tg_test::contains(lines[1], " - 2/4 fits - "));
  CHECK(tg_test::contains(lines[1], " - ETA: "));
  CHECK(lines[2].rfind("[CV 1/2] END units=3: loss ", 0) == 0);
  CHECK(tg_test::contains(lines[3], " - 4/4 fits - "));
  CHECK(!tg_test::contains(lines[3], "ETA"));  // nothing is left

  out.str("");
  opts.verbose = 1;  // a string is no terminal: no redrawn line, and no line per task
  nn::grid_search(counted_candidates(built), d.X, d.y, opts);
  CHECK(out.str().empty());
}
