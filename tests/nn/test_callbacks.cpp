// Callbacks: the hook sequence fit runs, EarlyStopping (stop and restore), TerminateOnNaN,
// CSVLogger, ModelCheckpoint and the learning-rate callbacks.
#include <cmath>
#include <filesystem>
#include <set>

#include <sys/stat.h>

#include <doctest/doctest.h>

#include "train_util.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
using tg_train::line;
using tg_train::linear_problem;
using tg_train::TempPath;

namespace {

// Records every hook call as text.
struct Recorder : nn::Callback {
  std::vector<std::string> calls;
  std::vector<nn::Logs> epoch_logs;
  void on_train_begin(const nn::Logs&) override { calls.push_back("train_begin"); }
  void on_epoch_begin(int e, const nn::Logs&) override {
    calls.push_back(fmt::format("epoch_begin {}", e));
  }
  void on_batch_end(int64_t b, const nn::Logs& logs) override {
    calls.push_back(fmt::format("batch_end {} size {}", b, logs.at("size")));
  }
  void on_epoch_end(int e, const nn::Logs& logs) override {
    calls.push_back(fmt::format("epoch_end {}", e));
    epoch_logs.push_back(logs);
  }
  void on_train_end(const nn::Logs&) override { calls.push_back("train_end"); }
};

// GD at lr 50 on the regression diverges: every epoch's loss is larger than the last.
struct Diverging {
  tg_train::Regression data = linear_problem(20);
  nn::Dense model = line();
  nn::MSE loss;
  tg::optim::GD opt{model.parameters(), {.lr = 50.0}};

  nn::History fit(nn::CallbackList callbacks, int epochs = 10) {
    return nn::fit(model, loss, opt, data.X, data.y,
                   {.epochs = epochs,
                    .validation_data = std::pair{data.X, data.y},
                    .callbacks = std::move(callbacks),
                    .verbose = 0});
  }
  double current_loss() { return nn::evaluate(model, loss, data.X, data.y, 20); }
};

// Calls a callback's hooks by hand with the given monitored values.
void drive(nn::Callback& cb, nn::Module& model, tg::optim::Optimizer& opt,
           const std::vector<double>& values, const std::string& key = "val_loss") {
  cb.set_context(model, opt, {.epochs = static_cast<int>(values.size()), .steps = 1});
  cb.on_train_begin({});
  for (std::size_t e = 0; e < values.size() && !cb.stop_training(); ++e) {
    cb.on_epoch_end(static_cast<int>(e), {{key, values[e]}, {"lr", opt.lr()}});
  }
}

}  // namespace

TEST_CASE("fit runs the hooks in Keras's order with the documented logs") {
  const auto [X, y] = linear_problem(10);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  auto rec = std::make_shared<Recorder>();
  const nn::History h = nn::fit(
      model, loss, opt, X, y,
      {.epochs = 2, .batch_size = 4, .validation_split = 0.2, .callbacks = {rec}, .verbose = 0});
  CHECK(rec->calls == std::vector<std::string>{"train_begin", "epoch_begin 0", "batch_end 0 size 4",
                                               "batch_end 1 size 4", "epoch_end 0", "epoch_begin 1",
                                               "batch_end 0 size 4", "batch_end 1 size 4",
                                               "epoch_end 1", "train_end"});
  REQUIRE(rec->epoch_logs.size() == 2);
  CHECK(rec->epoch_logs[1].at("loss") == h["loss"][1]);
  CHECK(rec->epoch_logs[1].at("val_loss") == h["val_loss"][1]);
  CHECK(rec->epoch_logs[1].at("lr") == 0.1);
}

TEST_CASE("a callback's model and optimizer exist only inside fit") {
  struct Peek : nn::Callback {
    void peek() { (void)optimizer(); }
  } peek;
  CHECK_THROWS_AS(peek.peek(), tg::ValueError);
}

TEST_CASE("EarlyStopping stops after `patience` epochs without improvement and restores") {
  Diverging run;
  auto stop = std::make_shared<nn::EarlyStopping>(
      nn::EarlyStoppingOptions{.patience = 2, .restore_best_weights = true});
  const nn::History h = run.fit({stop});
  CHECK(h.epochs == 3);  // best at epoch 0, then two worse epochs
  CHECK(stop->stopped_epoch() == 2);
  CHECK(stop->best_epoch() == 0);
  CHECK(stop->best() == h["val_loss"][0]);
  CHECK(h["val_loss"][2] > h["val_loss"][0]);
  // The weights are those of the end of epoch 0 again.
  CHECK(run.current_loss() == doctest::Approx(h["val_loss"][0]).epsilon(1e-12));
}

TEST_CASE("EarlyStopping without restore_best_weights keeps the last weights") {
  Diverging run;
  auto stop = std::make_shared<nn::EarlyStopping>(nn::EarlyStoppingOptions{.patience = 1});
  const nn::History h = run.fit({stop});
  CHECK(h.epochs == 2);
  CHECK(run.current_loss() == doctest::Approx(h["val_loss"][1]).epsilon(1e-12));
}

TEST_CASE("EarlyStopping: min_delta, fallback from val_loss to loss, unknown metrics") {
  auto model = line();
  tg::optim::SGD opt(model.parameters());
  nn::EarlyStopping stop({.patience = 2, .min_delta = 0.1});
  // 0.95 and 0.91 improve on 1.0 by less than min_delta: they do not count.
  drive(stop, model, opt, {1.0, 0.95, 0.91, 0.5}, "loss");
  CHECK(stop.stopped_epoch() == 2);
  CHECK(stop.best() == 1.0);
  nn::EarlyStopping patient({.patience = 2, .min_delta = 0.1});
  drive(patient, model, opt, {1.0, 0.95, 0.85, 0.8, 0.7, 0.69, 0.68});
  CHECK(patient.best_epoch() == 4);
  CHECK(patient.stopped_epoch() == 6);
  nn::EarlyStopping odd({.monitor = "accuracy"});
  CHECK_THROWS_WITH_AS(drive(odd, model, opt, {1.0}), doctest::Contains("no metric 'accuracy'"),
                       tg::ValueError);
}

TEST_CASE("TerminateOnNaN stops at the first non-finite batch loss") {
  const auto [X, y] = linear_problem(100);
  tg::Tensor bad = y.clone();
  bad.data<double>()[40] = NAN;  // sample 40 lies in batch 1 (samples 32..63)
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  auto nan = std::make_shared<nn::TerminateOnNaN>();
  const nn::History h = nn::fit(model, loss, opt, X, bad,
                                {.epochs = 5, .callbacks = {nan}, .verbose = 0, .shuffle = false});
  CHECK(nan->terminated_batch() == 1);
  CHECK(opt.iterations() == 2);
  CHECK(h.epochs == 1);
  CHECK(std::isnan(h["loss"][0]));
}

TEST_CASE("CSVLogger writes epoch,loss,val_loss,lr rows, complete after every epoch") {
  TempPath csv("log.csv");
  const auto [X, y] = linear_problem(20);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  // Reads the file right after the logger's epoch end: the row is already there, appended to
  // the same file (one inode: never rewritten and renamed over).
  struct Reader : nn::Callback {
    const TempPath* file = nullptr;
    std::vector<std::size_t> lines;
    std::set<ino_t> inodes;
    void on_epoch_end(int, const nn::Logs&) override {
      const std::string text = file->read();
      lines.push_back(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')));
      struct stat st {};
      REQUIRE(::stat(file->str().c_str(), &st) == 0);
      inodes.insert(st.st_ino);
    }
  };
  auto reader = std::make_shared<Reader>();
  reader->file = &csv;
  const nn::History h = nn::fit(model, loss, opt, X, y,
                                {.epochs = 3,
                                 .validation_split = 0.25,
                                 .callbacks = {std::make_shared<nn::CSVLogger>(csv.str()), reader},
                                 .verbose = 0});
  CHECK(reader->lines == std::vector<std::size_t>{2, 3, 4});
  CHECK(reader->inodes.size() == 1);
  std::string expected = "epoch,loss,val_loss,lr\n";
  for (int e = 0; e < 3; ++e) {
    expected += fmt::format("{},{},{},{}\n", e, h["loss"][e], h["val_loss"][e], h["lr"][e]);
  }
  CHECK(csv.read() == expected);
  CHECK_FALSE(std::filesystem::exists(fmt::format("{}.tmp.{}", csv.str(), ::getpid())));
  // Written with shortest round-trip digits: the values read back exactly.
  CHECK(std::stod(expected.substr(expected.find('\n') + 3)) == h["loss"][0]);

  (void)nn::fit(
      model, loss, opt, X, y,
      {.epochs = 1, .callbacks = {std::make_shared<nn::CSVLogger>(csv.str())}, .verbose = 0});
  CHECK(csv.read().find("\n0,") != std::string::npos);
  CHECK(csv.read().find(",NA,") != std::string::npos);
  CHECK_THROWS_AS(
      nn::fit(model, loss, opt, X, y,
              {.epochs = 1,
               .callbacks = {std::make_shared<nn::CSVLogger>("/nonexistent/dir/log.csv")},
               .verbose = 0}),
      tg::IOError);
}

TEST_CASE("read_csv_log reads CSVLogger's rows back, exactly; refuses what is not such a log") {
  TempPath csv("log.csv");
  const auto [X, y] = linear_problem(20);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  const nn::History h = nn::fit(
      model, loss, opt, X, y,
      {.epochs = 3, .callbacks = {std::make_shared<nn::CSVLogger>(csv.str())}, .verbose = 0});
  const nn::History back = nn::read_csv_log(csv.str(), 2);
  CHECK(back.epochs == 2);
  CHECK(back["loss"] == std::vector<double>{h["loss"][0], h["loss"][1]});
  CHECK(back["lr"] == std::vector<double>{h["lr"][0], h["lr"][1]});
  CHECK_FALSE(back.has("val_loss"));  // NA throughout: the run had no validation data

  const auto error_of = [&](const std::string& text, int epochs) {
    csv.write(text);
    return tg_test::message_of<tg::IOError>([&] { (void)nn::read_csv_log(csv.str(), epochs); });
  };
  const std::string head = "epoch,loss,val_loss,lr\n";
  CHECK(tg_test::contains(error_of(head + "0,1,NA,1\n", 2),
                          ":3: the log ends after 1 epochs, 2 were asked for"));
  CHECK(tg_test::contains(error_of(head + "1,1,NA,1\n", 1),
                          ":2: expected the row of epoch 0 (4 fields), got '1,1,NA,1'"));
  CHECK(tg_test::contains(error_of(head + "0,1e400,NA,1\n", 1), "'1e400' is not a number or NA"));
  CHECK(tg_test::contains(error_of("epoch,loss\n", 0),
                          ":1: expected the header epoch,loss,val_loss,lr, got 'epoch,loss'"));
  // A 10 MB field is quoted in a bounded message.
  CHECK(error_of(head + "0," + std::string(10'000'000, '7') + "x,NA,1\n", 1).size() < 300);
}

TEST_CASE("ModelCheckpoint saves every epoch through the save function, paths from a pattern") {
  const auto [X, y] = linear_problem(20);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  std::vector<std::pair<std::string, int>> saved;
  auto ckpt = std::make_shared<nn::ModelCheckpoint>(
      "ckpt/m-{epoch:02d}.bin",
      [&](const std::string& path, int epoch) { saved.emplace_back(path, epoch); });
  (void)nn::fit(model, loss, opt, X, y, {.epochs = 3, .callbacks = {ckpt}, .verbose = 0});
  CHECK(saved == std::vector<std::pair<std::string, int>>{
                     {"ckpt/m-01.bin", 0}, {"ckpt/m-02.bin", 1}, {"ckpt/m-03.bin", 2}});
  CHECK(ckpt->last_path() == "ckpt/m-03.bin");
  CHECK_THROWS_AS(nn::ModelCheckpoint("m-{nope}.bin", [](const std::string&, int) {}),
                  tg::ValueError);
}

TEST_CASE("ModelCheckpoint save_best_only saves only improving epochs") {
  auto model = line();
  tg::optim::SGD opt(model.parameters());
  std::vector<int> epochs;
  nn::ModelCheckpoint best([&](int epoch) { epochs.push_back(epoch); }, {.save_best_only = true});
  drive(best, model, opt, {3.0, 2.0, 2.5, NAN, 1.0});
  CHECK(epochs == std::vector<int>{0, 1, 4});
  std::vector<std::string> paths;
  nn::ModelCheckpoint named("best-{val_loss:.1f}",
                            [&](const std::string& p, int) { paths.push_back(p); },
                            {.save_best_only = true});
  drive(named, model, opt, {3.0, 2.0});
  CHECK(paths == std::vector<std::string>{"best-3.0", "best-2.0"});
}

TEST_CASE("LearningRateScheduler sets the lr at each epoch's start; History records it") {
  const auto [X, y] = linear_problem(20);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  auto sched = std::make_shared<nn::LearningRateScheduler>(
      [](int epoch, double lr) { return epoch == 0 ? lr : lr * 0.5; });
  const nn::History h =
      nn::fit(model, loss, opt, X, y, {.epochs = 3, .callbacks = {sched}, .verbose = 0});
  CHECK(h["lr"] == std::vector<double>{0.1, 0.05, 0.025});
  CHECK(opt.lr() == 0.025);
}

TEST_CASE("ScheduleCallback steps an optim::Schedule after each epoch") {
  const auto [X, y] = linear_problem(20);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  auto step =
      std::make_shared<nn::ScheduleCallback>(std::make_shared<tg::optim::StepLR>(opt, 1, 0.5));
  const nn::History h =
      nn::fit(model, loss, opt, X, y, {.epochs = 3, .callbacks = {step}, .verbose = 0});
  CHECK(h["lr"] == std::vector<double>{0.1, 0.05, 0.025});
  CHECK(opt.lr() == 0.0125);
}

TEST_CASE("ReduceLROnPlateau cuts the lr when the monitored loss stalls") {
  auto model = line();
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  nn::ReduceLROnPlateau plateau({.factor = 0.5, .patience = 1});
  drive(plateau, model, opt, {1.0, 0.5, 0.25});
  CHECK(opt.lr() == 0.1);                               // improving: untouched
  drive(plateau, model, opt, {1.0, 1.0, 1.0}, "loss");  // no val_loss: falls back to loss
  CHECK(opt.lr() < 0.1);
  // Through fit, on a run whose validation loss only grows.
  Diverging run;
  const double lr0 = run.opt.lr();
  const nn::History h = run.fit({std::make_shared<nn::ReduceLROnPlateau>(
                                    tg::optim::PlateauOptions{.factor = 0.1, .patience = 1})},
                                3);
  CHECK(h["lr"][0] == lr0);
  CHECK(run.opt.lr() < lr0);
}
