// `tapegrad cv`: the hidden size by cross-validation (nn::grid_search).
//
//   tapegrad cv --units 8,16,32,64 --folds 5                  the reference data, k-fold
//   tapegrad cv --data series.csv --window 12 --units 4,8,16,32 --plot cv.svg
//
// Each --units value u is one candidate: the model `train` builds with one recurrent layer
// of u units (build_model({cell, {u}})) and Dense(1), complexity u. Every candidate is
// trained on the same folds with Adam (--lr) for --epochs and scored by the MSE on the
// fold's validation windows. Without --data the default --split kfold shuffles the samples
// into folds, right for independent samples such as the reference data; with --data the
// default is --split time (forward chaining: validate on later windows than any the model
// was trained on), and --split kfold must be asked for. With --data each fold fits its own
// min-max scaler on the values its training windows see and scales its training and
// validation windows with it (a scikit-learn Pipeline inside cross_validate: no validation
// value sets the scale); its predictions are scaled back, so every fold's validation MSE is
// in the series' own unit and the folds compare. --jobs runs folds and candidates on
// threads, with one BLAS thread each; the numbers do not change. Under mpirun (or srun) the
// ranks share the fits, each taking the next one as it becomes free, and rank 0 alone prints
// and writes: the same table and cv.csv, byte for byte, as one process gives. A rank not
// heard from for --timeout seconds ends the job.
//
// Prints the cv_results_-like table, the best candidate (lowest mean) and the
// one-standard-error choice (the smallest within one std of the best), writes the table to
// -o (cv.csv) and, with --plot, the validation curve: mean +- std per size and the line
// best mean + std that the one-standard-error rule reads.
#include "command.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/tapegrad.hpp>

#include "common.hpp"
#include "data.hpp"

namespace tapegrad::cli {
namespace {

struct CvConfig {
  std::string cell = "rnn";
  std::vector<int64_t> units{8, 16, 32, 64};
  int folds = 5;
  std::string split;  // empty: time with --data, kfold without
  DataConfig data;
  int epochs = 20;
  int64_t batch_size = 32;
  double lr = 1e-3;
  std::uint64_t seed = 0;
  int jobs = 1;
  std::string out = "cv.csv";
  std::string plot;
};

std::vector<nn::Candidate> candidates(const CvConfig& c) {
  std::vector<nn::Candidate> out;
  for (int64_t u : c.units) {
    const ModelConfig model{.cell = c.cell, .units = {u}};
    out.push_back({.name = fmt::format("units={}", u),
                   .complexity = static_cast<double>(u),
                   .make_model = [model, features = input_features(c.data)] {
                     return build_model(model, features);
                   }});
  }
  return out;
}

// --split, or the default: forward chaining for a series, whose shuffled folds would train on
// windows after the ones they validate; shuffled k-fold for the independent reference samples.
std::string split_of(const CvConfig& c) {
  if (!c.split.empty()) return c.split;
  return c.data.path.empty() ? "kfold" : "time";
}

nn::CVOptions cv_options(const CvConfig& c) {
  const double lr = c.lr;
  return {.folds = c.folds,
          .split = split_of(c) == "time" ? nn::SplitKind::time : nn::SplitKind::kfold,
          .seed = c.seed,
          .fit = {.epochs = c.epochs, .batch_size = c.batch_size, .verbose = 0},
          .optimizer =
              [lr](std::vector<Tensor> params) {
                return std::make_unique<optim::Adam>(params, optim::AdamOptions{.lr = lr});
              },
          .jobs = c.jobs,
          .distributed = true};
}

int jobs_used(const CvConfig& c) {
  const int jobs = c.jobs > 0 ? c.jobs : dist::cores_per_rank();
  return std::clamp(jobs, 1, static_cast<int>(c.units.size()) * c.folds);
}

// " on each of 3 ranks" under mpirun (the ranks share the tasks as they become free).
std::string ranks_note() {
  const int ranks = dist::world_size();
  return ranks > 1 ? fmt::format(" on each of {} ranks", ranks) : "";
}

std::string split_words(const CvConfig& c) {
  return fmt::format("{} {} folds", c.folds,
                     split_of(c) == "time" ? "time-series" : "shuffled k-fold");
}

// Why this split, where a series is concerned.
std::string split_note(const CvConfig& c) {
  if (c.data.path.empty()) return "";
  if (c.split.empty()) return " (the default for a series: --split kfold shuffles)";
  return c.split == "kfold" ? " (shuffled: folds train on windows after the ones they validate)"
                            : "";
}

// "fold_0 [104, 199], fold_1 [104, 237]": the range each fold's scaler was fitted on.
std::string scaler_ranges(const std::vector<data::Scaler>& fitted) {
  std::string text;
  for (std::size_t f = 0; f < fitted.size(); ++f) {
    text += fmt::format("{}fold_{} [{}, {}]", f ? ", " : "", f, fitted[f].data_min(),
                        fitted[f].data_max());
  }
  return text;
}

// "SimpleRNN(u) -> Dense(1)": every candidate, u its size.
std::string layer_pattern(const CvConfig& c) {
  std::string layers = describe_layers({.cell = c.cell, .units = {0}});
  return layers.replace(layers.find("(0)"), 3, "(u)");
}

// The validation curve: mean +- std per size, and the level the one-standard-error rule
// compares every mean with. A candidate whose training diverged (a mean or std that is not
// finite) has no point: the table shows it, ranked last.
void plot(const CvConfig& c, const nn::GridSearchResult& r) {
  tools::LineSeries curve{.label = "mean validation MSE +- std"};
  for (std::size_t i = 0; i < r.candidates.size(); ++i) {
    const nn::CandidateScore& s = r.candidates[i];
    if (!std::isfinite(s.mean) || !std::isfinite(s.std)) continue;
    curve.x.push_back(static_cast<double>(c.units[i]));
    curve.y.push_back(s.mean);
    curve.y_err.push_back(s.std);
  }
  std::vector<tools::LineSeries> series{curve};
  const nn::CandidateScore& best = r.candidates[r.best];
  const double level = best.mean + best.std;
  const auto [lo, hi] = std::minmax_element(c.units.begin(), c.units.end());
  if (std::isfinite(level)) {
    series.push_back({.label = "best mean + std",
                      .x = {static_cast<double>(*lo), static_cast<double>(*hi)},
                      .y = {level, level}});
  }
  const std::string layers = layer_pattern(c);
  tools::write_line_chart(
      c.plot, series,
      {.title = fmt::format("{}, {}: best {}, one-SE {}", layers.substr(0, layers.find('(')),
                            split_words(c), best.name, r.candidates[r.one_se].name),
       .x_label = "units",
       .y_label = c.data.path.empty() ? "validation MSE" : "validation MSE (series unit)"});
}

void run(const CvConfig& c) {
  // Everything that can be refused is refused before the long work: the chart's extension
  // here, the folds against the samples in grid_search before it trains.
  if (!c.plot.empty()) tools::check_chart_path(c.plot);
  // The fits are the parallel work: OpenBLAS's own thread pool serializes calls from several
  // threads, so with two jobs its two threads made the run no faster (2.3 s either way on
  // the airline data, 1.4 s with one BLAS thread per job).
  if (jobs_used(c) > 1) set_num_threads(1);
  manual_seed(c.seed);
  const bool series = !c.data.path.empty();
  const Dataset data = series ? raw_windows(c.data) : load_data(c.data);
  const bool root = dist::is_root();
  if (root) {
    fmt::print("Candidates: {} for u in {}; Adam lr {}, {} epochs, batch {}\nData: {}\n",
               layer_pattern(c), join_units(c.units), c.lr, c.epochs, c.batch_size,
               data.description);
    fmt::print("Folds: {}{}, seed {}, {} jobs{}\n", split_words(c), split_note(c), c.seed,
               jobs_used(c), ranks_note());
    std::fflush(stdout);
  }

  std::vector<data::Scaler> scalers;
  nn::CVOptions opts = cv_options(c);
  if (series) {
    opts.preprocess = c.data.columns.empty() ? nn::min_max_per_fold(&scalers)
                                             : min_max_per_column_per_fold(c.data, &scalers);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const nn::GridSearchResult r = nn::grid_search(candidates(c), data.X, data.y, opts);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!root) return;  // every rank holds the same result; one prints and writes it

  if (series) {
    fmt::print(
        "Scalers fitted on each fold's training windows: {}\nLosses: validation MSE in the "
        "series' unit (predictions scaled back by their fold's scaler)\n",
        scaler_ranges(scalers));
  }
  fmt::print("{}", r.table());
  r.write_csv(c.out);
  if (!c.plot.empty()) plot(c, r);
  fmt::print("Time: {:.2f} s for {} fits ({} jobs)\nWrote {}{}\n", seconds,
             c.units.size() * static_cast<std::size_t>(c.folds), jobs_used(c), c.out,
             c.plot.empty() ? "" : " and " + c.plot);
}

}  // namespace

Command add_cv_command(CLI::App& app) {
  auto c = std::make_shared<CvConfig>();
  CLI::App* cmd =
      app.add_subcommand("cv", "Choose the hidden size by cross-validation (table, cv.csv, chart)");
  cmd->add_option("--cell", c->cell, "Recurrent cell of the candidates")
      ->check(CLI::IsMember({"rnn", "lstm", "gru"}).description(""))
      ->type_name("rnn|lstm|gru")
      ->capture_default_str();
  add_list_option(*cmd, "--units", c->units,
                  "Candidate sizes of the recurrent layer, comma-separated", positive_integer())
      ->type_name("N,N,...")
      ->default_str("8,16,32,64");
  cmd->add_option("--folds", c->folds, "Cross-validation folds")
      ->check(integer_in(2, 1000000))
      ->type_name("K")
      ->capture_default_str();
  cmd->add_option("--split", c->split,
                  "kfold (shuffled) or time (forward chaining); default: time with --data, "
                  "kfold without")
      ->check(CLI::IsMember({"kfold", "time"}).description(""))
      ->type_name("kfold|time");
  add_data_flags(*cmd, c->data);
  cmd->add_option("--epochs", c->epochs, "Training epochs per fold")
      ->check(integer_in(1, 1000000))
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--batch-size", c->batch_size, "Samples per batch")
      ->check(integer_in(1, int64_t{1} << 40))
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--lr", c->lr, "Adam's learning rate")
      ->check(CLI::PositiveNumber.description(""))
      ->type_name("X")
      ->capture_default_str();
  cmd->add_option("--seed", c->seed, "Random seed (data, folds, initial weights, batch order)")
      ->check(unsigned_64())
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option(
         "--jobs", c->jobs,
         "Threads running the fits (0: one per core; BLAS then uses one each); same result")
      ->check(integer_in(0, 1024))
      ->type_name("N")
      ->capture_default_str();
  add_timeout_flag(*cmd);
  add_output_option(*cmd, c->out, "The table as CSV: name,complexity,fold_0..,mean,std,rank",
                    {.out_alias = true});
  add_file_to_write(*cmd, "--plot", c->plot,
                    "Validation curve (mean +- std per size): .svg, .png or .pdf");
  cmd->footer(
      "A series (--data) is split by time unless --split kfold says otherwise, and each fold\n"
      "scales it by the min and max of its own training windows: no validation value sets\n"
      "the scale. The losses are then in the series' unit, comparable across folds.\n"
      "The one-standard-error choice is the smallest size whose mean validation loss is\n"
      "within one std (over folds) of the best. With --jobs > 1 each fit uses one BLAS thread.\n"
      "Errors give one line on stderr and exit code 2.");
  return {cmd, [c] {
            run(*c);
            return 0;
          }};
}

}  // namespace tapegrad::cli
