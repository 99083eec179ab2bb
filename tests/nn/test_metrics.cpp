// Metrics: each against hand-computed values, the stateful accumulation over uneven batches
// against one computation on the whole set, weights and masks, and fit / evaluate reporting
// them in History, the callbacks' logs and CSVLogger's columns.
#include <cmath>
#include <vector>

#include <doctest/doctest.h>

#include "train_util.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
using tg_train::line;
using tg_train::linear_problem;
using tg_train::TempPath;

namespace {

tg::Tensor column(const std::vector<double>& values) {
  return tg::from_vector(values, {static_cast<int64_t>(values.size()), 1});
}

// d = pred - target = [0.5, 1, -2, 0.5]; |d| / |target| = [0.5, 0.5, 0.5, 0.2].
tg::Tensor pred4() {
  return column({1.5, -1, 2, 3});
}
tg::Tensor target4() {
  return column({1, -2, 4, 2.5});
}

// Rows [begin, end) of t.
tg::Tensor rows(const tg::Tensor& t, int64_t begin, int64_t end) {
  return tg::kernel::slice(t, 0, begin, end).contiguous();
}

}  // namespace

TEST_CASE("metrics: MAE, RMSE, MAPE (percent) and R2 of a worked example") {
  const tg::Tensor p = pred4(), y = target4();
  CHECK(nn::compute_metric("mae", p, y) == doctest::Approx(1.0));
  CHECK(nn::compute_metric("rmse", p, y) == doctest::Approx(std::sqrt(5.5 / 4)));
  CHECK(nn::compute_metric("mape", p, y) == doctest::Approx(100 * 1.7 / 4));
  // mean y = 1.375; SS_tot = 19.6875, SS_res = 5.5.
  CHECK(nn::compute_metric("r2", p, y) == doctest::Approx(1 - 5.5 / 19.6875));
  CHECK(nn::compute_metric("r2", y, y) == doctest::Approx(1.0));
  // A constant target has no variance: 1, as Keras's divide_no_nan gives.
  CHECK(nn::compute_metric("r2", p, column({2, 2, 2, 2})) == 1.0);
  // MAPE divides by max(|y|, 1e-7), as Keras does: a zero target weighs 1e7 times |d|.
  CHECK(nn::compute_metric("mape", column({1e-7}), column({0})) == doctest::Approx(100.0));
}

TEST_CASE("metrics: accuracy is binary for one column, argmax for several") {
  // Thresholded at 0.5: right, right, wrong, right.
  CHECK(nn::compute_metric("accuracy", column({0.2, 0.7, 0.6, 0.4}), column({0, 1, 0, 0})) ==
        doctest::Approx(0.75));
  const tg::Tensor scores = tg::from_vector(std::vector<double>{0.1, 0.7, 0.2,  //
                                                                0.5, 0.3, 0.2,  //
                                                                0.2, 0.3, 0.5},
                                            {3, 3});
  const tg::Tensor one_hot =
      tg::from_vector(std::vector<double>{0, 1, 0, 0, 0, 1, 0, 0, 1}, {3, 3});
  const double two_of_three = 2.0 / 3.0;
  CHECK(nn::compute_metric("accuracy", scores, one_hot) == doctest::Approx(two_of_three));
  // Class indices, (N) or (N, 1), as the sparse target of a cross-entropy.
  const std::vector<double> classes{1, 2, 2};
  CHECK(nn::compute_metric("accuracy", scores, tg::from_vector(classes, {3})) ==
        doctest::Approx(two_of_three));
  CHECK(nn::compute_metric("accuracy", scores, column(classes)) == doctest::Approx(two_of_three));
  // Weighting the wrong row out leaves only right answers.
  const tg::Tensor without_second = tg::from_vector(std::vector<double>{1, 0, 1}, {3});
  CHECK(nn::compute_metric("accuracy", scores, one_hot, without_second) == doctest::Approx(1.0));
  CHECK_THROWS_WITH_AS(nn::compute_metric("accuracy", scores, column({1, 2})),
                       doctest::Contains("class indices of shape [3], got target shape [2,1]"),
                       tg::ShapeError);
}

TEST_CASE("metrics: sample weights weight each sample and masks drop steps, as in the losses") {
  const tg::Tensor p = pred4(), y = target4();
  const tg::Tensor w = tg::from_vector(std::vector<double>{1, 0, 2, 1}, {4});
  // sum w |d| / sum w = (0.5 + 4 + 0.5) / 4.
  CHECK(nn::compute_metric("mae", p, y, w) == doctest::Approx(1.25));
  CHECK(nn::compute_metric("rmse", p, y, w) == doctest::Approx(std::sqrt((0.25 + 8 + 0.25) / 4)));
  // A weight 2 counts as the sample twice.
  const tg::Tensor twice_p = column({1.5, 2, 2, 3}), twice_y = column({1, 4, 4, 2.5});
  for (const std::string& name : nn::metric_names()) {
    if (name == "accuracy") continue;
    CAPTURE(name);
    CHECK(nn::compute_metric(name, p, y, w) ==
          doctest::Approx(nn::compute_metric(name, twice_p, twice_y)));
  }
  // A (2, 2) per-step mask: the masked step counts for nothing, whatever its target.
  const tg::Tensor steps_p = tg::reshape(pred4(), {2, 2});
  const tg::Tensor steps_y = tg::from_vector(std::vector<double>{1, NAN, 4, 2.5}, {2, 2});
  const tg::Tensor mask = tg::from_vector(std::vector<double>{1, 0, 1, 1}, {2, 2});
  CHECK(nn::compute_metric("mae", steps_p, steps_y, {}, mask) == doctest::Approx(3.0 / 3));
  // Nothing weighted: no value.
  CHECK(std::isnan(nn::compute_metric("mae", p, y, tg::zeros({4}, tg::f64))));
}

TEST_CASE("metrics: accumulated over uneven batches, the metric of the whole set") {
  tg::manual_seed(3);
  const tg::Tensor p = tg::rand({10, 1}, tg::f64), y = tg::rand({10, 1}, tg::f64) + 0.5;
  const tg::Tensor w = tg::rand({10}, tg::f64);
  for (const std::string& name : nn::metric_names()) {
    CAPTURE(name);
    const auto metric = nn::make_metric(name);
    for (auto [begin, end] : {std::pair{0, 3}, std::pair{3, 8}, std::pair{8, 10}}) {
      metric->update_state(rows(p, begin, end), rows(y, begin, end), rows(w, begin, end));
    }
    CHECK(metric->result() == doctest::Approx(nn::compute_metric(name, p, y, w)).epsilon(1e-12));
    metric->reset_state();
    CHECK(std::isnan(metric->result()));
  }
  // RMSE of the whole is not the mean of the batches' RMSEs.
  const double halves = (nn::compute_metric("rmse", rows(p, 0, 3), rows(y, 0, 3)) +
                         nn::compute_metric("rmse", rows(p, 3, 10), rows(y, 3, 10))) /
                        2;
  CHECK(nn::compute_metric("rmse", p, y) != doctest::Approx(halves));
}

TEST_CASE("metrics: computed off the tape; bad names and shapes are refused in words") {
  tg::Tensor p = pred4();
  p.requires_grad_(true);
  const tg::Tensor doubled = p * 2.0;  // on the tape
  CHECK(nn::compute_metric("mae", doubled, target4() * 2.0) == doctest::Approx(2.0));
  CHECK_FALSE(p.grad().defined());
  CHECK_THROWS_WITH_AS(nn::make_metric("acc"),
                       doctest::Contains("unknown metric 'acc' (known: mae, rmse, mape, r2, "
                                         "accuracy)"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(
      nn::compute_metric("mae", pred4(), tg::reshape(target4(), {4})),
      doctest::Contains("metric mae: prediction shape [4,1] and target shape [4] differ"),
      tg::ShapeError);
}

TEST_CASE("fit reports metrics per epoch as Keras does: History, logs, val_ on validation") {
  const auto [X, y] = linear_problem(10);
  const auto [Xv, yv] = linear_problem(7, tg::f64, 5);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.0});  // the predictions stay put
  const nn::History h = nn::fit(model, loss, opt, X, y,
                                {.epochs = 2,
                                 .batch_size = 4,  // batches of 4, 4 and 2
                                 .validation_data = std::pair{Xv, yv},
                                 .metrics = {"mae", "rmse", "r2"},
                                 .verbose = 0});
  const tg::Tensor p = nn::predict(model, X), pv = nn::predict(model, Xv);
  for (const std::string name : {"mae", "rmse", "r2"}) {
    CAPTURE(name);
    REQUIRE(h.has(name));
    REQUIRE(h.has("val_" + name));
    CHECK(h[name].size() == 2);
    CHECK(h[name][1] == doctest::Approx(nn::compute_metric(name, p, y)).epsilon(1e-12));
    CHECK(h["val_" + name][1] == doctest::Approx(nn::compute_metric(name, pv, yv)).epsilon(1e-12));
  }
  // evaluate's sibling returns the same by name, beside the loss evaluate gives.
  const nn::Logs logs = nn::evaluate_metrics(model, loss, Xv, yv, {"mae", "r2"}, 3);
  CHECK(logs.size() == 3);
  CHECK(logs.at("loss") == nn::evaluate(model, loss, Xv, yv, 3));
  CHECK(logs.at("mae") == doctest::Approx(h["val_mae"][1]).epsilon(1e-12));
  CHECK(logs.at("r2") == doctest::Approx(h["val_r2"][1]).epsilon(1e-12));

  CHECK_THROWS_WITH_AS(nn::fit(model, loss, opt, X, y, {.metrics = {"mse"}, .verbose = 0}),
                       doctest::Contains("unknown metric 'mse'"), tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::fit(model, loss, opt, X, y, {.metrics = {"mae", "mae"}, .verbose = 0}),
                       doctest::Contains("metric 'mae' is given twice"), tg::ValueError);
}

TEST_CASE("fit's metrics honour sample_weight as the loss does") {
  const auto [X, y] = linear_problem(9);
  tg::manual_seed(2);
  const tg::Tensor w = tg::rand({9}, tg::f64);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.0});
  const nn::History h =
      nn::fit(model, loss, opt, X, y,
              {.epochs = 1, .batch_size = 4, .metrics = {"mae"}, .verbose = 0, .sample_weight = w});
  CHECK(h["mae"][0] ==
        doctest::Approx(nn::compute_metric("mae", nn::predict(model, X), y, w)).epsilon(1e-12));
}

TEST_CASE("batch logs hold each metric's running value; CSVLogger writes mae and val_mae") {
  TempPath csv("metrics.csv");
  const auto [X, y] = linear_problem(20);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  struct BatchMetrics : nn::Callback {
    std::vector<double> mae;
    void on_batch_end(int64_t, const nn::Logs& logs) override { mae.push_back(logs.at("mae")); }
  };
  auto batches = std::make_shared<BatchMetrics>();
  const nn::History h = nn::fit(model, loss, opt, X, y,
                                {.epochs = 2,
                                 .batch_size = 8,
                                 .validation_split = 0.25,
                                 .metrics = {"mae", "rmse"},
                                 .callbacks = {std::make_shared<nn::CSVLogger>(csv.str()), batches},
                                 .verbose = 0});
  REQUIRE(batches->mae.size() == 4);  // 15 training samples: batches of 8 and 7, two epochs
  CHECK(batches->mae[1] == h["mae"][0]);
  CHECK(batches->mae[3] == h["mae"][1]);

  std::string expected = "epoch,loss,val_loss,lr,mae,val_mae,rmse,val_rmse\n";
  for (std::size_t e = 0; e < 2; ++e) {
    expected +=
        fmt::format("{},{},{},{},{},{},{},{}\n", e, h["loss"][e], h["val_loss"][e], h["lr"][e],
                    h["mae"][e], h["val_mae"][e], h["rmse"][e], h["val_rmse"][e]);
  }
  CHECK(csv.read() == expected);
  // A resumed run reads the metric columns back.
  const nn::History back = nn::read_csv_log(csv.str(), 2);
  CHECK(back["val_mae"] == h["val_mae"]);
  CHECK(back["rmse"] == h["rmse"]);
}

TEST_CASE("EarlyStopping monitors a metric; accuracy and r2 improve upwards") {
  const auto [X, y] = linear_problem(20);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.5});
  auto stop = std::make_shared<nn::EarlyStopping>(
      nn::EarlyStoppingOptions{.monitor = "val_mae", .patience = 0});
  const nn::History h = nn::fit(model, loss, opt, X, y,
                                {.epochs = 5,
                                 .validation_split = 0.25,
                                 .metrics = {"mae"},
                                 .callbacks = {stop},
                                 .verbose = 0});
  CHECK(stop->best() == *std::min_element(h["val_mae"].begin(), h["val_mae"].end()));

  CHECK(nn::higher_is_better("val_r2"));
  CHECK(nn::higher_is_better("accuracy"));
  CHECK_FALSE(nn::higher_is_better("val_mae"));
  // A rising R2 is improvement: no stop while it rises, a stop once it falls.
  nn::EarlyStopping by_r2({.monitor = "val_r2", .patience = 0});
  by_r2.set_context(model, opt, {.epochs = 4, .steps = 1});
  by_r2.on_train_begin({});
  const std::vector<double> r2{0.1, 0.5, 0.9, 0.8};
  for (int e = 0; e < 4; ++e) {
    by_r2.on_epoch_end(e, {{"val_r2", r2[static_cast<std::size_t>(e)]}});
    CHECK(by_r2.stop_training() == (e == 3));
  }
  CHECK(by_r2.best() == 0.9);
}
