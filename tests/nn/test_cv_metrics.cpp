// Metrics beside the loss in cross-validation (CVOptions::metrics), as scikit-learn's
// multi-metric scoring: each fold's metrics are those of its validation predictions, in the
// loss's unit; they are the same bit for bit whatever the jobs, travel through on_task_end and
// opts.finished, show in grid_search's table and CSV, and leave the ranking to the loss.
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <tapegrad/tapegrad.hpp>

#include <cv_data.hpp>
#include <test_util.hpp>

namespace tg = tapegrad;
namespace nn = tapegrad::nn;

using tg_test::tiny_data;
using tg_test::tiny_model;
using tg_test::TinyData;

namespace {

nn::CVOptions quick(nn::SplitKind split) {
  return {.folds = 3,
          .split = split,
          .fit = {.epochs = 2, .batch_size = 4, .verbose = 0},
          .metrics = {"mae", "rmse", "r2"}};
}

std::vector<nn::Candidate> two_candidates() {
  return {{.name = "units=2", .complexity = 2, .make_model = [] { return tiny_model(2); }},
          {.name = "units=3", .complexity = 3, .make_model = [] { return tiny_model(3); }}};
}

std::string csv_of(const nn::GridSearchResult& r, const std::string& name) {
  tg_test::ScratchDir dir("cv-metrics");
  const std::string path = dir / name;
  r.write_csv(path);
  return tg_test::read_file(path);
}

}  // namespace

TEST_CASE(
    "cross_validate: each fold's metrics are those of its validation predictions, in y's "
    "unit") {
  // Scaled per fold and scaled back: the metrics must be taken where the loss is, on the
  // predictions mapped back against the untransformed targets.
  TinyData d = tiny_data(24);
  d.y = d.y * 50.0 + 100.0;
  nn::CVOptions opts = quick(nn::SplitKind::time);
  std::vector<tg::data::Scaler> scalers;
  opts.preprocess = nn::min_max_per_fold(&scalers);
  std::vector<std::shared_ptr<nn::Module>> models;  // one per fold, in order (jobs 1)
  const nn::CVResult r = nn::cross_validate(
      [&] {
        models.push_back(tiny_model(3));
        return models.back();
      },
      d.X, d.y, opts);
  REQUIRE(models.size() == 3);
  REQUIRE(r.fold_metrics.size() == 3);
  const std::vector<nn::Fold> folds = nn::time_series_splits(24, 3);
  for (std::size_t f = 0; f < folds.size(); ++f) {
    CAPTURE(f);
    const tg::Tensor X_val = tg::data::take(d.X, folds[f].validation);
    const tg::Tensor y_val = tg::data::take(d.y, folds[f].validation);
    const tg::Tensor pred = scalers[f].inverse_transform(
        nn::predict(*models[f], scalers[f].transform(X_val), opts.fit.batch_size));
    for (const std::string& metric : opts.metrics) {
      CAPTURE(metric);
      REQUIRE(r.fold_metrics.at(metric).size() == 3);
      CHECK(r.fold_metrics.at(metric)[f] ==
            doctest::Approx(nn::compute_metric(metric, pred, y_val)).epsilon(1e-9));
    }
    // The loss, an MSE in the same unit, is the square of the RMSE (the loss summed in the
    // model's f32, the metric in double).
    CHECK(
        r.fold_losses[f] ==
        doctest::Approx(r.fold_metrics.at("rmse")[f] * r.fold_metrics.at("rmse")[f]).epsilon(1e-5));
  }
  const std::vector<double>& mae = r.fold_metrics.at("mae");
  CHECK(r.mean("mae") == doctest::Approx((mae[0] + mae[1] + mae[2]) / 3));
  CHECK(r.std("mae") >= 0);
  CHECK_THROWS_WITH_AS(r.mean("mape"), "CVResult::mean: no metric 'mape' (held: mae, r2, rmse)",
                       tg::ValueError);
}

TEST_CASE("grid_search: metrics are the same bit for bit with jobs 2 as with jobs 1") {
  const TinyData d = tiny_data(24);
  nn::CVOptions opts = quick(nn::SplitKind::kfold);
  opts.metrics = {"rmse", "mae"};  // the table keeps this order
  const nn::GridSearchResult one = nn::grid_search(two_candidates(), d.X, d.y, opts);
  opts.jobs = 2;
  const nn::GridSearchResult two = nn::grid_search(two_candidates(), d.X, d.y, opts);
  REQUIRE(one.candidates.size() == 2);
  for (std::size_t c = 0; c < 2; ++c) {
    CHECK(two.candidates[c].fold_losses == one.candidates[c].fold_losses);
    CHECK(two.candidates[c].fold_metrics == one.candidates[c].fold_metrics);  // exactly
    CHECK(one.candidates[c].fold_metrics.at("mae").size() == 3);
  }
  CHECK(one.metrics == std::vector<std::string>{"rmse", "mae"});
  CHECK(two.table() == one.table());
  const std::string csv = csv_of(one, "one.csv");
  CHECK(csv_of(two, "two.csv") == csv);
  CHECK(
      csv.starts_with("name,complexity,fold_0,fold_1,fold_2,mean,std,rank,mean_rmse,std_rmse,"
                      "mean_mae,std_mae\n"));
  CHECK(tg_test::contains(one.table(), "rank   mean_rmse    std_rmse    mean_mae     std_mae\n"));
  const nn::CandidateScore& s = one.candidates[0];
  CHECK(tg_test::contains(csv,
                          fmt::format(",{},{},{},{}\n", s.metric_mean("rmse"), s.metric_std("rmse"),
                                      s.metric_mean("mae"), s.metric_std("mae"))));

  // Without metrics the table and the CSV keep their columns.
  opts.metrics = {};
  const nn::GridSearchResult plain = nn::grid_search(two_candidates(), d.X, d.y, opts);
  CHECK(plain.candidates[0].fold_losses == one.candidates[0].fold_losses);
  CHECK(plain.candidates[0].fold_metrics.empty());
  CHECK(csv_of(plain, "plain.csv")
            .starts_with("name,complexity,fold_0,fold_1,fold_2,mean,std,rank\n"));
}

TEST_CASE("grid_search: on_task_end hands out each task's metrics; a resumed search takes them") {
  const TinyData d = tiny_data(24);
  nn::CVOptions opts = quick(nn::SplitKind::kfold);
  std::ostringstream progress;
  opts.verbose = 2;
  opts.out = &progress;
  std::vector<nn::TaskLoss> tasks;
  opts.on_task_end = [&](const nn::TaskLoss& t) { tasks.push_back(t); };
  const nn::GridSearchResult straight = nn::grid_search(two_candidates(), d.X, d.y, opts);
  REQUIRE(tasks.size() == 6);
  for (const nn::TaskLoss& t : tasks) {
    REQUIRE(t.metrics.size() == 3);
    const nn::CandidateScore& s = straight.candidates[t.candidate];
    CHECK(t.loss == s.fold_losses[t.fold]);
    CHECK(t.metrics[0] == s.fold_metrics.at("mae")[t.fold]);
    CHECK(t.metrics[1] == s.fold_metrics.at("rmse")[t.fold]);
    CHECK(t.metrics[2] == s.fold_metrics.at("r2")[t.fold]);
  }
  CHECK(tg_test::contains(progress.str(),
                          fmt::format("loss {:.4g}, mae {:.4g}, rmse {:.4g}, r2 ", tasks[0].loss,
                                      tasks[0].metrics[0], tasks[0].metrics[1])));

  // Resumed from half the tasks: the other half runs, the result is the straight one.
  opts.verbose = 0;
  opts.on_task_end = {};
  opts.finished.assign(tasks.begin(), tasks.begin() + 3);
  const nn::GridSearchResult resumed = nn::grid_search(two_candidates(), d.X, d.y, opts);
  for (std::size_t c = 0; c < 2; ++c) {
    CHECK(resumed.candidates[c].fold_losses == straight.candidates[c].fold_losses);
    CHECK(resumed.candidates[c].fold_metrics == straight.candidates[c].fold_metrics);
  }
  CHECK(resumed.table() == straight.table());

  // A finished task without its metrics cannot fill the columns: refused in words.
  opts.finished[1].metrics.pop_back();
  CHECK_THROWS_WITH_AS(nn::grid_search(two_candidates(), d.X, d.y, opts),
                       doctest::Contains("opts.finished holds candidate "), tg::ValueError);
}

TEST_CASE("cross_validate: an unknown or repeated metric is refused before any training") {
  const TinyData d = tiny_data(12);
  nn::CVOptions opts = quick(nn::SplitKind::kfold);
  int built = 0;
  const nn::ModelFactory make = [&] {
    ++built;
    return tiny_model(2);
  };
  opts.metrics = {"mae", "mse"};
  CHECK_THROWS_WITH_AS(nn::cross_validate(make, d.X, d.y, opts),
                       doctest::Contains("cross_validate: opts.metrics: unknown metric 'mse'"),
                       tg::ValueError);
  opts.metrics = {"mae", "mae"};
  CHECK_THROWS_WITH_AS(nn::cross_validate(make, d.X, d.y, opts),
                       "cross_validate: opts.metrics names 'mae' twice", tg::ValueError);
  CHECK(built == 0);
}

TEST_CASE("rank_candidates: candidates with other metrics are refused; metrics in name order") {
  nn::CandidateScore a{.name = "a",
                       .complexity = 1,
                       .fold_losses = {1, 2},
                       .mean = 0,
                       .std = 0,
                       .rank = 0,
                       .fold_metrics = {{"rmse", {1, 1}}, {"mae", {0.5, 1.5}}}};
  nn::CandidateScore b = a;
  b.name = "b";
  const nn::GridSearchResult r = nn::rank_candidates({a, b});
  CHECK(r.metrics == std::vector<std::string>{"mae", "rmse"});
  CHECK(r.candidates[0].metric_mean("mae") == 1.0);
  CHECK(r.candidates[0].metric_std("mae") == 0.5);
  b.fold_metrics.erase("mae");
  CHECK_THROWS_WITH_AS(nn::rank_candidates({a, b}),
                       "rank_candidates: candidate 'b' has metrics [rmse], 'a' has [mae, rmse] "
                       "(expected the same)",
                       tg::ValueError);
  b.fold_metrics = {{"rmse", {1}}, {"mae", {1, 2}}};
  CHECK_THROWS_WITH_AS(nn::rank_candidates({a, b}),
                       doctest::Contains("has 1 values of metric 'rmse' for 2 fold losses"),
                       tg::ValueError);
}
