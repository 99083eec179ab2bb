// fit / evaluate / predict: learning, History, Keras's loss bookkeeping and validation
// split, full-batch GD, reproducible shuffling, the progress output, and a tape that
// evaluation leaves untouched.
#include <cctype>
#include <sstream>

#include <doctest/doctest.h>

#include "train_util.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
namespace data = tapegrad::data;
using tg_train::line;
using tg_train::linear_problem;

namespace {

// The lines of a progress output, each reduced to what stays on screen after its '\r's.
std::vector<std::string> screen_lines(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) lines.push_back(l.substr(l.rfind('\r') + 1));
  return lines;
}

// The line with every run of digits replaced by '#' and the step time unit by 's', so lines
// compare independently of timings and values. (Not std::regex: GCC 12 warns inside it
// under the sanitizer build.)
std::string pattern_of(const std::string& line) {
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) {
      out += line[i];
    } else if (out.empty() || out.back() != '#') {
      out += '#';
    }
  }
  for (const char* unit : {"#ms/step", "#us/step"}) {
    if (const auto at = out.find(unit); at != std::string::npos) out.replace(at, 8, "#s/step");
  }
  return out;
}

}  // namespace

TEST_CASE("fit lowers the loss of a tiny regression and fills History") {
  const auto [X, y] = linear_problem(64);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.3});
  const nn::History h =
      nn::fit(model, loss, opt, X, y, {.epochs = 30, .batch_size = 16, .verbose = 0});
  CHECK(h.epochs == 30);
  REQUIRE(h["loss"].size() == 30);
  CHECK(h["lr"] == std::vector<double>(30, 0.3));
  CHECK_FALSE(h.has("val_loss"));
  CHECK_THROWS_AS(h["val_loss"], tg::ValueError);
  CHECK(h["loss"].back() < 0.01 * h["loss"].front());
  CHECK(opt.iterations() == 30 * 4);
  CHECK(model.kernel.item() == doctest::Approx(3.0).epsilon(0.05));
  CHECK(model.is_training());
}

TEST_CASE("the epoch loss is the batch-size-weighted mean of the batch losses") {
  // lr 0: nothing moves, so every batch loss is taken at the same weights and the weighted
  // mean over 32, 32, 32, 4 samples must equal the loss over all 100 samples (an
  // unweighted mean of the four batch means would not).
  const auto [X, y] = linear_problem(100);
  auto model = line(0.5, 0.2);
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.0});
  const nn::History h = nn::fit(model, loss, opt, X, y, {.epochs = 2, .verbose = 0});
  const double all = nn::mse_loss(model(X), y).item();
  CHECK(h["loss"][0] == doctest::Approx(all).epsilon(1e-13));
  CHECK(h["loss"][1] == doctest::Approx(all).epsilon(1e-13));
  CHECK(nn::evaluate(model, loss, X, y) == doctest::Approx(all).epsilon(1e-13));
  CHECK(nn::evaluate(model, loss, X, y, 7) == doctest::Approx(all).epsilon(1e-13));
}

TEST_CASE("validation_split validates on the last samples and trains on the rest") {
  const auto [X, y] = linear_problem(64);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  const nn::History h =
      nn::fit(model, loss, opt, X, y,
              {.epochs = 3, .batch_size = 16, .validation_split = 0.25, .verbose = 0});
  REQUIRE(h["val_loss"].size() == 3);
  CHECK(opt.iterations() == 3 * 3);  // 48 training samples: 3 batches of 16
  const data::Split s = data::split_last(X, y, 0.25);
  CHECK(h["val_loss"].back() ==
        doctest::Approx(nn::evaluate(model, loss, s.X_test, s.y_test)).epsilon(1e-13));
  CHECK(h["val_loss"].back() != doctest::Approx(nn::evaluate(model, loss, s.X_train, s.y_train)));
}

TEST_CASE("validation_data takes precedence over validation_split") {
  const auto [X, y] = linear_problem(40);
  const auto [Xv, yv] = linear_problem(10, tg::f64, 1);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  const nn::History h = nn::fit(model, loss, opt, X, y,
                                {.epochs = 2,
                                 .batch_size = 8,
                                 .validation_split = 0.5,
                                 .validation_data = std::pair{Xv, yv},
                                 .verbose = 0});
  CHECK(opt.iterations() == 2 * 5);  // all 40 samples train
  CHECK(h["val_loss"].back() == doctest::Approx(nn::evaluate(model, loss, Xv, yv)).epsilon(1e-13));
}

TEST_CASE("GD takes one full-batch step per epoch (batch gradient descent)") {
  const auto [X, y] = linear_problem(100);
  auto model = line();
  nn::MSE loss;
  const double initial = nn::evaluate(model, loss, X, y);
  tg::optim::GD opt(model.parameters(), {.lr = 0.5});
  const nn::History h =
      nn::fit(model, loss, opt, X, y, {.epochs = 5, .batch_size = 8, .verbose = 0});
  CHECK(opt.iterations() == 5);
  // The first epoch's loss is the whole set's loss before the first step.
  CHECK(h["loss"][0] == doctest::Approx(initial).epsilon(1e-13));
  CHECK(h["loss"][4] < h["loss"][0]);
}

TEST_CASE("shuffled fits are reproducible from manual_seed; shuffle changes the result") {
  const auto [X, y] = linear_problem(50);
  const auto run = [&](bool shuffle, std::uint64_t seed) {
    auto model = line();
    nn::MSE loss;
    tg::optim::SGD opt(model.parameters(), {.lr = 0.2});
    tg::manual_seed(seed);
    return nn::fit(model, loss, opt, X, y,
                   {.epochs = 3, .batch_size = 8, .verbose = 0, .shuffle = shuffle})["loss"];
  };
  CHECK(run(true, 4) == run(true, 4));
  CHECK(run(true, 4) != run(true, 5));
  CHECK(run(false, 4) == run(false, 5));
  CHECK(run(true, 4) != run(false, 4));
}

TEST_CASE("evaluate and predict record nothing and restore the module's mode") {
  const auto [X, y] = linear_problem(20);
  auto model = line(2.0, 1.0);
  nn::MSE loss;
  const std::size_t before = tg::Tape::current().size();
  const double l = nn::evaluate(model, loss, X, y, 6);
  const tg::Tensor p = nn::predict(model, X, 7);
  CHECK(tg::Tape::current().size() == before);
  CHECK_FALSE(p.requires_grad());
  CHECK(p.shape() == tg::Shape{20, 1});
  CHECK(p.to_vector<double>() == (2.0 * X + 1.0).to_vector<double>());
  CHECK(l == doctest::Approx(nn::mse_loss(p, y).item()).epsilon(1e-13));
  CHECK(model.is_training());
  model.eval();
  (void)nn::predict(model, X);
  CHECK_FALSE(model.is_training());
  // A loss that does not reduce to a scalar cannot be evaluated.
  CHECK_THROWS_AS(nn::evaluate(model, nn::MSE(nn::Reduction::none), X, y), tg::ValueError);
  CHECK_FALSE(model.is_training());  // restored on the error path too
  CHECK(tg::Tape::current().size() == before);
}

TEST_CASE("fit rejects bad options and data") {
  const auto [X, y] = linear_problem(10);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters());
  CHECK_THROWS_AS(nn::fit(model, loss, opt, X, y, {.batch_size = 0, .verbose = 0}), tg::ValueError);
  CHECK_THROWS_AS(nn::fit(model, loss, opt, X, y, {.verbose = 3}), tg::ValueError);
  CHECK_THROWS_AS(nn::fit(model, loss, opt, X, y, {.validation_split = 1.0, .verbose = 0}),
                  tg::ValueError);
  CHECK_THROWS_AS(nn::fit(model, loss, opt, X, tg::zeros({9, 1}, tg::f64), {.verbose = 0}),
                  tg::ShapeError);
  CHECK_THROWS_AS(nn::fit(model, loss, opt, X, tg::zeros({10}, tg::f64), {.verbose = 0}),
                  tg::ShapeError);  // (B, 1) predictions vs (B) targets
  CHECK_THROWS_AS(
      nn::fit(model, loss, opt, X, y,
              {.validation_data = std::pair{X, tg::zeros({3, 1}, tg::f64)}, .verbose = 0}),
      tg::ShapeError);
  CHECK(opt.iterations() == 0);
}

TEST_CASE("verbose 1 on a terminal: a Keras progress bar per epoch, redrawn with \\r per batch") {
  const auto [X, y] = linear_problem(100);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  std::ostringstream out;
  const auto terminal_bar = std::make_shared<nn::ProgbarLogger>(1, out, /*redraw=*/true);
  const nn::History h =
      nn::fit(model, loss, opt, X, y,
              {.epochs = 2, .validation_split = 0.2, .callbacks = {terminal_bar}, .verbose = 0});
  const std::string text = out.str();
  // 80 training samples: 3 batches; the first draw shows 1/3 and a partial bar.
  CHECK(text.find("Epoch 1/2\n\r1/3 [=========>....................] - ETA: ") !=
        std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\r') == 2 * 4);  // 3 batch draws + final
  const auto lines = screen_lines(text);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "Epoch 1/2");
  CHECK(lines[2] == "Epoch 2/2");
  const std::string done =
      "#/# [" + std::string(30, '=') + "] - #s #s/step - loss: #.# - val_loss: #.#";
  CHECK(pattern_of(lines[1]) == done);
  CHECK(pattern_of(lines[3]) == done);
  CHECK(lines[1].find("3/3 [") == 0);
  CHECK(lines[3].find(fmt::format("loss: {:.4f} - val_loss: {:.4f}", h["loss"][1],
                                  h["val_loss"][1])) != std::string::npos);
}

TEST_CASE("verbose 1 elsewhere (a file, a pipe, a string): the finished bar once per epoch") {
  const auto [X, y] = linear_problem(100);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  std::ostringstream out;
  const nn::History h =
      nn::fit(model, loss, opt, X, y, {.epochs = 3, .validation_split = 0.2, .out = &out});
  const std::string text = out.str();
  CHECK(text.find('\r') == std::string::npos);
  const auto lines = screen_lines(text);
  REQUIRE(lines.size() == 6);
  CHECK(lines[0] == "Epoch 1/3");
  CHECK(pattern_of(lines[1]) ==
        "#/# [" + std::string(30, '=') + "] - #s #s/step - loss: #.# - val_loss: #.#");
  CHECK(lines[5].find(fmt::format("loss: {:.4f}", h["loss"][2])) != std::string::npos);
}

TEST_CASE("verbose 2 prints one line per epoch; verbose 0 nothing") {
  const auto [X, y] = linear_problem(40);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  std::ostringstream out;
  const nn::History h = nn::fit(model, loss, opt, X, y, {.epochs = 3, .verbose = 2, .out = &out});
  const auto lines = screen_lines(out.str());
  REQUIRE(lines.size() == 3);
  CHECK(out.str().find('\r') == std::string::npos);
  CHECK(pattern_of(lines[0]) == "Epoch #/# - #s - loss: #.#");
  CHECK(lines[0].find("Epoch 1/3 - ") == 0);
  CHECK(lines[2].find(fmt::format("Epoch 3/3 - ")) == 0);
  CHECK(lines[2].find(fmt::format("loss: {:.4f}", h["loss"][2])) != std::string::npos);
  std::ostringstream silent;
  (void)nn::fit(model, loss, opt, X, y, {.epochs = 2, .verbose = 0, .out = &silent});
  CHECK(silent.str().empty());
}

TEST_CASE("small losses print in scientific notation, as Keras does") {
  const auto [X, y] = linear_problem(10);
  auto model = line(3.0, 1.001);  // loss 1e-6
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.0});
  std::ostringstream out;
  (void)nn::fit(model, loss, opt, X, y, {.epochs = 1, .verbose = 2, .out = &out});
  CHECK(out.str().find("loss: 1.0000e-06") != std::string::npos);
}

TEST_CASE("the progress shows metrics in Keras's order: loss, metrics, val_loss, val_ metrics") {
  const auto [X, y] = linear_problem(40);
  auto model = line();
  nn::MSE loss;
  tg::optim::SGD opt(model.parameters(), {.lr = 0.1});
  std::ostringstream out;
  const nn::History h = nn::fit(model, loss, opt, X, y,
                                {.epochs = 2,
                                 .validation_split = 0.25,
                                 .metrics = {"mae", "rmse"},
                                 .verbose = 2,
                                 .out = &out});
  const auto lines = screen_lines(out.str());
  REQUIRE(lines.size() == 2);
  CHECK(pattern_of(lines[1]) ==
        "Epoch #/# - #s - loss: #.# - mae: #.# - rmse: #.# - val_loss: #.# - val_mae: #.# - "
        "val_rmse: #.#");
  CHECK(lines[1].find(fmt::format("loss: {:.4f} - mae: {:.4f} - rmse: {:.4f} - val_loss: {:.4f} "
                                  "- val_mae: {:.4f}",
                                  h["loss"][1], h["mae"][1], h["rmse"][1], h["val_loss"][1],
                                  h["val_mae"][1])) != std::string::npos);

  // On a terminal the bar redrawn after each batch shows the running metrics too.
  std::ostringstream terminal;
  const auto bar = std::make_shared<nn::ProgbarLogger>(1, terminal, /*redraw=*/true);
  (void)nn::fit(model, loss, opt, X, y,
                {.epochs = 1, .metrics = {"mae"}, .callbacks = {bar}, .verbose = 0});
  const std::string text = terminal.str();
  const std::size_t first = text.find('\r') + 1;
  const std::string first_draw = text.substr(first, text.find('\r', first) - first);
  CAPTURE(first_draw);
  CHECK(pattern_of(first_draw).ends_with("] - ETA: #s - loss: #.# - mae: #.#"));
}
