// `tapegrad train --metrics`: the metrics beside the loss in the progress and as loss.csv
// columns, as Keras's compile(metrics=...) and CSVLogger show them.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cli_util.hpp"

using tg_test::contains;
using tg_test::lines_of;
using tg_test::quoted;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;

#ifdef TAPEGRAD_CLI

namespace {

const std::string kAirline = std::string(TAPEGRAD_TEST_DATA_DIR) + "/airline-passengers.csv";

}  // namespace

TEST_CASE("tapegrad train --metrics mae,rmse: in the progress and as loss.csv columns") {
  ScratchDir dir("cli-metrics");
  const Result r = tg_test::run(dir, "train --data " + quoted(kAirline) +
                                         " --window 6 --units 3 --epochs 2 --verbose 2 "
                                         "--validation-split 0.2 --metrics mae,rmse --out-dir " +
                                         quoted(dir / "run"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::vector<std::string> out = lines_of(r.out);
  bool shown = false;
  for (const std::string& line : out) {
    if (!line.starts_with("Epoch 2/2")) continue;
    shown = true;
    const auto at = [&](const char* key) { return line.find(key); };
    CHECK(at(" - loss: ") < at(" - mae: "));
    CHECK(at(" - mae: ") < at(" - rmse: "));
    CHECK(at(" - rmse: ") < at(" - val_loss: "));
    CHECK(at(" - val_loss: ") < at(" - val_mae: "));
    CHECK(at(" - val_mae: ") < at(" - val_rmse: "));
    CHECK(at(" - val_rmse: ") != std::string::npos);
  }
  CHECK_MESSAGE(shown, r.out);
  // The final line names the metrics of the weights written, in the same order.
  const auto final_line = std::find_if(out.begin(), out.end(), [](const std::string& line) {
    return line.starts_with("Final loss: ");
  });
  REQUIRE(final_line != out.end());
  CHECK(final_line->find(", mae: ") < final_line->find(", val_loss: "));
  CHECK(final_line->find(", val_loss: ") < final_line->find(", val_rmse: "));
  const std::vector<std::string> rows = lines_of(read_file(dir / "run/loss.csv"));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == "epoch,loss,val_loss,lr,mae,val_mae,rmse,val_rmse");
  CHECK(std::count(rows[2].begin(), rows[2].end(), ',') == 7);
  CHECK_FALSE(contains(rows[2], "NA"));
}

TEST_CASE("tapegrad train --metrics refuses an unknown metric, naming the known ones") {
  ScratchDir dir("cli-metrics");
  const Result r =
      tg_test::run(dir, "train --epochs 1 --metrics mae,mse --out-dir " + quoted(dir / "run"));
  CHECK(r.code == 2);
  CHECK(contains(r.err, "mse"));
  CHECK(contains(r.err, "mae"));
  CHECK(contains(r.err, "accuracy"));
}

#endif
