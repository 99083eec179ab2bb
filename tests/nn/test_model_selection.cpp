// Cross-validation: the splits are scikit-learn's KFold and TimeSeriesSplit (index lists from
// their documented algorithm), cross_validate and grid_search give the same numbers on one
// thread and on several, the choice logic (rank, best, one-standard-error) on hand-made
// scores, and every bad input is a ValueError naming the function and the numbers.
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <cv_data.hpp>
#include <tapegrad/tapegrad.hpp>
#include <test_util.hpp>

namespace tg = tapegrad;
namespace nn = tapegrad::nn;

using Indices = std::vector<int64_t>;

namespace {

Indices range(int64_t from, int64_t to) {
  Indices out;
  for (int64_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

using tg_test::tiny_data;
using tg_test::tiny_model;
using tg_test::TinyData;

nn::CVOptions quick(int folds = 3) {
  return {.folds = folds, .fit = {.epochs = 2, .batch_size = 4, .verbose = 0}};
}

std::vector<nn::Candidate> unit_candidates(const std::vector<int64_t>& units) {
  std::vector<nn::Candidate> out;
  for (int64_t u : units) {
    out.push_back({.name = "units=" + std::to_string(u),
                   .complexity = static_cast<double>(u),
                   .make_model = [u] { return tiny_model(u); }});
  }
  return out;
}

nn::CandidateScore score(std::string name, double complexity, std::vector<double> losses) {
  return {.name = std::move(name),
          .complexity = complexity,
          .fold_losses = std::move(losses),
          .mean = 0,
          .std = 0,
          .rank = 0};
}

}  // namespace

TEST_CASE("kfold_splits without shuffle: scikit-learn's KFold folds") {
  // KFold(n_splits=3).split(range(10)): fold sizes 4, 3, 3.
  const std::vector<nn::Fold> ten = nn::kfold_splits(10, 3, false);
  REQUIRE(ten.size() == 3);
  CHECK(ten[0].validation == Indices{0, 1, 2, 3});
  CHECK(ten[0].train == Indices{4, 5, 6, 7, 8, 9});
  CHECK(ten[1].validation == Indices{4, 5, 6});
  CHECK(ten[1].train == Indices{0, 1, 2, 3, 7, 8, 9});
  CHECK(ten[2].validation == Indices{7, 8, 9});
  CHECK(ten[2].train == Indices{0, 1, 2, 3, 4, 5, 6});
  // KFold(n_splits=3) on 7 samples: 3, 2, 2; and the docs' example, 4 samples in 2 folds.
  const std::vector<nn::Fold> seven = nn::kfold_splits(7, 3, false);
  CHECK(seven[0].validation == Indices{0, 1, 2});
  CHECK(seven[1].validation == Indices{3, 4});
  CHECK(seven[2].validation == Indices{5, 6});
  CHECK(seven[2].train == Indices{0, 1, 2, 3, 4});
  const std::vector<nn::Fold> four = nn::kfold_splits(4, 2, false);
  CHECK(four[0].train == Indices{2, 3});
  CHECK(four[0].validation == Indices{0, 1});
  CHECK(four[1].train == Indices{0, 1});
  // Leave-one-out is k = n.
  const std::vector<nn::Fold> loo = nn::kfold_splits(5, 5, false);
  for (int64_t i = 0; i < 5; ++i) CHECK(loo[i].validation == Indices{i});
}

TEST_CASE("kfold_splits with shuffle: every sample validates once, seeded by `seed` alone") {
  for (const auto& [n, k] : std::vector<std::pair<int64_t, int>>{{10, 3}, {23, 5}, {7, 7}}) {
    CAPTURE(n);
    CAPTURE(k);
    tg::manual_seed(1);
    const std::string generator_before = tg::default_generator().state();
    const std::vector<nn::Fold> folds = nn::kfold_splits(n, k, true, 3);
    CHECK(tg::default_generator().state() == generator_before);  // not the default generator
    REQUIRE(folds.size() == static_cast<std::size_t>(k));
    std::multiset<int64_t> validated;
    for (std::size_t f = 0; f < folds.size(); ++f) {
      const nn::Fold& fold = folds[f];
      CHECK(fold.validation.size() ==
            static_cast<std::size_t>(n / k + (static_cast<int64_t>(f) < n % k ? 1 : 0)));
      CHECK(std::is_sorted(fold.validation.begin(), fold.validation.end()));
      CHECK(std::is_sorted(fold.train.begin(), fold.train.end()));
      std::set<int64_t> all(fold.train.begin(), fold.train.end());
      all.insert(fold.validation.begin(), fold.validation.end());
      CHECK(all.size() == static_cast<std::size_t>(n));  // disjoint and complete
      validated.insert(fold.validation.begin(), fold.validation.end());
    }
    const Indices once = range(0, n);
    CHECK(Indices(validated.begin(), validated.end()) == once);
  }
  const auto first_fold = [](std::uint64_t seed) {
    return nn::kfold_splits(20, 4, true, seed)[0].validation;
  };
  CHECK(first_fold(3) == first_fold(3));
  CHECK(first_fold(3) != first_fold(4));
  CHECK(first_fold(3) != nn::kfold_splits(20, 4, false)[0].validation);
}

TEST_CASE("time_series_splits: scikit-learn's TimeSeriesSplit, forward chaining") {
  // TimeSeriesSplit(n_splits=3) on 10 samples: blocks of 10 // 4 = 2 from sample 4.
  const std::vector<nn::Fold> ten = nn::time_series_splits(10, 3);
  REQUIRE(ten.size() == 3);
  CHECK(ten[0].train == range(0, 4));
  CHECK(ten[0].validation == Indices{4, 5});
  CHECK(ten[1].train == range(0, 6));
  CHECK(ten[1].validation == Indices{6, 7});
  CHECK(ten[2].train == range(0, 8));
  CHECK(ten[2].validation == Indices{8, 9});
  // The docs' example: 6 samples, n_splits=5: train [0..i), test [i].
  const std::vector<nn::Fold> six = nn::time_series_splits(6, 5);
  for (int64_t i = 0; i < 5; ++i) {
    CHECK(six[i].train == range(0, i + 1));
    CHECK(six[i].validation == Indices{i + 1});
  }
  // 13 samples, 4 splits: blocks of 2 from sample 5; the remainder goes to the first train.
  const std::vector<nn::Fold> thirteen = nn::time_series_splits(13, 4);
  CHECK(thirteen[0].train == range(0, 5));
  CHECK(thirteen[0].validation == Indices{5, 6});
  CHECK(thirteen[3].train == range(0, 11));
  CHECK(thirteen[3].validation == Indices{11, 12});
  for (const nn::Fold& f : thirteen) CHECK(f.train.back() + 1 == f.validation.front());
}

TEST_CASE("cross_validate: finite losses, one per fold, the same on a rerun and for any jobs") {
  const TinyData d = tiny_data(12);
  const auto make = [] { return tiny_model(3); };
  tg::manual_seed(7);
  const std::string generator_before = tg::default_generator().state();
  const nn::CVResult a = nn::cross_validate(make, d.X, d.y, quick());
  CHECK(tg::default_generator().state() == generator_before);
  REQUIRE(a.fold_losses.size() == 3);
  for (double loss : a.fold_losses) CHECK(std::isfinite(loss));
  CHECK(a.mean() == doctest::Approx((a.fold_losses[0] + a.fold_losses[1] + a.fold_losses[2]) / 3));
  CHECK(a.std() >= 0);

  const nn::CVResult again = nn::cross_validate(make, d.X, d.y, quick());
  CHECK(again.fold_losses == a.fold_losses);
  nn::CVOptions threads = quick();
  threads.jobs = 3;
  CHECK(nn::cross_validate(make, d.X, d.y, threads).fold_losses == a.fold_losses);
  nn::CVOptions other_seed = quick();
  other_seed.seed = 1;
  CHECK(nn::cross_validate(make, d.X, d.y, other_seed).fold_losses != a.fold_losses);
  nn::CVOptions time = quick();
  time.split = nn::SplitKind::time;
  CHECK(nn::cross_validate(make, d.X, d.y, time).fold_losses != a.fold_losses);
}

TEST_CASE("CVResult: mean and population std (ddof 0) of the fold losses") {
  const nn::CVResult r{{1.0, 2.0, 3.0, 4.0}};
  CHECK(r.mean() == 2.5);
  CHECK(r.std() == doctest::Approx(std::sqrt(1.25)));
}

TEST_CASE("grid_search: bit-identical on 1 and 3 threads, options honoured") {
  const TinyData d = tiny_data(12);
  const std::vector<nn::Candidate> candidates = unit_candidates({2, 3, 5});
  nn::CVOptions opts = quick();
  opts.optimizer = [](std::vector<tg::Tensor> params) {
    return std::make_unique<tg::optim::Adam>(params, tg::optim::AdamOptions{.lr = 0.01});
  };
  opts.loss = std::make_shared<nn::MAE>();
  const nn::GridSearchResult one = nn::grid_search(candidates, d.X, d.y, opts);
  opts.jobs = 3;
  const nn::GridSearchResult three = nn::grid_search(candidates, d.X, d.y, opts);
  opts.jobs = 0;
  const nn::GridSearchResult all = nn::grid_search(candidates, d.X, d.y, opts);
  REQUIRE(one.candidates.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(one.candidates[i].name == candidates[i].name);
    CHECK(one.candidates[i].fold_losses == three.candidates[i].fold_losses);
    CHECK(one.candidates[i].fold_losses == all.candidates[i].fold_losses);
  }
  CHECK(one.best == three.best);
  CHECK(one.one_se == three.one_se);
  // A candidate's losses are those of cross_validate with its factory: the same folds and
  // the same random stream per fold for every candidate.
  opts.jobs = 1;
  CHECK(nn::cross_validate(candidates[1].make_model, d.X, d.y, opts).fold_losses ==
        one.candidates[1].fold_losses);
}

TEST_CASE("grid_search with jobs = 1 and verbose: fit's progress after a line per fold") {
  const TinyData d = tiny_data(8);
  std::ostringstream out;
  nn::CVOptions opts{.folds = 2, .fit = {.epochs = 1, .batch_size = 4, .verbose = 2}};
  opts.fit.out = &out;
  nn::grid_search(unit_candidates({2}), d.X, d.y, opts);
  const std::string text = out.str();
  CHECK(text.find("units=2 fold 1/2\nEpoch 1/1") == 0);
  CHECK(text.find("units=2 fold 2/2\nEpoch 1/1") != std::string::npos);
  // On threads fit stays silent rather than interleave.
  out.str("");
  opts.jobs = 2;
  nn::grid_search(unit_candidates({2}), d.X, d.y, opts);
  CHECK(out.str().empty());
}

TEST_CASE("rank_candidates: ranks by mean (method min, NaN last), best, one-standard-error") {
  // Means 0.5, 0.25, 0.125, 0.125, NaN; the best's std is 0.125, so the threshold is 0.25.
  const nn::GridSearchResult r = nn::rank_candidates(
      {score("A", 4, {0.75, 0.25}), score("B", 8, {0.375, 0.125}), score("C", 16, {0.25, 0.0}),
       score("D", 32, {0.125, 0.125}), score("E", 2, {NAN, 0.5})});
  REQUIRE(r.candidates.size() == 5);
  std::vector<int> ranks;
  for (const auto& c : r.candidates) ranks.push_back(c.rank);
  CHECK(ranks == std::vector<int>{4, 3, 1, 1, 5});
  CHECK(r.candidates[2].mean == 0.125);
  CHECK(r.candidates[2].std == 0.125);
  CHECK(r.candidates[3].std == 0);
  CHECK(std::isnan(r.candidates[4].mean));
  CHECK(r.best == 2);    // C and D tie: the first
  CHECK(r.one_se == 1);  // B's mean equals the threshold; E is simpler but NaN

  const std::string table = r.table();
  CAPTURE(table);
  CHECK(table.find("candidate") == 0);
  CHECK(table.find("fold_1") != std::string::npos);
  CHECK(table.find("best: C (mean 0.125, std 0.125)") != std::string::npos);
  CHECK(table.find("one-standard-error choice: B (mean 0.25 <= 0.125 + 0.125)") !=
        std::string::npos);

  tg_test::ScratchDir dir("model-selection");
  r.write_csv(dir / "cv.csv");
  const std::string csv = tg_test::read_file(dir / "cv.csv");
  CHECK(csv.find("name,complexity,fold_0,fold_1,mean,std,rank\n"
                 "A,4,0.75,0.25,0.5,0.25,4\n"
                 "B,8,0.375,0.125,0.25,0.125,3\n") == 0);
  CHECK(csv.find("E,2,nan,0.5,nan,nan,5\n") != std::string::npos);
}

TEST_CASE("rank_candidates: the best alone within one std is its own one-SE choice") {
  const nn::GridSearchResult r =
      nn::rank_candidates({score("small", 1, {1.0, 1.0}), score("big", 9, {0.5, 0.5})});
  CHECK(r.best == 1);
  CHECK(r.one_se == 1);
  CHECK(r.candidates[0].rank == 2);
}

TEST_CASE("cross-validation errors name the function and the numbers") {
  const TinyData d = tiny_data(6);
  const auto make = [] { return tiny_model(2); };
  const auto check_error = [&](const nn::CVOptions& opts, const char* expected, const tg::Tensor& X,
                               const tg::Tensor& y) {
    CHECK_THROWS_WITH_AS(nn::cross_validate(make, X, y, opts), doctest::Contains(expected),
                         tg::ValueError);
  };
  nn::CVOptions o = quick();
  o.folds = 1;
  check_error(o, "cross_validate: folds must be >= 2 (one trains, one validates), got 1", d.X, d.y);
  o.folds = 7;
  check_error(o, "cross_validate: 6 samples are fewer than folds = 7", d.X, d.y);
  o.folds = 6;
  o.split = nn::SplitKind::time;
  check_error(o, "cross_validate: a time split of 6 samples into 6 folds leaves no validation data",
              d.X, d.y);
  o = quick();
  o.jobs = -1;
  check_error(o, "cross_validate: jobs must be >= 0 (0: one per core of this rank), got -1", d.X,
              d.y);
  check_error(quick(), "cross_validate: X [6,4,1] and y [5,1] must hold the same number", d.X,
              tg::zeros({5, 1}));
  o = quick();
  o.jobs = 2;
  o.fit.callbacks.push_back(std::make_shared<nn::Callback>());
  check_error(o, "cross_validate: fit callbacks keep state per run and would be shared by 2", d.X,
              d.y);

  CHECK_THROWS_WITH_AS(nn::grid_search({}, d.X, d.y, quick()),
                       "grid_search: no candidates (give at least one)", tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::cross_validate(nn::ModelFactory{}, d.X, d.y, quick()),
                       "cross_validate: make_model is empty (give a model factory)",
                       tg::ValueError);
  std::vector<nn::Candidate> no_factory = unit_candidates({2});
  no_factory[0].make_model = nullptr;
  CHECK_THROWS_WITH_AS(nn::grid_search(no_factory, d.X, d.y, quick()),
                       "grid_search: candidate 'units=2' has no make_model", tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::kfold_splits(3, 4), doctest::Contains("kfold_splits: 3 samples"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::time_series_splits(3, 3),
                       doctest::Contains("time_series_splits: a time split of 3 samples"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::rank_candidates({score("A", 1, {NAN}), score("B", 2, {NAN})}),
                       "rank_candidates: no candidate trained to a finite mean validation loss "
                       "('A': nan, 'B': nan; training diverged): nothing to choose; try a lower "
                       "learning rate",
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::rank_candidates({score("A", 1, {1, 2}), score("B", 2, {1})}),
                       doctest::Contains("candidate 'B' has 1 fold losses, 'A' has 2"),
                       tg::ValueError);
}

TEST_CASE("cross-validation: an exception in a task reaches the caller, lowest task first") {
  const TinyData d = tiny_data(6);
  std::vector<nn::Candidate> failing = unit_candidates({2, 2, 2});
  failing[1].make_model = []() -> std::shared_ptr<nn::Module> {
    throw tg::ValueError("second candidate fails");
  };
  failing[2].make_model = []() -> std::shared_ptr<nn::Module> {
    throw tg::ShapeError("third candidate fails");
  };
  for (int jobs : {1, 4}) {
    CAPTURE(jobs);
    nn::CVOptions o = quick(2);
    o.jobs = jobs;
    CHECK_THROWS_WITH_AS(nn::grid_search(failing, d.X, d.y, o), "second candidate fails",
                         tg::ValueError);
  }
  failing[1].make_model = [] { return std::shared_ptr<nn::Module>(); };
  CHECK_THROWS_WITH_AS(nn::grid_search(failing, d.X, d.y, quick(2)),
                       "grid_search: make_model() of 'units=2' returned no model", tg::ValueError);
}

TEST_CASE("rank_candidates: infinite means rank last beside NaN and are never chosen") {
  // Every fold diverged to +inf: the std of {inf, inf} is NaN. Nothing can be chosen, and
  // that is an error, not an index past the end.
  CHECK_THROWS_WITH_AS(
      nn::rank_candidates(
          {score("units=2", 2, {INFINITY, INFINITY}), score("units=4", 4, {INFINITY, INFINITY})}),
      doctest::Contains("rank_candidates: no candidate trained to a finite mean validation loss "
                        "('units=2': inf, 'units=4': inf; training diverged)"),
      tg::ValueError);
  // Some diverged: the finite ones are ranked and chosen from, the rest share the last rank.
  // -inf is no better than +inf: a loss that diverged either way is not a score.
  const nn::GridSearchResult r =
      nn::rank_candidates({score("inf", 1, {INFINITY, 0.5}), score("worse", 8, {1.0, 1.0}),
                           score("minus_inf", 2, {-INFINITY, 0.5}), score("best", 16, {0.5, 0.5}),
                           score("nan", 3, {NAN, 0.5})});
  std::vector<int> ranks;
  for (const auto& c : r.candidates) ranks.push_back(c.rank);
  CHECK(ranks == std::vector<int>{3, 2, 3, 1, 3});
  CHECK(r.best == 3);
  CHECK(r.one_se == 3);  // the simpler ones are not finite; "worse" is beyond 0.5 + 0
  const std::string table = r.table();
  CHECK(table.find("best: best (mean 0.5, std 0)") != std::string::npos);
  CHECK(table.find("one-standard-error choice: best") != std::string::npos);
  CHECK(table.find("-nan") == std::string::npos);  // numpy's std of {inf, 0.5} is nan
  CHECK(std::isnan(r.candidates[0].std));
}

TEST_CASE("GridSearchResult: table and write_csv refuse choices that are not candidates") {
  const nn::GridSearchResult good =
      nn::rank_candidates({score("A", 1, {1.0, 2.0}), score("B", 2, {3.0, 4.0})});
  tg_test::ScratchDir dir("model-selection");
  nn::GridSearchResult bad = good;
  bad.one_se = 2;
  CHECK_THROWS_WITH_AS(bad.table(),
                       "GridSearchResult::table: one_se = 2 is not a candidate (the result holds "
                       "2)",
                       tg::ValueError);
  bad = good;
  bad.best = 7;
  CHECK_THROWS_WITH_AS(
      bad.write_csv(dir / "cv.csv"),
      doctest::Contains("GridSearchResult::write_csv: best = 7 is not a candidate"),
      tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::GridSearchResult{}.table(),
                       "GridSearchResult::table: the result holds no candidates", tg::ValueError);
  CHECK(!std::filesystem::exists(dir / "cv.csv"));
}

TEST_CASE("grid_search: a learning rate that makes every fold diverge is a ValueError") {
  const TinyData d = tiny_data(8);
  nn::CVOptions opts = quick(2);
  opts.optimizer = [](std::vector<tg::Tensor> params) {
    return std::make_unique<tg::optim::Adam>(params, tg::optim::AdamOptions{.lr = 1e30});
  };
  CHECK_THROWS_WITH_AS(
      nn::grid_search(unit_candidates({2, 4}), d.X, d.y, opts),
      doctest::Contains("grid_search: no candidate trained to a finite mean validation loss"),
      tg::ValueError);
}

TEST_CASE("splits that could not be held in memory are refused at once") {
  // Before, time_series_splits(INT64_MAX, 2) pushed indices one at a time for minutes
  // until std::bad_alloc, and kfold_splits threw std::bad_alloc.
  CHECK_THROWS_WITH_AS(nn::time_series_splits(INT64_MAX, 2),
                       doctest::Contains("time_series_splits: 2 folds of 9223372036854775807 "
                                         "samples need 1.54e+19 sample indices"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::kfold_splits(int64_t{1} << 50, 2),
                       doctest::Contains("more than this machine's memory"), tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::kfold_splits(int64_t{1} << 50, 2, false),
                       doctest::Contains("kfold_splits: 2 folds of 1125899906842624 samples need "
                                         "2.25e+15 sample indices (1.8e+07 GB)"),
                       tg::ValueError);
  // Leave-one-out over a million samples is 10^12 indices, 8 TB.
  CHECK_THROWS_AS(nn::kfold_splits(1'000'000, 1'000'000, false), tg::ValueError);
}
