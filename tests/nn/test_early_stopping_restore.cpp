// EarlyStopping's restore_best_weights at the end of a run that did not stop (Keras 3): the
// model fit leaves is the best epoch's, and restored_epoch() says which.
#include <doctest/doctest.h>

#include "train_util.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
using tg_train::line;
using tg_train::linear_problem;

TEST_CASE("EarlyStopping restores the best weights at train end when patience never ran out") {
  // GD at lr 50 diverges: epoch 0 is the best, every later epoch is worse.
  const tg_train::Regression d = linear_problem(20);
  auto model = line();
  nn::MSE loss;
  tg::optim::GD opt{model.parameters(), {.lr = 50.0}};
  auto stop = std::make_shared<nn::EarlyStopping>(
      nn::EarlyStoppingOptions{.monitor = "loss", .patience = 10, .restore_best_weights = true});
  auto last = std::make_shared<nn::EarlyStopping>(nn::EarlyStoppingOptions{.patience = 10});
  const nn::History h = nn::fit(model, loss, opt, d.X, d.y,
                                {.epochs = 4,
                                 .validation_data = std::pair{d.X, d.y},
                                 .callbacks = {stop, last},
                                 .verbose = 0});
  CHECK(h.epochs == 4);
  CHECK(stop->stopped_epoch() == -1);
  CHECK(stop->best_epoch() == 0);
  CHECK(stop->restored_epoch() == 0);
  CHECK(last->restored_epoch() == -1);
  // The weights of the end of epoch 0: their loss is epoch 0's val_loss, not epoch 3's.
  CHECK(nn::evaluate(model, loss, d.X, d.y, 20) ==
        doctest::Approx(h["val_loss"][0]).epsilon(1e-12));
  CHECK(h["val_loss"][3] > h["val_loss"][0]);
}
