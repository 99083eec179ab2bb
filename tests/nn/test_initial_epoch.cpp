// fit's initial_epoch (Keras): a run resumed at epoch 50 is the rest of one run 0..100, with
// the absolute epoch numbers in History's length, callbacks, the progress bar, learning-rate
// schedules and CSVLogger's file.
#include <sstream>

#include <doctest/doctest.h>

#include "train_util.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
using tg_train::line;
using tg_train::linear_problem;
using tg_train::TempPath;

namespace {

// The epochs each hook saw.
struct EpochRecorder : nn::Callback {
  std::vector<int> begun, ended;
  int initial_epoch = -1, epochs = -1;
  void on_train_begin(const nn::Logs&) override {
    initial_epoch = params().initial_epoch;
    epochs = params().epochs;
  }
  void on_epoch_begin(int e, const nn::Logs&) override { begun.push_back(e); }
  void on_epoch_end(int e, const nn::Logs&) override { ended.push_back(e); }
};

// One training process: a model, an SGD optimizer with momentum and a StepLR schedule built
// fresh, as a program that starts, or resumes from a checkpoint, builds them.
struct Process {
  nn::Dense model = line();
  nn::MSE loss;
  tg::optim::SGD opt{model.parameters(), {.lr = 0.05, .momentum = 0.9}};
  std::shared_ptr<nn::ScheduleCallback> schedule =
      std::make_shared<nn::ScheduleCallback>(std::make_shared<tg::optim::StepLR>(opt, 30, 0.5));

  nn::History fit(const tg_train::Regression& d, int initial_epoch, int epochs,
                  nn::CallbackList more = {}) {
    more.push_back(schedule);
    return nn::fit(model, loss, opt, d.X, d.y,
                   {.epochs = epochs,
                    .initial_epoch = initial_epoch,
                    .batch_size = 4,
                    .validation_split = 0.2,
                    .callbacks = more,
                    .verbose = 0});
  }
};

std::vector<double> joined(std::vector<double> a, const std::vector<double>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("fit 0..50 then fit(initial_epoch = 50, epochs = 100) equals one run 0..100") {
  const tg_train::Regression d = linear_problem(40);

  tg::manual_seed(7);
  Process straight;
  const nn::History whole = straight.fit(d, 0, 100);
  REQUIRE(whole.epochs == 100);

  tg::manual_seed(7);
  Process first;
  const nn::History a = first.fit(d, 0, 50);
  // The resumed process: its model, optimizer and generator state carried over (what a
  // checkpoint restores), its schedule built again from the base lr.
  const std::string generator = tg::default_generator().state();
  Process second;
  tg::default_generator().set_state(generator);
  tg::kernel::copy_into(second.model.kernel, first.model.kernel);
  tg::kernel::copy_into(second.model.bias, first.model.bias);
  second.opt.load_state_dict(first.opt.state_dict());
  auto epochs = std::make_shared<EpochRecorder>();
  const nn::History b = second.fit(d, 50, 100, {epochs});

  CHECK(b.epochs == 50);
  CHECK(joined(a["loss"], b["loss"]) == whole["loss"]);  // bit for bit, shuffled batches
  CHECK(joined(a["val_loss"], b["val_loss"]) == whole["val_loss"]);
  // StepLR(30, 0.5) by absolute epochs: the resumed part starts at 0.025, halves at 60, 90.
  CHECK(joined(a["lr"], b["lr"]) == whole["lr"]);
  CHECK(b["lr"].front() == 0.025);
  CHECK(second.opt.lr() == straight.opt.lr());

  CHECK(epochs->initial_epoch == 50);
  CHECK(epochs->epochs == 100);
  REQUIRE(epochs->begun.size() == 50);
  CHECK(epochs->begun.front() == 50);
  CHECK(epochs->ended.back() == 99);
}

TEST_CASE("the progress bar of a resumed fit counts from initial_epoch + 1 of epochs") {
  const tg_train::Regression d = linear_problem(8);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  std::ostringstream out;
  const nn::History h = nn::fit(model, loss, opt, d.X, d.y,
                                {.epochs = 5, .initial_epoch = 3, .verbose = 2, .out = &out});
  CHECK(h.epochs == 2);
  CHECK(out.str().find("Epoch 4/5 - ") == 0);
  CHECK(out.str().find("Epoch 5/5 - ") != std::string::npos);
  CHECK(out.str().find("Epoch 3/") == std::string::npos);
}

TEST_CASE("fit: initial_epoch outside [0, epochs] is refused, naming both") {
  const tg_train::Regression d = linear_problem(8);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  CHECK_THROWS_WITH_AS(
      nn::fit(model, loss, opt, d.X, d.y, {.epochs = 5, .initial_epoch = 6, .verbose = 0}),
      doctest::Contains("fit: initial_epoch must be in [0, epochs = 5], got 6"), tg::ValueError);
  CHECK_THROWS_AS(
      nn::fit(model, loss, opt, d.X, d.y, {.epochs = 5, .initial_epoch = -1, .verbose = 0}),
      tg::ValueError);
  // initial_epoch == epochs: nothing left to train, nothing changes.
  const nn::History h =
      nn::fit(model, loss, opt, d.X, d.y, {.epochs = 5, .initial_epoch = 5, .verbose = 0});
  CHECK(h.epochs == 0);
}

TEST_CASE("CSVLogger of a resumed fit writes the whole run: the earlier rows, then the new") {
  TempPath straight_csv("straight.csv"), resumed_csv("resumed.csv");
  const tg_train::Regression d = linear_problem(40);

  tg::manual_seed(3);
  Process straight;
  (void)straight.fit(d, 0, 6, {std::make_shared<nn::CSVLogger>(straight_csv.str())});

  tg::manual_seed(3);
  Process run;
  const nn::History earlier = run.fit(d, 0, 4);
  auto logger = std::make_shared<nn::CSVLogger>(resumed_csv.str(), earlier);
  (void)run.fit(d, 4, 6, {logger});
  CHECK(resumed_csv.read() == straight_csv.read());
  CHECK(resumed_csv.read().find("\n5,") != std::string::npos);
  CHECK(logger->history().epochs == 6);
  CHECK(logger->history()["loss"].size() == 6);

  // An earlier history that does not end where fit starts is refused.
  auto wrong = std::make_shared<nn::CSVLogger>(resumed_csv.str(), earlier);
  CHECK_THROWS_WITH_AS(run.fit(d, 3, 6, {wrong}),
                       "CSVLogger: the earlier history has 4 epochs but fit starts at "
                       "initial_epoch 3",
                       tg::ValueError);
  nn::History ragged = earlier;
  ragged.history["loss"].pop_back();
  CHECK_THROWS_WITH_AS(nn::CSVLogger(resumed_csv.str(), ragged),
                       "CSVLogger: the earlier history has 4 epochs but 3 'loss' values",
                       tg::ValueError);
}
