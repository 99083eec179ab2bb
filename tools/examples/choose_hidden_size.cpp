// Choosing the hidden size by cross-validation: tg::nn::grid_search over LSTM sizes on the
// airline passengers series, with time-series folds.
//
//   tapegrad run tools/examples/choose_hidden_size.cpp -- --units 4,8,16,32 --folds 5
//
// Why cross-validate: one validation split of a short series is a handful of months, and
// which size wins on it is partly luck. Each of k folds trains a fresh model and scores it
// on data it did not see; the mean says how good a size is, the spread how sure we can be.
// The folds are forward-chaining (scikit-learn's TimeSeriesSplit): the windows are cut into
// k + 1 blocks in time order, and fold i validates on block i + 1 after training on all the
// windows before it. So no model is scored on months earlier than some it trained on;
// shuffled k-fold would let a model learn from the future of the months it is scored on.
//
// grid_search returns scikit-learn's cv_results_ in a table: mean, std and rank of the
// validation loss per candidate, the best (lowest mean), and the one-standard-error choice:
// the smallest model whose mean is within one std of the best. The second is often the
// better pick: sizes that score within the noise of the best one are not worse, and the
// smaller needs less data and time.
//
// The data is prepared as in airline_forecast.cpp (see there why): windows of 12 monthly
// changes of log(passengers), the next change as the target, min-max scaled; here each fold
// fits its own scaler on its training windows (CVOptions::preprocess with nn::min_max_per_fold), as
// `tapegrad cv --data` does. The last 15% of the windows, airline_forecast's test months,
// are left out, so choosing a size here does not touch them.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <fmt/format.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

namespace {

constexpr int64_t kWindow = 12;

// What the command line sets (see main), with the defaults.
struct Args {
  std::string data = "tests/fixtures/airline-passengers.csv";
  std::vector<int64_t> units = {4, 8, 16, 32};
  int folds = 5;
  int epochs = 100;
  int jobs = 2;
  std::uint64_t seed = 0;
  std::string csv;
};

struct Windows {
  tg::Tensor X, y;
};

// Windows of the monthly log changes, without the last 15% (the test months of
// airline_forecast.cpp). Not scaled here: a scaler fitted on all of them would have seen
// every fold's validation months (see nn::min_max_per_fold).
Windows airline_windows(const std::string& path) {
  const tg::Tensor passengers = tg::data::read_csv_column(path, "passengers");
  const int64_t months = passengers.numel();
  const tg::Tensor log_p = tg::log(passengers);
  const tg::Tensor change = tg::slice(log_p, 0, 1, months) - tg::slice(log_p, 0, 0, months - 1);
  const auto [X, y] = tg::data::windows(change, kWindow);
  const int64_t windows = X.shape()[0];
  const int64_t kept = windows - windows * 15 / 100;
  return {tg::slice(X, 0, 0, kept).contiguous(), tg::slice(y, 0, 0, kept).contiguous()};
}

int run(const Args& args) {
  const Windows data = airline_windows(args.data);

  // A candidate is a name, a complexity for the one-SE rule (here the size itself), and a
  // factory: every fold needs a fresh, untrained model, so grid_search asks for one per
  // fold. The factory may run on several threads at once; it builds from scratch and
  // shares nothing, as it must.
  std::vector<tg::nn::Candidate> candidates;
  for (const int64_t units : args.units) {
    candidates.push_back({.name = fmt::format("units={}", units),
                          .complexity = static_cast<double>(units),
                          .make_model = [units]() -> std::shared_ptr<tg::nn::Module> {
                            return std::make_shared<tg::nn::Sequential>(tg::nn::LSTM(1, units),
                                                                        tg::nn::Dense(units, 1));
                          }});
  }

  const tg::nn::CVOptions opts{
      .folds = args.folds,
      .split = tg::nn::SplitKind::time,
      .shuffle = false,  // time-series folds keep the order anyway; said here for the reader
      .seed = args.seed,
      // verbose = 0 said outright: a FitOptions written as {.epochs = N} alone would mean
      // fit's default progress bar, once per fold and candidate.
      .fit = {.epochs = args.epochs, .batch_size = 16, .verbose = 0},
      .optimizer = [](std::vector<tg::Tensor> params) -> std::unique_ptr<tg::optim::Optimizer> {
        return std::make_unique<tg::optim::Adam>(std::move(params),
                                                 tg::optim::AdamOptions{.lr = 1e-2});
      },
      .loss = std::make_shared<tg::nn::MSE>(),
      .jobs = args.jobs,
      .preprocess = tg::nn::min_max_per_fold()};

  fmt::print("{} windows of {} monthly log changes, {} time-series folds, {} epochs each\n",
             data.X.shape()[0], kWindow, args.folds, args.epochs);
  fmt::print(
      "Each fold min-max scaled by its training windows; losses: validation MSE of the "
      "monthly log change\n");
  const tg::nn::GridSearchResult result = tg::nn::grid_search(candidates, data.X, data.y, opts);
  fmt::print("{}", result.table());
  // The table ends with both choices; the one-SE one is what this script recommends.
  fmt::print("use {}\n", result.candidates[result.one_se].name);
  if (!args.csv.empty()) {
    result.write_csv(args.csv);
    fmt::print("wrote {}\n", args.csv);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  tg::tools::ScriptArgs command_line(
      "choose_hidden_size",
      "Chooses the LSTM size for the airline series by time-series cross-validation.");
  command_line
      .option("--data", args.data, "the series, column 'passengers', from the working directory")
      .value_name("CSV");
  command_line.option("--units", args.units, "LSTM sizes to compare")
      .value_name("LIST")
      .range(1, 4096);
  command_line.option("--folds", args.folds, "time-series folds").value_name("K").range(2, 100);
  command_line.option("--epochs", args.epochs, "epochs per fold").range(1, 100000);
  command_line
      .option("--jobs", args.jobs, "threads running folds at once; the same result for any N")
      .range(1, 256);
  command_line.option("--seed", args.seed, "seed of every fold's initial weights and batch order");
  command_line.option("--csv", args.csv, "also write the table as CSV").value_name("PATH");
  if (const auto exit_code = command_line.parse(argc, argv)) return *exit_code;
  // A missing data file, or more folds than the windows allow, is the user's to fix: say
  // what is wrong (tapegrad's message names it), not abort.
  try {
    return run(args);
  } catch (const tg::Error& e) {
    fmt::print(stderr, "choose_hidden_size: {}\n", e.what());
    return 1;
  }
}
