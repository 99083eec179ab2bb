// LR schedules: the lr sequence they give the optimizer, epoch by epoch.
#include <cmath>
#include <numbers>

#include "helpers.hpp"

namespace tg = tapegrad;

namespace {

// The optimizer's lr at epochs 0..n-1, stepping the schedule after each.
template <class Schedule>
std::vector<double> lr_sequence(tg::optim::Optimizer& opt, Schedule& schedule, int n) {
  std::vector<double> out;
  for (int e = 0; e < n; ++e) {
    out.push_back(opt.lr());
    schedule.step();
  }
  return out;
}

void check_sequence(const std::vector<double>& got, const std::vector<double>& expected) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("StepLR: gamma every step_size epochs") {
  tg::Tensor w = tgtest::param({0.0});
  tg::optim::SGD opt({w}, {.lr = 1.0});
  tg::optim::StepLR schedule(opt, 2, 0.5);
  check_sequence(lr_sequence(opt, schedule, 6), {1.0, 1.0, 0.5, 0.5, 0.25, 0.25});
  CHECK(schedule.epoch() == 6);
  CHECK(schedule.lr_at(7) == doctest::Approx(0.125));
}

TEST_CASE("ExponentialLR: gamma^epoch") {
  tg::Tensor w = tgtest::param({0.0});
  tg::optim::Adam opt({w}, {.lr = 0.1});
  tg::optim::ExponentialLR schedule(opt, 0.9);
  check_sequence(lr_sequence(opt, schedule, 4), {0.1, 0.09, 0.081, 0.0729});
}

TEST_CASE("CosineLR: half a cosine from base_lr to eta_min over T_max epochs") {
  tg::Tensor w = tgtest::param({0.0});
  tg::optim::SGD opt({w}, {.lr = 1.0});
  tg::optim::CosineLR schedule(opt, 4, 0.1);
  const double c = std::cos(std::numbers::pi / 4);  // cos(pi/4)
  // eta_min + 0.9 * (1 + cos(pi e / 4)) / 2
  check_sequence(lr_sequence(opt, schedule, 5),
                 {1.0, 0.1 + 0.45 * (1 + c), 0.55, 0.1 + 0.45 * (1 - c), 0.1});
  CHECK_THROWS_AS(tg::optim::CosineLR(opt, 0), tg::ValueError);
}

TEST_CASE("the schedule's lr is the one step() uses") {
  tg::Tensor w = tgtest::param({1.0});
  tg::optim::GD opt({w}, {.lr = 1.0});
  tg::optim::StepLR schedule(opt, 1, 0.5);
  schedule.step();  // lr 0.5
  tgtest::set_grad(w, {1.0});
  opt.step();
  CHECK(w.item() == doctest::Approx(0.5));
}

TEST_CASE("ReduceLROnPlateau: factor after patience epochs without improvement, floor min_lr") {
  tg::Tensor w = tgtest::param({0.0});
  tg::optim::SGD opt({w}, {.lr = 1.0});
  tg::optim::ReduceLROnPlateau plateau(opt, {.factor = 0.5, .patience = 2, .min_lr = 0.2});
  const std::vector<double> metrics = {1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95};
  std::vector<double> lrs;
  for (double m : metrics) {
    plateau.step(m);
    lrs.push_back(opt.lr());
  }
  // best 1.0, best 0.9, wait 1, wait 2 -> 0.5, wait 1, wait 2 -> 0.25, wait 1,
  // wait 2 -> max(0.125, 0.2) = 0.2, then at min_lr it stays
  check_sequence(lrs, {1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2});
  CHECK(plateau.best() == 0.9);
}

TEST_CASE("ReduceLROnPlateau: min_delta, mode max and cooldown") {
  tg::Tensor w = tgtest::param({0.0});
  tg::optim::SGD opt({w}, {.lr = 1.0});
  tg::optim::ReduceLROnPlateau plateau(opt, {.factor = 0.1,
                                             .patience = 1,
                                             .mode = tg::optim::PlateauMode::max,
                                             .min_delta = 0.05,
                                             .cooldown = 1});
  plateau.step(0.5);  // best 0.5
  CHECK(opt.lr() == 1.0);
  plateau.step(0.52);  // not > 0.5 + 0.05: wait 1 >= patience -> 0.1, cooldown 1
  CHECK(opt.lr() == doctest::Approx(0.1));
  plateau.step(0.4);  // cooldown epoch: no counting
  CHECK(opt.lr() == doctest::Approx(0.1));
  plateau.step(0.4);  // counting again: reduce
  CHECK(opt.lr() == doctest::Approx(0.01));
  plateau.step(0.7);  // an improvement
  CHECK(plateau.best() == 0.7);
  CHECK(opt.lr() == doctest::Approx(0.01));
}
