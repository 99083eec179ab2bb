// Model selection: k-fold and time-series cross-validation, and a grid search over
// candidate models with scikit-learn's cv_results_ and the one-standard-error choice.
//
//   auto make = [] { return std::make_shared<tg::nn::Sequential>(...); };
//   tg::nn::CVResult r = tg::nn::cross_validate(make, X, y, {.folds = 5});
//   r.mean(), r.std(), r.fold_losses
//   tg::nn::GridSearchResult g = tg::nn::grid_search(candidates, X, y, {.jobs = 0});
//   std::cout << g.table();  g.write_csv("cv.csv");  g.candidates[g.one_se].name
//
// Splits are scikit-learn's: kfold_splits is KFold (fold sizes n / k, the first n % k one
// larger; with shuffle the sample order is a permutation drawn from Generator(seed), so the
// folds are tapegrad's own, not numpy's), time_series_splits is TimeSeriesSplit (forward
// chaining: validation blocks of n / (k + 1) samples at the end of the series, each trained
// on everything before it). Index lists are in ascending order, as scikit-learn yields them.
//
// Each (candidate, fold) pair is one task: a fresh model from make_model(), a fresh
// optimizer, fit on the fold's training rows, evaluate (the loss, batch_size of opts.fit)
// on its validation rows; opts.fit.mask and opts.fit.sample_weight (one row per sample of X)
// are split with X, so each fold trains and validates on its own rows of them. A task first seeds
// its thread's default generator from (opts.seed, fold), so the initial weights and batch order
// depend on nothing else: every candidate sees the same folds and the same random stream per fold,
// and the losses are bit for bit the same for any opts.jobs and any thread schedule.
//
// opts.jobs > 1 runs the tasks on that many std::threads, each pulling the next task index
// from a shared counter and recording on its own tape (tapes and default generators are per
// thread). make_model, opts.optimizer and opts.loss are then called from several threads at
// once: they must not share mutable state (a factory that builds a model from scratch is
// fine). fit callbacks (opts.fit.callbacks) keep state per run, so they are refused with
// jobs > 1, and fit's progress output is switched off there (lines from concurrent folds
// would interleave); with jobs = 1 it goes to opts.fit.out after a "<candidate> fold i/k"
// line. An exception in a task stops the handing out of new tasks and is rethrown on the
// calling thread once every started task has finished: the one of the lowest task index,
// the same a sequential run would throw. jobs = 1 runs on the calling thread and leaves its
// default generator in the state it was in. With jobs > 1, give BLAS one thread
// (tg::set_num_threads(1)): OpenBLAS's pool serializes calls from several threads, and two
// jobs on two cores ran no faster with two BLAS threads (tapegrad cv does this itself).
//
// opts.distributed = true spreads the tasks over the MPI ranks of the job (tg::dist; a no-op
// in a world of one), and over each rank's opts.jobs threads as above. Every rank calls
// cross_validate or grid_search with the same data and options. The tasks are handed out as
// ranks become free, not split in advance, since time-series folds grow: every thread of
// every rank takes the next task index from one dist::TaskCounter (rank 0 keeps the count).
// When all are done, each task's loss goes to every rank, bit for bit, so every rank returns
// the result one process gives with the same seed (each task is seeded by (seed, fold)
// alone, whoever runs it). A task's exception closes the counter on all ranks and, once the
// tasks handed out have ended, every rank throws the error of the lowest failed task: the
// original where it ran, one of the same type and message elsewhere. Only rank 0 prints fit's
// progress and "fold i/k" lines (for the tasks it runs); make_model and the fit callbacks of
// a rank see that rank's tasks alone (opts.preprocess still sees every fold on every rank).
// Waits between ranks are bounded (see dist::TaskCounter): a rank not heard from for
// dist::timeout() ends the search with a CommunicationError naming it, once the others have
// run the tasks they hold (a rank notices when it waits, not while it trains).
//
// Preprocessing that learns from the data (a scaler) must learn from each fold's training
// rows alone, or every validation fold has shaped its own input: opts.preprocess is called
// once per fold with that fold's training rows of X and y (scikit-learn's Pipeline inside
// cross_validate) and returns the fold's FoldTransform, applied to its training and
// validation rows. With a y_inverse the validation loss is taken in y's own unit, so the
// folds' losses compare although each fold has its own scale.
//
// Progress and resuming. opts.verbose shows the search's own progress on opts.out (only on
// rank 0 when distributed), as scikit-learn's GridSearchCV(verbose) does beside fit's:
//   1: "7/20 fits [==========>...................] - 12s - ETA: 21s", redrawn with '\r' after
//      each finished task on a terminal (the is_terminal of core/terminal.hpp) and ended by a
//      line feed; nothing elsewhere (a file, a pipe), as Keras's bar is redrawn on a terminal
//      alone. While fit prints its own progress (jobs 1, opts.fit.verbose), whose lines would
//      break into a line redrawn in place, a terminal gets verbose 2's lines instead.
//   2: scikit-learn's "Fitting 5 folds for each of 4 candidates, totalling 20 fits", then one
//      line per finished task, as its "[CV] END":
//      "[CV 2/5] END units=16: loss 0.01234 in 0.3s - 7/20 fits - 12s - ETA: 21s".
// The time left is the tasks left at the pace of the tasks run so far (in parallel: their
// count over the time since the search began). opts.on_task_end is called once per task run,
// as it finishes, with its candidate, fold and loss (bit for bit what the result holds): one
// call at a time, on the thread that ran it, so it may append to a file without a lock (the
// `tapegrad cv` journal, which a kill leaves holding every finished task); an exception it
// throws ends the search as the task's own would. opts.finished
// lists tasks done before, e.g. by an interrupted search: they are not run again and the
// result takes their losses as given, so a resumed search returns what one straight run
// returns (each task is seeded by (seed, fold) alone). A task listed twice, or outside the
// candidates and folds, is a ValueError. Distributed, every rank passes the same
// opts.finished (a ValueError otherwise). Rank 0's on_task_end and progress see every task as
// it finishes, whichever rank ran it (each rank reports a finished task to rank 0 at once,
// through dist::TaskCounter::report; rank 0 then calls on_task_end on the counter's service
// thread, still one call at a time), so a journal on rank 0 keeps every finished task of a
// killed search. Any other rank's on_task_end sees the tasks it runs as they finish and the
// other ranks' when the search ends (or stops at an error), when they are gathered: on every
// rank it sees every task once.
//
// Metrics beside the loss, as scikit-learn's multi-metric scoring: opts.metrics names metrics
// of nn/metrics.hpp ("mae", "rmse", ...), each computed per task on its validation rows,
// weighted and masked as the loss, and in the loss's unit (with a y_inverse, on the
// predictions mapped back, against the untransformed targets). They are kept per fold
// (CVResult::fold_metrics, CandidateScore::fold_metrics) and travel with the loss, bit for
// bit: TaskLoss::metrics in on_task_end and opts.finished (a finished task must hold one per
// metric, a ValueError otherwise), and between ranks. The ranking stays by the loss.
// opts.fit.metrics are fit's own logs of the training rows, not these.
//
// A fold whose loss is NaN or infinite (training diverged) makes its candidate's mean
// non-finite: such a candidate ranks last and is never chosen; if no candidate has a finite
// mean, there is nothing to choose and grid_search throws a ValueError saying so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <tapegrad/core/tensor.hpp>
#include <tapegrad/nn/data.hpp>
#include <tapegrad/nn/fit.hpp>
#include <tapegrad/nn/losses.hpp>
#include <tapegrad/nn/module.hpp>
#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::nn {

enum class SplitKind { kfold, time };

struct Fold {
  std::vector<int64_t> train, validation;  // sample indices along axis 0
};

// scikit-learn's KFold(n_splits=folds, shuffle, random_state); ValueError unless
// 2 <= folds <= n, and unless the folds' index lists (folds * n indices) fit in memory.
std::vector<Fold> kfold_splits(int64_t n, int folds, bool shuffle = true, std::uint64_t seed = 0);
// scikit-learn's TimeSeriesSplit(n_splits=folds); ValueError unless folds >= 2,
// n >= folds + 1 (each validation block needs a sample) and the index lists fit in memory.
std::vector<Fold> time_series_splits(int64_t n, int folds);

using ModelFactory = std::function<std::shared_ptr<Module>()>;
using OptimizerFactory =
    std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor> params)>;

// A preprocessing step fitted on one fold's training rows (see CVOptions::preprocess). An
// empty member is the identity; each must keep one row per sample.
struct FoldTransform {
  using Map = std::function<Tensor(const Tensor&)>;
  Map x;          // rows of X -> the model's input, training and validation rows alike
  Map y;          // training targets -> what the model learns
  Map y_inverse;  // the model's output -> y's unit: the validation loss is then taken there,
                  // against the untransformed targets (empty: against y(targets), in the
                  // unit of each fold's own transform)
};
// Called once per fold, in fold order, on the calling thread, before any training, with the
// fold's training rows of X and y; the FoldTransform's maps are then called from the task
// threads (with jobs > 1 they must not share mutable state).
using FoldPreprocess = std::function<FoldTransform(const Tensor& X_train, const Tensor& y_train)>;

// scikit-learn's Pipeline(MinMaxScaler, model) inside cross_validate, for windows of one
// series: each fold's data::Scaler is fitted on the values its training rows see (X and y
// together), scales its training and validation rows, and scales predictions back, so every
// fold's validation loss is in the series' own unit and the folds compare. Fitted on all rows
// instead, each validation fold would have set the range of its own inputs: a leak. When
// `fitted` is given, each fold's scaler is appended to it, in fold order.
FoldPreprocess min_max_per_fold(std::vector<data::Scaler>* fitted = nullptr);

// One (candidate, fold) task of a search, its validation loss and metrics.
struct TaskLoss {
  std::size_t candidate = 0;  // index into grid_search's candidates (0 in cross_validate)
  std::size_t fold = 0;
  double loss = 0;
  std::vector<double> metrics = {};  // one per CVOptions::metrics, in its order
};

struct CVOptions {
  int folds = 5;
  SplitKind split = SplitKind::kfold;
  bool shuffle = true;     // kfold only
  std::uint64_t seed = 0;  // fold order, and each fold's initial weights and batch order
  FitOptions fit = {.epochs = 10, .verbose = 0};  // {.epochs = 50} alone means verbose 1
  OptimizerFactory optimizer = {};                // empty: Adam with Keras defaults
  std::shared_ptr<const Loss> loss = {};          // empty: MSE
  std::vector<std::string> metrics = {};          // each fold's validation metrics (nn/metrics.hpp)
  int jobs = 1;  // threads running folds/candidates; 0: tg::dist::cores_per_rank()
  FoldPreprocess preprocess = {};  // fitted per fold on its training rows; empty: none
  bool distributed = false;        // spread the tasks over the MPI ranks (a no-op alone)
  int verbose = 0;  // the search's progress: 0 none, 1 a line redrawn on a terminal, 2 per task
  std::ostream* out = &std::cout;       // where that progress goes (nullptr: nowhere)
  std::vector<TaskLoss> finished = {};  // tasks done before (a resumed search): not run again
  std::function<void(const TaskLoss&)> on_task_end = {};  // each task run, as it finishes
};

struct CVResult {
  std::vector<double> fold_losses;  // validation loss (opts.loss, via evaluate) per fold
  // Each of opts.metrics by name: its value per fold, on the rows and in the unit of the loss.
  std::map<std::string, std::vector<double>> fold_metrics = {};
  double mean() const;
  double std() const;  // population std (ddof 0), as numpy / cv_results_
  // The same of a metric of opts.metrics; ValueError naming the metrics held otherwise.
  double mean(const std::string& metric) const;
  double std(const std::string& metric) const;
};

CVResult cross_validate(const ModelFactory& make_model, const Tensor& X, const Tensor& y,
                        const CVOptions& opts = {});

struct Candidate {
  std::string name;       // e.g. "units=16"
  double complexity = 0;  // smaller = simpler (e.g. units or parameter count), for one_se
  ModelFactory make_model;
};

struct CandidateScore {
  std::string name;
  double complexity;
  std::vector<double> fold_losses;
  double mean, std;
  int rank;  // 1 = lowest mean; ties share the smaller rank (method "min"); a NaN or infinite
             // mean ranks last (all such share the rank after the finite ones)
  // Each of opts.metrics by name, per fold (as CVResult's); they do not change the rank.
  std::map<std::string, std::vector<double>> fold_metrics = {};
  // The mean and population std over the folds of a metric; ValueError for one not held.
  double metric_mean(const std::string& metric) const;
  double metric_std(const std::string& metric) const;
};

struct GridSearchResult {
  std::vector<CandidateScore> candidates;  // in the order given
  std::size_t best;    // lowest finite mean validation loss (the first of equals)
  std::size_t one_se;  // simplest candidate with a finite mean <= best.mean + best.std
                       // (scikit-learn's "balance model complexity" example uses one std of
                       // the fold scores); best itself if no other qualifies
  // The metrics every candidate holds, in the order opts.metrics asked for them (from
  // rank_candidates: in the order of the names); a column pair each in table() and the CSV.
  std::vector<std::string> metrics = {};
  // A cv_results_-like table, then the two choices. table() and write_csv throw a ValueError
  // for a result without candidates or whose best or one_se is not one of them.
  std::string table() const;
  // name,complexity,fold_0..,mean,std,rank, then mean_<metric>,std_<metric> per metric
  // (atomically, like every file tapegrad writes).
  void write_csv(const std::string& path) const;
};

GridSearchResult grid_search(const std::vector<Candidate>& candidates, const Tensor& X,
                             const Tensor& y, const CVOptions& opts = {});

// The choice logic of grid_search on given scores: fills in mean, std and rank from each
// fold_losses, then best and one_se, and metrics from the first candidate's fold_metrics.
// ValueError for no candidates, a candidate without fold losses, candidates with other
// metrics or another number of folds for one, or no finite mean (every candidate's training
// diverged: nothing to choose from).
GridSearchResult rank_candidates(std::vector<CandidateScore> scores);

}  // namespace tapegrad::nn
