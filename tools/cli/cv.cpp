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
// in the series' own unit and the folds compare. --metrics mae,rmse adds each fold's
// validation metrics, in the same unit, as columns mean_NAME,std_NAME of the table and
// cv.csv (scikit-learn's multi-metric cv_results_); the choice stays by the MSE. --jobs
// runs folds and candidates on threads, with one BLAS thread each; the numbers do not
// change. Under mpirun (or srun) the ranks share the fits, each taking the next one as it
// becomes free, and rank 0 alone prints and writes: the same table and cv.csv, byte for
// byte, as one process gives. A rank not heard from for --timeout seconds ends the job.
//
// Each fit is appended to the journal <out>.journal as it finishes (one line, flushed to the
// system), after the flags and a fingerprint of the data that identify the search, so a search
// stopped by Ctrl-C or a kill keeps every fit it finished (under mpirun rank 0 writes it, told of
// each other rank's fit as it finishes). --resume reads it, refuses it (exit 2) when it was made by
// a search with other flags or data, and runs only the fits it lacks: the losses are read back
// exactly (printed shortest round-trip), and each fit is seeded by (seed, fold) alone, so the
// finished cv.csv equals a straight run's byte for byte. The journal is removed once cv.csv is
// written. --verbose 1 (the default) redraws a progress line (fits done / total, elapsed, time
// left) on a terminal, --verbose 2 prints a line per finished fit anywhere (scikit-learn's "[CV]
// END").
//
// Prints the cv_results_-like table, the best candidate (lowest mean) and the
// one-standard-error choice (the smallest within one std of the best), writes the table to
// -o (cv.csv) and, with --plot, the validation curve: mean +- std per size and the line
// best mean + std that the one-standard-error rule reads.
#include "command.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/core/append_file.hpp>
#include <tapegrad/core/hash.hpp>
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
  std::vector<std::string> metrics;  // --metrics: each fold's, beside the loss
  std::uint64_t seed = 0;
  int jobs = 1;
  std::string out = "cv.csv";
  std::string plot;
  tools::LineChartOptions chart;  // its size and dpi
  int verbose = 1;
  bool resume = false;
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
          .metrics = c.metrics,
          .jobs = c.jobs,
          .distributed = true,
          .verbose = c.verbose};
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

// ---- the journal: finished fits, for --resume ----
//
//   # tapegrad cv journal: the fits finished so far; `tapegrad cv ... --resume` skips them
//   # --cell: rnn
//   # ... (every flag that changes a loss, then the data's fingerprint)
//   candidate,units,fold,loss            (then a column per --metrics name)
//   0,2,1,0.012345678901234567

constexpr std::string_view kJournalTitle =
    "# tapegrad cv journal: the fits finished so far; `tapegrad cv ... --resume` skips them\n";
constexpr std::string_view kJournalHeader = "candidate,units,fold,loss";
// A journal of the most fits (--folds up to 10^6 per size) is some hundred MB.
constexpr std::uint64_t kMaxJournalBytes = std::uint64_t{1} << 30;

std::string journal_path(const CvConfig& c) {
  return c.out + ".journal";
}

// The samples' shapes and a hash of their values (their bits as doubles):
// a changed data file, column or window changes it.
std::string data_fingerprint(const Dataset& data) {
  Fnv1a hash;
  for (const Tensor& t : {data.X, data.y}) {
    const std::vector<double> values = t.to(f64).to_vector<double>();
    hash.add(values.data(), values.size() * sizeof(double));
  }
  return fmt::format("X {} y {} fnv1a {:016x}", data.X.shape(), data.y.shape(), hash.value());
}

// What identifies a search: the flags that change a loss or a journal row (--metrics), and the
// data. --jobs, --timeout and the number of ranks do not.
std::vector<std::pair<std::string, std::string>> search_identity(const CvConfig& c,
                                                                 const Dataset& data) {
  return {{"--cell", c.cell},
          {"--units", join_units(c.units)},
          {"--folds", std::to_string(c.folds)},
          {"--split", split_of(c)},
          {"--epochs", std::to_string(c.epochs)},
          {"--batch-size", std::to_string(c.batch_size)},
          {"--lr", fmt::format("{}", c.lr)},
          {"--seed", std::to_string(c.seed)},
          {"--metrics", c.metrics.empty() ? "none" : fmt::format("{}", fmt::join(c.metrics, ","))},
          {"data", data_fingerprint(data)}};
}

// "candidate,units,fold,loss", then the metrics' names.
std::string journal_header(const CvConfig& c) {
  std::string header(kJournalHeader);
  for (const std::string& m : c.metrics) header += "," + m;
  return header;
}

// The losses and metrics print as their shortest round trip: read back, the same doubles.
std::string journal_row(const CvConfig& c, const nn::TaskLoss& t) {
  std::string row = fmt::format("{},{},{},{}", t.candidate, c.units[t.candidate], t.fold, t.loss);
  for (double m : t.metrics) row += fmt::format(",{}", m);
  return row + "\n";
}

// The journal's text up to its first fit: the title, the identity, the header.
std::string journal_head(const CvConfig& c, const Dataset& data) {
  std::string text(kJournalTitle);
  for (const auto& [key, value] : search_identity(c, data)) {
    text += fmt::format("# {}: {}\n", key, value);
  }
  return text + journal_header(c) + "\n";
}

// A fit's row, "candidate,units,fold,loss" and its metrics, checked against this search;
// nothing when the line is not a row of it.
std::optional<nn::TaskLoss> parse_row(const CvConfig& c, std::string_view line) {
  std::vector<std::string_view> fields;
  for (std::size_t start = 0;;) {
    const std::size_t comma = line.find(',', start);
    fields.push_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (fields.size() != 4 + c.metrics.size()) return std::nullopt;
  nn::TaskLoss t;
  t.metrics.resize(c.metrics.size());
  int64_t units = 0;
  const auto read = [](std::string_view text, auto& value) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc{} && end == text.data() + text.size();
  };
  if (!read(fields[0], t.candidate) || !read(fields[1], units) || !read(fields[2], t.fold) ||
      !read(fields[3], t.loss)) {
    return std::nullopt;
  }
  for (std::size_t m = 0; m < t.metrics.size(); ++m) {
    if (!read(fields[4 + m], t.metrics[m])) return std::nullopt;
  }
  if (t.candidate >= c.units.size() || c.units[t.candidate] != units ||
      t.fold >= static_cast<std::size_t>(c.folds)) {
    return std::nullopt;
  }
  return t;
}

// The fits a journal's text holds, after checking that it was written by this search. A last
// line without its line feed (a kill in mid-write) is not a fit.
std::vector<nn::TaskLoss> read_journal(const CvConfig& c, const Dataset& data,
                                       std::string_view text) {
  const std::string path = journal_path(c);
  const auto fail = [&](int line, std::string_view what) {
    throw_error<IOError>("--resume: {}:{}: {}", tapegrad::quoted(path), line, what);
  };
  std::vector<std::string_view> lines;
  for (std::size_t end = text.find('\n'); end != std::string_view::npos; end = text.find('\n')) {
    lines.push_back(text.substr(0, end));
    text.remove_prefix(end + 1);
  }
  const auto identity = search_identity(c, data);
  if (lines.size() < identity.size() + 2 || std::string(lines[0]) + "\n" != kJournalTitle) {
    fail(1, "not a journal of tapegrad cv (delete it, or run without --resume to start over)");
  }
  for (std::size_t i = 0; i < identity.size(); ++i) {
    const auto& [key, value] = identity[i];
    const std::string prefix = fmt::format("# {}: ", key);
    const std::string_view line = lines[1 + i];
    if (!line.starts_with(prefix))
      fail(static_cast<int>(2 + i), fmt::format("expected {}", prefix));
    if (line.substr(prefix.size()) != value) {
      throw_error<ValueError>(
          "--resume: {} was made by a search with {} {}, this one has {} {}: give the flags "
          "and data it was started with, or run without --resume to start over",
          tapegrad::quoted(path), key, line.substr(prefix.size()), key, value);
    }
  }
  std::vector<nn::TaskLoss> fits;
  for (std::size_t i = identity.size() + 2; i < lines.size(); ++i) {
    const std::optional<nn::TaskLoss> fit = parse_row(c, lines[i]);
    if (!fit) {
      fail(static_cast<int>(i + 1), fmt::format("expected a fit of this search ({}), got {}",
                                                journal_header(c), tapegrad::quoted(lines[i])));
    }
    fits.push_back(*fit);
  }
  return fits;
}

// The fits an earlier run of this search finished (--resume), read by rank 0 and given to
// every rank, so that all skip the same ones; none without --resume or without a journal.
std::vector<nn::TaskLoss> resumed_fits(const CvConfig& c, const Dataset& data) {
  if (!c.resume) return {};
  std::string text;
  if (dist::is_root() && std::filesystem::exists(journal_path(c))) {
    text = read_regular_file("--resume", journal_path(c), kMaxJournalBytes);
  }
  dist::broadcast(text);
  return text.empty() ? std::vector<nn::TaskLoss>{} : read_journal(c, data, text);
}

// Rank 0's journal: begun anew with the fits resumed (dropping a half-written last line),
// then a line appended per fit as it finishes.
class Journal {
 public:
  Journal(const CvConfig& c, const Dataset& data, const std::vector<nn::TaskLoss>& resumed)
      : c_(c) {
    std::string text = journal_head(c, data);
    for (const nn::TaskLoss& t : resumed) text += journal_row(c, t);
    write_file_atomically("tapegrad cv", journal_path(c), text);
    file_ = std::make_unique<AppendFile>("tapegrad cv", journal_path(c));
  }
  void record(const nn::TaskLoss& t) { file_->append(journal_row(c_, t)); }

 private:
  const CvConfig& c_;
  std::unique_ptr<AppendFile> file_;
};

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
  tools::LineChartOptions chart = c.chart;
  chart.title = fmt::format("{}, {}: best {}, one-SE {}", layers.substr(0, layers.find('(')),
                            split_words(c), best.name, r.candidates[r.one_se].name);
  chart.x_label = "units";
  chart.y_label = c.data.path.empty() ? "validation MSE" : "validation MSE (series unit)";
  // Sizes double from one candidate to the next (8, 16, 32): equally spaced on a log2 axis.
  chart.log2_x = true;
  chart.non_negative = true;  // a mean squared error minus its std is no loss below 0
  tools::write_line_chart(c.plot, series, chart);
}

std::size_t fit_count(const CvConfig& c) {
  return c.units.size() * static_cast<std::size_t>(c.folds);
}

// The candidates, the data, the folds and, with --resume, the fits the journal held.
void print_setup(const CvConfig& c, const Dataset& data, std::size_t resumed) {
  fmt::print("Candidates: {} for u in {}; Adam lr {}, {} epochs, batch {}\nData: {}\n",
             layer_pattern(c), join_units(c.units), c.lr, c.epochs, c.batch_size, data.description);
  fmt::print("Folds: {}{}, seed {}, {} jobs{}\n", split_words(c), split_note(c), c.seed,
             jobs_used(c), ranks_note());
  if (c.resume && std::filesystem::exists(journal_path(c))) {
    fmt::print("Resumed: {} of {} fits from {}\n", resumed, fit_count(c), journal_path(c));
  } else if (c.resume) {
    fmt::print("Resumed: nothing, no {} (no fit had finished)\n", journal_path(c));
  }
  std::fflush(stdout);
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
  // Another search's journal is refused before anything is printed.
  const std::vector<nn::TaskLoss> resumed = resumed_fits(c, data);
  const bool root = dist::is_root();
  if (root) print_setup(c, data, resumed.size());

  std::vector<data::Scaler> scalers;
  nn::CVOptions opts = cv_options(c);
  if (series) {
    opts.preprocess = c.data.columns.empty() ? nn::min_max_per_fold(&scalers)
                                             : min_max_per_column_per_fold(c.data, &scalers);
  }
  opts.finished = resumed;
  std::optional<Journal> journal;
  if (root) {
    journal.emplace(c, data, resumed);
    opts.on_task_end = [&journal](const nn::TaskLoss& t) { journal->record(t); };
  }
  const auto t0 = std::chrono::steady_clock::now();
  const nn::GridSearchResult r = nn::grid_search(candidates(c), data.X, data.y, opts);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!root) return;  // every rank holds the same result; one prints and writes it

  if (series) {
    fmt::print(
        "Scalers fitted on each fold's training windows: {}\n{}: validation MSE{} in the "
        "series' unit (predictions scaled back by their fold's scaler)\n",
        scaler_ranges(scalers), c.metrics.empty() ? "Losses" : "Losses and metrics",
        c.metrics.empty() ? "" : fmt::format(", {}", fmt::join(c.metrics, ", ")));
  }
  fmt::print("{}", r.table());
  r.write_csv(c.out);
  journal.reset();
  std::filesystem::remove(journal_path(c));  // the search is complete: cv.csv holds it
  if (!c.plot.empty()) plot(c, r);
  fmt::print("Time: {:.2f} s for {} fits ({} jobs)\nWrote {}{}\n", seconds,
             fit_count(c) - resumed.size(), jobs_used(c), c.out,
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
  cmd->add_option("--metrics", c->metrics,
                  "Validation metrics of each fold beside the loss, comma-separated (--metrics "
                  "mae,rmse); in the table and cv.csv as mean_NAME,std_NAME after rank")
      ->delimiter(',')
      ->check(CLI::IsMember(nn::metric_names()).description(""))
      ->type_name(fmt::format("{}", fmt::join(nn::metric_names(), "|")));
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
  add_chart_flags(*cmd, c->chart);
  cmd->add_option("--verbose", c->verbose,
                  "0 quiet, 1 a progress line on a terminal, 2 a line per finished fit")
      ->check(integer_in(0, 2))
      ->type_name("N")
      ->capture_default_str();
  cmd->add_flag("--resume", c->resume,
                "Skip the fits an interrupted run of the same search finished (OUT.journal)");
  cmd->footer(
      "A series (--data) is split by time unless --split kfold says otherwise, and each fold\n"
      "scales it by the min and max of its own training windows: no validation value sets\n"
      "the scale. The losses are then in the series' unit, comparable across folds.\n"
      "The one-standard-error choice is the smallest size whose mean validation loss is\n"
      "within one std (over folds) of the best. With --jobs > 1 each fit uses one BLAS thread.\n"
      "Each finished fit goes to OUT.journal at once; after Ctrl-C or a kill, the same command\n"
      "with --resume runs only the fits left and writes the same cv.csv.\n"
      "Errors give one line on stderr and exit code 2.");
  return {cmd, [c] {
            run(*c);
            return 0;
          }};
}

}  // namespace tapegrad::cli
