// Cross-validation splits, the task runner behind cross_validate and grid_search, and the
// cv_results_-like summary; see model_selection.hpp.
#include <tapegrad/nn/model_selection.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <iterator>
#include <mutex>
#include <numeric>
#include <ostream>
#include <string_view>
#include <thread>

#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/core/atomic_file.hpp>
#include <tapegrad/core/csv.hpp>
#include <tapegrad/core/dist.hpp>
#include <tapegrad/core/error.hpp>
#include <tapegrad/core/hash.hpp>
#include <tapegrad/core/random.hpp>
#include <tapegrad/core/terminal.hpp>
#include <tapegrad/nn/data.hpp>
#include <tapegrad/nn/metrics.hpp>
#include <tapegrad/nn/tasks.hpp>
#include <tapegrad/ops/shape.hpp>
#include <tapegrad/optim/adam.hpp>

namespace tapegrad::nn {
namespace {

void check_folds(const char* who, int64_t n, int folds) {
  if (folds < 2) {
    throw_error<ValueError>("{}: folds must be >= 2 (one trains, one validates), got {}", who,
                            folds);
  }
  if (n < folds) {
    throw_error<ValueError>(
        "{}: {} samples are fewer than folds = {}: give more data or fewer folds", who, n, folds);
  }
}

void check_time_folds(const char* who, int64_t n, int folds) {
  check_folds(who, n, folds);
  if (n < folds + 1) {
    throw_error<ValueError>(
        "{}: a time split of {} samples into {} folds leaves no validation data (validation "
        "blocks hold n / (folds + 1) = 0 samples): give at least {} samples or fewer folds",
        who, n, folds, folds + 1);
  }
}

// The machine's physical memory in bytes; infinity where the system does not say.
double physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return INFINITY;
  return static_cast<double>(pages) * static_cast<double>(page_size);
}

// Refuses splits whose index lists (`indices` int64s over all folds) could not be held, up
// front: building them one index at a time would run for minutes before std::bad_alloc.
void check_materialisable(const char* who, int64_t n, int folds, double indices) {
  const double bytes = indices * sizeof(int64_t), memory = physical_memory();
  if (bytes > memory) {
    throw_error<ValueError>(
        "{}: {} folds of {} samples need {:.3g} sample indices ({:.3g} GB), more than this "
        "machine's memory ({:.3g} GB): give fewer samples or fewer folds",
        who, folds, n, indices, bytes / 1e9, memory / 1e9);
  }
}

// The samples of [0, n) not in `validation`, which is sorted.
std::vector<int64_t> complement(int64_t n, const std::vector<int64_t>& validation) {
  std::vector<int64_t> out;
  out.reserve(static_cast<std::size_t>(n) - validation.size());
  auto v = validation.begin();
  for (int64_t i = 0; i < n; ++i) {
    if (v != validation.end() && *v == i) {
      ++v;
    } else {
      out.push_back(i);
    }
  }
  return out;
}

std::vector<Fold> make_folds(const char* who, int64_t n, const CVOptions& opts) {
  if (opts.split == SplitKind::time) {
    check_time_folds(who, n, opts.folds);
    return time_series_splits(n, opts.folds);
  }
  check_folds(who, n, opts.folds);
  return kfold_splits(n, opts.folds, opts.shuffle, opts.seed);
}

// What one task measured: its validation loss and metrics (one per CVOptions::metrics).
struct Scores {
  double loss = 0;
  std::vector<double> metrics;
};

using Outcome = TaskOutcome<Scores>;

// Ends a task's fit once another rank has fallen silent (dist::TaskCounter::check), so that
// a rank that stopped ends the search within the timeout, not after every task left has run.
class EndIfRankSilent final : public Callback {
 public:
  explicit EndIfRankSilent(const dist::TaskCounter& counter) : counter_(counter) {}
  void on_batch_end(int64_t /*batch*/, const Logs& /*logs*/) override { counter_.check(); }

 private:
  const dist::TaskCounter& counter_;
};

// The types a task's error keeps when it travels to the other ranks, most derived first; any
// other exception arrives as a std::runtime_error with its message.
template <class E>
bool is_a(const std::exception* e) {
  return dynamic_cast<const E*>(e) != nullptr;
}
template <class E>
[[noreturn]] void throw_as(const std::string& message) {
  throw E(message);
}
struct ErrorType {
  bool (*is)(const std::exception*);
  void (*raise)(const std::string&);
};
constexpr ErrorType kErrorTypes[] = {
    {is_a<dist::CommunicationError>, throw_as<dist::CommunicationError>},
    {is_a<ShapeError>, throw_as<ShapeError>},
    {is_a<DTypeError>, throw_as<DTypeError>},
    {is_a<ValueError>, throw_as<ValueError>},
    {is_a<IOError>, throw_as<IOError>},
    {is_a<AutogradError>, throw_as<AutogradError>},
    {is_a<Error>, throw_as<Error>},
    {is_a<std::exception>, throw_as<std::runtime_error>},
};
constexpr std::uint8_t kNoError = std::size(kErrorTypes);

// The index in kErrorTypes of `error`'s type, and its message.
std::pair<std::uint8_t, std::string> describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    std::uint8_t type = 0;
    while (!kErrorTypes[type].is(&e)) ++type;
    return {type, e.what()};
  } catch (...) {
    return {kNoError - 1, "a task threw an exception that is not a std::exception"};
  }
}

template <class T>
void write_raw(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <class T>
T read_raw(std::string_view& in) {
  T value;
  std::memcpy(&value, in.data(), sizeof value);
  in.remove_prefix(sizeof value);
  return value;
}

// A task's index and scores as bytes for the other ranks, bit for bit.
void write_task(std::string& out, std::size_t i, const Scores& scores) {
  write_raw(out, static_cast<std::uint64_t>(i));
  write_raw(out, scores.loss);
  write_raw(out, static_cast<std::uint64_t>(scores.metrics.size()));
  for (double m : scores.metrics) write_raw(out, m);
}

// What write_task wrote: the task's index, its scores into `scores`.
std::size_t read_task(std::string_view& in, Scores& scores) {
  const auto i = read_raw<std::uint64_t>(in);
  scores.loss = read_raw<double>(in);
  scores.metrics.resize(read_raw<std::uint64_t>(in));
  for (double& m : scores.metrics) m = read_raw<double>(in);
  return i;
}

// The tasks this rank ran, as bytes for the others: index and scores, error type (kNoError:
// none) and message, per task.
std::string encode(const std::vector<Outcome>& outcomes) {
  std::string out;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (!outcomes[i].ran_here) continue;
    const auto [type, message] =
        outcomes[i].error ? describe(outcomes[i].error) : std::pair{kNoError, std::string()};
    write_task(out, i, outcomes[i].result);
    write_raw(out, type);
    write_raw(out, static_cast<std::uint64_t>(message.size()));
    out += message;
  }
  return out;
}

// Every task's scores, from the outcomes of every rank (`counter` gathers them). Each task
// another rank finished goes to `arrived` (index, scores), in index order; then the error of
// the lowest failed task is thrown on every rank: its own exception where it ran, an
// exception of the same type and message elsewhere.
std::vector<Scores> share_outcomes(dist::TaskCounter& counter, const std::vector<Outcome>& outcomes,
                                   const std::function<void(std::size_t, const Scores&)>& arrived) {
  std::vector<Scores> scores(outcomes.size());
  std::vector<std::pair<std::uint8_t, std::string>> errors(outcomes.size(), {kNoError, ""});
  std::vector<bool> ran(outcomes.size());  // by some rank: a closed counter leaves tasks unrun
  for (const std::string& bytes : counter.finish(encode(outcomes))) {
    for (std::string_view in = bytes; !in.empty();) {
      Scores task;
      const std::size_t i = read_task(in, task);
      ran[i] = true;
      scores[i] = std::move(task);
      errors[i].first = read_raw<std::uint8_t>(in);
      const auto size = read_raw<std::uint64_t>(in);
      errors[i].second = std::string(in.substr(0, size));
      in.remove_prefix(size);
    }
  }
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (ran[i] && !outcomes[i].ran_here && errors[i].first == kNoError) arrived(i, scores[i]);
  }
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i].error) std::rethrow_exception(outcomes[i].error);
    if (errors[i].first != kNoError) kErrorTypes[errors[i].first].raise(errors[i].second);
  }
  return scores;
}

struct Data {
  Tensor X, y;
  std::vector<Fold> folds;
  std::vector<FoldTransform> transforms;  // one per fold (the identity without preprocess)
};

// Each fold's preprocessing, fitted on its training rows alone.
std::vector<FoldTransform> fit_transforms(const FoldPreprocess& preprocess, const Tensor& X,
                                          const Tensor& y, const std::vector<Fold>& folds) {
  std::vector<FoldTransform> out(folds.size());
  if (!preprocess) return out;
  for (std::size_t f = 0; f < folds.size(); ++f) {
    out[f] = preprocess(data::take(X, folds[f].train), data::take(y, folds[f].train));
  }
  return out;
}

// map(rows), or rows without a map; a map must keep one row per sample.
Tensor apply(const char* who, const char* name, const FoldTransform::Map& map, const Tensor& rows) {
  if (!map) return rows;
  const Tensor out = map(rows);
  if (!out.defined() || out.dim() < 1 || out.shape()[0] != rows.shape()[0]) {
    throw_error<ValueError>(
        "{}: opts.preprocess's {} map turned rows {} into {}: it must keep one row per sample", who,
        name, rows.shape(), out.defined() ? fmt::format("{}", out.shape()) : "nothing");
  }
  return out;
}

// A model whose output is mapped back to y's unit, so that the loss and the metrics of
// its validation rows are taken there, against targets in y's unit. Its child, the model,
// follows it into eval mode.
class InTargetUnit final : public Module {
 public:
  InTargetUnit(std::shared_ptr<Module> model, const FoldTransform::Map& y_inverse)
      : model_(register_module("model", std::move(model))), y_inverse_(y_inverse) {}
  Tensor forward(const Tensor& x) override { return y_inverse_((*model_)(x)); }
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override {
    return y_inverse_((*model_)(x, mask));
  }
  std::string type_name() const override { return "InTargetUnit"; }

 private:
  std::shared_ptr<Module> model_;
  const FoldTransform::Map& y_inverse_;
};

// The metric names of opts.metrics, refused before any training when unknown or repeated.
void check_metrics(const char* who, const std::vector<std::string>& metrics) {
  for (const std::string& name : metrics) {
    if (std::count(metrics.begin(), metrics.end(), name) > 1) {
      throw_error<ValueError>("{}: opts.metrics names '{}' twice", who, name);
    }
    try {
      (void)make_metric(name);
    } catch (const ValueError& e) {
      throw_error<ValueError>("{}: opts.metrics: {}", who, e.what());
    }
  }
}

Data prepare(const char* who, const Tensor& X, const Tensor& y, const CVOptions& opts) {
  check_defined(who, X);
  check_defined(who, y);
  if (X.dim() < 1 || y.dim() < 1 || X.shape()[0] != y.shape()[0]) {
    throw_error<ValueError>("{}: X {} and y {} must hold the same number of samples along axis 0",
                            who, X.shape(), y.shape());
  }
  for (const auto& [name, per_sample] :
       {std::pair{"opts.fit.mask", opts.fit.mask},
        std::pair{"opts.fit.sample_weight", opts.fit.sample_weight}}) {
    if (per_sample.defined() && (per_sample.dim() < 1 || per_sample.shape()[0] != X.shape()[0])) {
      throw_error<ValueError>("{}: {} has shape {}, expected one row per sample of X {}", who, name,
                              per_sample.shape(), X.shape());
    }
  }
  check_metrics(who, opts.metrics);
  Data d{X.contiguous(), y.contiguous(), make_folds(who, X.shape()[0], opts), {}};
  d.transforms = fit_transforms(opts.preprocess, d.X, d.y, d.folds);
  return d;
}

// The fit options of every task: fit's progress only where it cannot interleave (one thread)
// and on the rank that prints.
FitOptions task_fit_options(const char* who, const CVOptions& opts, int threads) {
  FitOptions fit = opts.fit;
  if (threads > 1 && !fit.callbacks.empty()) {
    throw_error<ValueError>(
        "{}: fit callbacks keep state per run and would be shared by {} concurrent folds: "
        "use jobs = 1 with callbacks",
        who, threads);
  }
  if (threads > 1 || (opts.distributed && !dist::is_root())) {
    fit.verbose = 0;
    fit.out = nullptr;
  }
  return fit;
}

// The rows of a per-sample tensor (a mask, sample weights), or undefined if it is.
Tensor rows_of(const Tensor& per_sample, const std::vector<int64_t>& rows) {
  return per_sample.defined() ? data::take(per_sample, rows) : Tensor{};
}

// fit's options for a fold's training rows: opts.fit's mask and sample weights are per
// sample of X, so each fold trains on its own rows of them.
FitOptions fold_fit_options(const FitOptions& fit_opts, const std::vector<int64_t>& train) {
  FitOptions fold = fit_opts;
  fold.mask = rows_of(fit_opts.mask, train);
  fold.sample_weight = rows_of(fit_opts.sample_weight, train);
  return fold;
}

// One (candidate, fold) task: a fresh model and optimizer, seeded by the fold alone.
Scores run_fold(const char* who, const Candidate& candidate, const Data& d, std::size_t fold,
                const CVOptions& opts, const FitOptions& fit_opts, const Loss& loss) {
  default_generator().seed_(task_seed(opts.seed, fold));
  if (fit_opts.verbose > 0 && fit_opts.out) {
    const std::string prefix = candidate.name.empty() ? "" : candidate.name + " ";
    *fit_opts.out << fmt::format("{}fold {}/{}\n", prefix, fold + 1, d.folds.size());
  }
  const std::shared_ptr<Module> model = candidate.make_model();
  if (!model) {
    throw_error<ValueError>(
        "{}: make_model(){} returned no model", who,
        candidate.name.empty() ? "" : " of " + tapegrad::quoted(candidate.name));
  }
  const std::vector<Tensor> params = model->parameters();
  std::unique_ptr<optim::Optimizer> opt =
      opts.optimizer ? opts.optimizer(params) : std::make_unique<optim::Adam>(params);
  if (!opt) {
    throw_error<ValueError>("{}: the optimizer factory returned no optimizer", who);
  }
  const Fold& f = d.folds[fold];
  const FoldTransform& t = d.transforms[fold];
  fit(*model, loss, *opt, apply(who, "x", t.x, data::take(d.X, f.train)),
      apply(who, "y", t.y, data::take(d.y, f.train)), fold_fit_options(fit_opts, f.train));

  const Tensor X_val = apply(who, "x", t.x, data::take(d.X, f.validation));
  const Tensor y_val = data::take(d.y, f.validation);
  const Tensor mask = rows_of(fit_opts.mask, f.validation);
  const Tensor weight = rows_of(fit_opts.sample_weight, f.validation);
  Logs logs;
  if (t.y_inverse) {
    InTargetUnit in_target_unit(model, t.y_inverse);
    logs = evaluate_metrics(in_target_unit, loss, X_val, y_val, opts.metrics, fit_opts.batch_size,
                            mask, weight);
  } else {
    logs = evaluate_metrics(*model, loss, X_val, apply(who, "y", t.y, y_val), opts.metrics,
                            fit_opts.batch_size, mask, weight);
  }
  Scores scores{.loss = logs.at("loss"), .metrics = {}};
  for (const std::string& name : opts.metrics) scores.metrics.push_back(logs.at(name));
  return scores;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The search's progress display (CVOptions::verbose) and its on_task_end hook, for one task
// at a time.
class SearchProgress {
 public:
  SearchProgress(const CVOptions& opts, const std::vector<Candidate>& candidates, std::size_t folds,
                 std::size_t done_before, bool fit_prints)
      : opts_(opts),
        candidates_(candidates),
        folds_(folds),
        total_(candidates.size() * folds),
        done_(done_before),
        out_(opts.verbose > 0 && (!opts.distributed || dist::is_root()) ? opts.out : nullptr) {
    // fit's own lines would break into a line redrawn in place.
    const bool terminal = out_ != nullptr && is_terminal(*out_);
    redraw_ = opts.verbose == 1 && terminal && !fit_prints;
    per_task_ = out_ != nullptr && (opts.verbose >= 2 || (terminal && fit_prints));
    if (per_task_) *out_ << plan() << std::endl;
    if (redraw_) redraw();  // "0/20 fits": the search has begun
  }
  ~SearchProgress() {
    if (shown_ > 0) *out_ << std::endl;  // a search stopped by an error leaves the line whole
  }
  SearchProgress(const SearchProgress&) = delete;
  SearchProgress& operator=(const SearchProgress&) = delete;

  // Task `task` (candidate-major) ended with `scores`: on this rank after `seconds`, or on
  // another (seconds < 0).
  void finished(std::size_t task, const Scores& scores, double seconds) {
    const std::lock_guard lock(mutex_);
    const TaskLoss t{.candidate = task / folds_,
                     .fold = task % folds_,
                     .loss = scores.loss,
                     .metrics = scores.metrics};
    if (opts_.on_task_end) opts_.on_task_end(t);
    ++done_;
    if (seconds >= 0) ++ran_;
    if (per_task_) *out_ << task_line(t, seconds) << std::endl;
    if (redraw_) redraw();
  }

 private:
  // "[CV 2/5] END units=16: loss 0.01234, mae 0.0981 in 0.3s - 7/20 fits - 12s - ETA: 21s"
  std::string task_line(const TaskLoss& t, double seconds) const {
    const std::string& name = candidates_[t.candidate].name;
    std::string scores = fmt::format("loss {:.4g}", t.loss);
    for (std::size_t m = 0; m < t.metrics.size(); ++m) {
      scores += fmt::format(", {} {:.4g}", opts_.metrics[m], t.metrics[m]);
    }
    const std::string took = seconds >= 0 ? fmt::format(" in {:.1f}s", seconds) : "";
    return fmt::format("[CV {}/{}] END {}{}{}{} - {}", t.fold + 1, folds_, name,
                       name.empty() ? "" : ": ", scores, took, status());
  }

  // scikit-learn's "Fitting 5 folds for each of 4 candidates, totalling 20 fits", and how many
  // of them a resumed search finished before.
  std::string plan() const {
    const std::string before = done_ > 0 ? fmt::format(" ({} finished before)", done_) : "";
    return fmt::format("Fitting {} folds for each of {} candidates, totalling {} fits{}", folds_,
                       candidates_.size(), total_, before);
  }

  // "7/20 fits - 12s - ETA: 21s"; no ETA before a task has run here, or once all are done.
  std::string status() const {
    const double elapsed = seconds_since(start_);
    std::string text = fmt::format("{}/{} fits - {}", done_, total_, clock_time(elapsed));
    if (ran_ > 0 && done_ < total_) {
      const double pace = elapsed / static_cast<double>(ran_);
      text += " - ETA: " + clock_time(pace * static_cast<double>(total_ - done_));
    }
    return text;
  }

  // "\r7/20 fits [==========>...................] - 12s - ETA: 21s", blanking a longer one.
  void redraw() {
    constexpr std::size_t kWidth = 30;
    const std::size_t filled = kWidth * done_ / total_;
    std::string bar = std::string(filled, '=') + std::string(kWidth - filled, '.');
    if (filled > 0 && done_ < total_) bar[filled - 1] = '>';
    const std::string status_text = status();
    const std::size_t count_end = status_text.find(" - ");
    const std::string line = fmt::format("{} [{}]{}", status_text.substr(0, count_end), bar,
                                         status_text.substr(count_end));
    *out_ << '\r' << line << std::string(shown_ > line.size() ? shown_ - line.size() : 0, ' ');
    shown_ = line.size();
    if (done_ == total_) {
      *out_ << '\n';
      shown_ = 0;
    }
    out_->flush();
  }

  const CVOptions& opts_;
  const std::vector<Candidate>& candidates_;
  const std::size_t folds_, total_;
  std::size_t done_;     // tasks finished, also before this search (opts.finished)
  std::size_t ran_ = 0;  // of them, run by this rank in this search
  std::ostream* const out_;
  bool redraw_ = false, per_task_ = false;
  std::size_t shown_ = 0;  // length of the redrawn line on screen
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mutex_;
};

// The indices (candidate-major) of the tasks opts.finished does not hold, in order; the
// scores of those it holds go to `scores`.
std::vector<std::size_t> pending_tasks(const char* who, std::size_t candidates, std::size_t folds,
                                       const CVOptions& opts, std::vector<Scores>& scores) {
  std::vector<bool> done(candidates * folds);
  for (const TaskLoss& t : opts.finished) {
    if (t.candidate >= candidates || t.fold >= folds) {
      throw_error<ValueError>(
          "{}: opts.finished holds candidate {} fold {}, but the search has {} candidates and "
          "{} folds",
          who, t.candidate, t.fold, candidates, folds);
    }
    const std::size_t task = t.candidate * folds + t.fold;
    if (done[task]) {
      throw_error<ValueError>("{}: opts.finished holds candidate {} fold {} twice", who,
                              t.candidate, t.fold);
    }
    if (t.metrics.size() != opts.metrics.size()) {
      throw_error<ValueError>(
          "{}: opts.finished holds candidate {} fold {} with {} metrics, but opts.metrics names "
          "{} ({}): give each finished task one value per metric, in that order",
          who, t.candidate, t.fold, t.metrics.size(), opts.metrics.size(),
          fmt::join(opts.metrics, ", "));
    }
    done[task] = true;
    scores[task] = {t.loss, t.metrics};
  }
  std::vector<std::size_t> pending;
  for (std::size_t task = 0; task < done.size(); ++task) {
    if (!done[task]) pending.push_back(task);
  }
  return pending;
}

// Distributed, every rank must skip the same tasks, or the shared counter's indices would
// name different tasks on different ranks.
void check_same_finished(const char* who, const std::vector<TaskLoss>& finished) {
  Fnv1a hash;
  for (const TaskLoss& t : finished) {
    hash.add(&t.candidate, sizeof t.candidate).add(&t.fold, sizeof t.fold);
    hash.add(&t.loss, sizeof t.loss).add(t.metrics.data(), t.metrics.size() * sizeof(double));
  }
  const std::vector<std::uint64_t> all = dist::all_gather(hash.value());
  if (std::adjacent_find(all.begin(), all.end(), std::not_equal_to<>()) != all.end()) {
    throw_error<ValueError>(
        "{}: the ranks were given different opts.finished ({} tasks on rank {}): every rank "
        "must skip the same tasks",
        who, finished.size(), dist::rank());
  }
}

// scores[candidate][fold] of every candidate on the same folds.
std::vector<std::vector<Scores>> run_grid(const char* who, const std::vector<Candidate>& candidates,
                                          const Tensor& X, const Tensor& y, const CVOptions& opts) {
  const Data d = prepare(who, X, y, opts);
  const std::size_t folds = d.folds.size();
  std::vector<Scores> all(candidates.size() * folds);
  const std::vector<std::size_t> pending = pending_tasks(who, candidates.size(), folds, opts, all);
  if (opts.distributed) check_same_finished(who, opts.finished);
  const int threads = static_cast<int>(
      std::clamp<std::size_t>(static_cast<std::size_t>(resolve_jobs(who, opts.jobs)), 1,
                              std::max<std::size_t>(pending.size(), 1)));
  const FitOptions fit_opts = task_fit_options(who, opts, threads);
  const std::shared_ptr<const Loss> loss = opts.loss ? opts.loss : std::make_shared<MSE>();

  SearchProgress progress(opts, candidates, folds, all.size() - pending.size(),
                          fit_opts.verbose > 0 && fit_opts.out != nullptr);
  // The other ranks report each task they finish to rank 0 at once (its index, scores and
  // seconds), so that rank 0's progress and on_task_end (the journal) hear of it then.
  std::vector<char> reported(pending.size());  // rank 0: written by the counter's service alone
  std::exception_ptr report_error;             // rank 0: what on_task_end threw for a report
  dist::TaskCounter counter(
      {.across_ranks = opts.distributed, .on_report = [&](std::string_view bytes) {
         Scores scores;
         const std::size_t k = read_task(bytes, scores);
         const auto seconds = read_raw<double>(bytes);
         reported[k] = true;
         try {
           progress.finished(pending[k], scores, seconds);
         } catch (...) {
           if (!report_error) report_error = std::current_exception();
           counter.close();  // ends the search as the task's own error would
         }
       }});
  std::vector<Outcome> outcomes;
  {
    const GeneratorRestore keep_callers_generator;
    outcomes = run_tasks<Scores>(pending.size(), threads, counter, [&](std::size_t k) {
      const std::size_t task = pending[k];
      const auto start = std::chrono::steady_clock::now();
      FitOptions watched = fit_opts;  // a callback per task: fit gives each its model
      if (opts.distributed) watched.callbacks.push_back(std::make_shared<EndIfRankSilent>(counter));
      const Scores scores =
          run_fold(who, candidates[task / folds], d, task % folds, opts, watched, *loss);
      const double seconds = seconds_since(start);
      progress.finished(task, scores, seconds);
      std::string report;
      write_task(report, k, scores);
      write_raw(report, seconds);
      counter.report(report);  // nothing on rank 0, which holds it
      return scores;
    });
  }
  std::vector<Scores> ran =
      share_outcomes(counter, outcomes, [&](std::size_t k, const Scores& arrived) {
        if (!reported[k]) progress.finished(pending[k], arrived, -1);
      });
  if (report_error) std::rethrow_exception(report_error);
  for (std::size_t k = 0; k < pending.size(); ++k) all[pending[k]] = std::move(ran[k]);
  std::vector<std::vector<Scores>> scores;
  for (auto first = all.begin(); first != all.end(); first += static_cast<std::ptrdiff_t>(folds)) {
    scores.emplace_back(first, first + static_cast<std::ptrdiff_t>(folds));
  }
  return scores;
}

// The losses of a candidate's folds, and each metric's values per fold by name.
std::pair<std::vector<double>, std::map<std::string, std::vector<double>>> per_fold(
    const std::vector<Scores>& folds, const std::vector<std::string>& metrics) {
  std::vector<double> losses;
  std::map<std::string, std::vector<double>> values;
  for (const Scores& s : folds) {
    losses.push_back(s.loss);
    for (std::size_t m = 0; m < metrics.size(); ++m) values[metrics[m]].push_back(s.metrics[m]);
  }
  return {losses, values};
}

double mean_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// numpy's std: NaN when a value is NaN or infinite (inf - inf here would print as -nan).
double std_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  if (!std::isfinite(m)) return NAN;
  double squares = 0;
  for (double x : v) squares += (x - m) * (x - m);
  return std::sqrt(squares / static_cast<double>(v.size()));
}

// A candidate that can be chosen: one whose training diverged in a fold has a NaN or
// infinite mean (and its std, inf - inf, may be NaN).
bool scored(const CandidateScore& s) {
  return std::isfinite(s.mean);
}

// scikit-learn's rankdata(method="min") of the finite means, lowest first; the non-finite
// ones share the rank after them (scikit-learn ranks NaN scores last).
void assign_ranks(std::vector<CandidateScore>& scores) {
  const auto finite = static_cast<int>(std::count_if(scores.begin(), scores.end(), scored));
  for (CandidateScore& s : scores) {
    const auto lower = std::count_if(scores.begin(), scores.end(), [&](const CandidateScore& o) {
      return scored(o) && o.mean < s.mean;
    });
    s.rank = scored(s) ? 1 + static_cast<int>(lower) : finite + 1;
  }
}

// The first of the least complex scored candidates whose mean is <= the best's mean + std;
// the best itself when no other is (also when that threshold is not a number).
std::size_t simplest_within(const std::vector<CandidateScore>& scores, std::size_t best) {
  const double threshold = scores[best].mean + scores[best].std;
  std::size_t choice = best;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!scored(scores[i]) || !(scores[i].mean <= threshold)) continue;
    const bool simpler = scores[i].complexity < scores[choice].complexity ||
                         (scores[i].complexity == scores[choice].complexity && i < choice);
    if (simpler) choice = i;
  }
  return choice;
}

// The mean of each candidate, for an error message: "units=2: inf, units=4: nan".
std::string means_of(const std::vector<CandidateScore>& scores) {
  constexpr std::size_t kShown = 5;
  std::string text;
  for (std::size_t i = 0; i < std::min(scores.size(), kShown); ++i) {
    text +=
        fmt::format("{}{}: {}", i ? ", " : "", tapegrad::quoted(scores[i].name), scores[i].mean);
  }
  if (scores.size() > kShown) text += fmt::format(" and {} more", scores.size() - kShown);
  return text;
}

// A candidate's metrics must be the first's, each with a value per fold, for the table's
// columns to be filled.
void check_same_metrics(const char* who, const CandidateScore& s, const CandidateScore& first) {
  const auto names = [](const CandidateScore& c) {
    std::vector<std::string> out;
    for (const auto& entry : c.fold_metrics) out.push_back(entry.first);
    return out;
  };
  if (names(s) != names(first)) {
    throw_error<ValueError>("{}: candidate {} has metrics [{}], {} has [{}] (expected the same)",
                            who, tapegrad::quoted(s.name), fmt::join(names(s), ", "),
                            tapegrad::quoted(first.name), fmt::join(names(first), ", "));
  }
  for (const auto& [metric, values] : s.fold_metrics) {
    if (values.size() != s.fold_losses.size()) {
      throw_error<ValueError>(
          "{}: candidate {} has {} values of metric '{}' for {} fold losses (expected one per "
          "fold)",
          who, tapegrad::quoted(s.name), values.size(), metric, s.fold_losses.size());
    }
  }
}

// The per-fold values of `metric` in `fold_metrics`; ValueError naming the metrics held.
const std::vector<double>& metric_folds(const char* who,
                                        const std::map<std::string, std::vector<double>>& held,
                                        const std::string& metric) {
  const auto it = held.find(metric);
  if (it == held.end()) {
    std::vector<std::string> names;
    for (const auto& entry : held) names.push_back(entry.first);
    throw_error<ValueError>("{}: no metric '{}' (held: {})", who, metric,
                            names.empty() ? "none, give CVOptions::metrics"
                                          : fmt::format("{}", fmt::join(names, ", ")));
  }
  return it->second;
}

// The mean or std (`of`) of a metric's fold values, NaN without folds (as CVResult::mean).
double metric_summary(const char* who, const std::map<std::string, std::vector<double>>& held,
                      const std::string& metric, double (*of)(const std::vector<double>&)) {
  const std::vector<double>& values = metric_folds(who, held, metric);
  return values.empty() ? NAN : of(values);
}

// The table's columns mean_<metric> and std_<metric>: as wide as the loss's, or the name.
std::size_t metric_column_width(const std::string& metric) {
  return std::max<std::size_t>(10, std::string_view("mean_").size() + metric.size());
}

// rank_candidates, its errors naming `who`.
GridSearchResult choose(const char* who, std::vector<CandidateScore> scores) {
  if (scores.empty()) throw_error<ValueError>("{}: no candidates (give at least one)", who);
  for (CandidateScore& s : scores) {
    if (s.fold_losses.size() != scores.front().fold_losses.size() || s.fold_losses.empty()) {
      throw_error<ValueError>(
          "{}: candidate {} has {} fold losses, {} has {} (expected the same number, at least 1)",
          who, tapegrad::quoted(s.name), s.fold_losses.size(),
          tapegrad::quoted(scores.front().name), scores.front().fold_losses.size());
    }
    check_same_metrics(who, s, scores.front());
    s.mean = mean_of(s.fold_losses);
    s.std = std_of(s.fold_losses);
  }
  assign_ranks(scores);
  const auto best = static_cast<std::size_t>(
      std::find_if(scores.begin(), scores.end(),
                   [](const CandidateScore& s) { return scored(s) && s.rank == 1; }) -
      scores.begin());
  if (best == scores.size()) {
    throw_error<ValueError>(
        "{}: no candidate trained to a finite mean validation loss ({}; training diverged): "
        "nothing to choose; try a lower learning rate",
        who, means_of(scores));
  }
  const std::size_t one_se = simplest_within(scores, best);
  std::vector<std::string> metrics;
  for (const auto& entry : scores.front().fold_metrics) metrics.push_back(entry.first);
  return {std::move(scores), best, one_se, std::move(metrics)};
}

// What table() and write_csv index: a result filled in by hand may not hold it.
void check_choices(const char* who, const GridSearchResult& r) {
  if (r.candidates.empty()) throw_error<ValueError>("{}: the result holds no candidates", who);
  for (const auto& [name, index] : {std::pair{"best", r.best}, std::pair{"one_se", r.one_se}}) {
    if (index >= r.candidates.size()) {
      throw_error<ValueError>("{}: {} = {} is not a candidate (the result holds {})", who, name,
                              index, r.candidates.size());
    }
  }
}

}  // namespace

std::vector<Fold> kfold_splits(int64_t n, int folds, bool shuffle, std::uint64_t seed) {
  check_folds("kfold_splits", n, folds);
  // Each fold lists every sample once, in train or validation.
  check_materialisable("kfold_splits", n, folds, static_cast<double>(folds) * n);
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (shuffle) {
    Generator gen(seed);
    order = randperm(n, gen);
  }
  std::vector<Fold> out;
  int64_t start = 0;
  for (int k = 0; k < folds; ++k) {
    const int64_t size = n / folds + (k < n % folds ? 1 : 0);
    std::vector<int64_t> validation(order.begin() + start, order.begin() + start + size);
    std::sort(validation.begin(), validation.end());
    out.push_back({complement(n, validation), std::move(validation)});
    start += size;
  }
  return out;
}

std::vector<Fold> time_series_splits(int64_t n, int folds) {
  check_time_folds("time_series_splits", n, folds);
  const int64_t block = n / (folds + 1);
  // Fold k (from 0) lists the first n - (folds - 1 - k) * block samples.
  check_materialisable(
      "time_series_splits", n, folds,
      static_cast<double>(folds) * n - static_cast<double>(block) * folds * (folds - 1) / 2);
  std::vector<Fold> out;
  for (int64_t start = n - folds * block; start < n; start += block) {
    Fold f;
    for (int64_t i = 0; i < start; ++i) f.train.push_back(i);
    for (int64_t i = start; i < start + block; ++i) f.validation.push_back(i);
    out.push_back(std::move(f));
  }
  return out;
}

double CVResult::mean() const {
  return fold_losses.empty() ? NAN : mean_of(fold_losses);
}

double CVResult::std() const {
  return fold_losses.empty() ? NAN : std_of(fold_losses);
}

double CVResult::mean(const std::string& metric) const {
  return metric_summary("CVResult::mean", fold_metrics, metric, mean_of);
}

double CVResult::std(const std::string& metric) const {
  return metric_summary("CVResult::std", fold_metrics, metric, std_of);
}

double CandidateScore::metric_mean(const std::string& metric) const {
  return metric_summary("CandidateScore::metric_mean", fold_metrics, metric, mean_of);
}

double CandidateScore::metric_std(const std::string& metric) const {
  return metric_summary("CandidateScore::metric_std", fold_metrics, metric, std_of);
}

CVResult cross_validate(const ModelFactory& make_model, const Tensor& X, const Tensor& y,
                        const CVOptions& opts) {
  if (!make_model) throw ValueError("cross_validate: make_model is empty (give a model factory)");
  const std::vector<Candidate> one{{.name = "", .complexity = 0, .make_model = make_model}};
  auto [losses, metrics] =
      per_fold(run_grid("cross_validate", one, X, y, opts).front(), opts.metrics);
  return {.fold_losses = std::move(losses), .fold_metrics = std::move(metrics)};
}

GridSearchResult grid_search(const std::vector<Candidate>& candidates, const Tensor& X,
                             const Tensor& y, const CVOptions& opts) {
  if (candidates.empty()) throw ValueError("grid_search: no candidates (give at least one)");
  for (const Candidate& c : candidates) {
    if (!c.make_model)
      throw_error<ValueError>("grid_search: candidate {} has no make_model",
                              tapegrad::quoted(c.name));
  }
  const std::vector<std::vector<Scores>> folds = run_grid("grid_search", candidates, X, y, opts);
  std::vector<CandidateScore> scores;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    auto [losses, metrics] = per_fold(folds[i], opts.metrics);
    scores.push_back({.name = candidates[i].name,
                      .complexity = candidates[i].complexity,
                      .fold_losses = std::move(losses),
                      .mean = 0,
                      .std = 0,
                      .rank = 0,
                      .fold_metrics = std::move(metrics)});
  }
  GridSearchResult result = choose("grid_search", std::move(scores));
  result.metrics = opts.metrics;  // in the order asked for, not the names' order
  return result;
}

GridSearchResult rank_candidates(std::vector<CandidateScore> scores) {
  return choose("rank_candidates", std::move(scores));
}

std::string GridSearchResult::table() const {
  check_choices("GridSearchResult::table", *this);
  std::size_t width = 9;  // "candidate"
  for (const CandidateScore& s : candidates) width = std::max(width, s.name.size());
  const std::size_t folds = candidates.front().fold_losses.size();
  std::string text = fmt::format("{:<{}}  {:>10}", "candidate", width, "complexity");
  for (std::size_t f = 0; f < folds; ++f)
    text += fmt::format("  {:>10}", fmt::format("fold_{}", f));
  text += fmt::format("  {:>10}  {:>10}  {:>4}", "mean", "std", "rank");
  for (const std::string& metric : metrics) {
    for (const char* of : {"mean_", "std_"}) {
      text += fmt::format("  {:>{}}", of + metric, metric_column_width(metric));
    }
  }
  text += "\n";
  for (const CandidateScore& s : candidates) {
    text += fmt::format("{:<{}}  {:>10.6g}", s.name, width, s.complexity);
    for (double loss : s.fold_losses) text += fmt::format("  {:>10.4g}", loss);
    text += fmt::format("  {:>10.4g}  {:>10.4g}  {:>4}", s.mean, s.std, s.rank);
    for (const std::string& metric : metrics) {
      const std::size_t w = metric_column_width(metric);
      text +=
          fmt::format("  {:>{}.4g}  {:>{}.4g}", s.metric_mean(metric), w, s.metric_std(metric), w);
    }
    text += "\n";
  }
  const CandidateScore &b = candidates[best], &o = candidates[one_se];
  text += fmt::format("best: {} (mean {:.4g}, std {:.4g})\n", b.name, b.mean, b.std);
  text += fmt::format("one-standard-error choice: {} (mean {:.4g} <= {:.4g} + {:.4g})\n", o.name,
                      o.mean, b.mean, b.std);
  return text;
}

void GridSearchResult::write_csv(const std::string& path) const {
  check_choices("GridSearchResult::write_csv", *this);
  std::string text = "name,complexity";
  for (std::size_t f = 0; f < candidates.front().fold_losses.size(); ++f) {
    text += fmt::format(",fold_{}", f);
  }
  text += ",mean,std,rank";
  for (const std::string& metric : metrics) text += fmt::format(",mean_{0},std_{0}", metric);
  text += "\n";
  for (const CandidateScore& s : candidates) {
    write_csv_field(text, s.name);
    text += fmt::format(",{}", s.complexity);
    for (double loss : s.fold_losses) text += fmt::format(",{}", loss);
    text += fmt::format(",{},{},{}", s.mean, s.std, s.rank);
    for (const std::string& metric : metrics) {
      text += fmt::format(",{},{}", s.metric_mean(metric), s.metric_std(metric));
    }
    text += "\n";
  }
  write_file_atomically("GridSearchResult::write_csv", path, text);
}

FoldPreprocess min_max_per_fold(std::vector<data::Scaler>* fitted) {
  return [fitted](const Tensor& X, const Tensor& y) {
    data::Scaler scaler;
    scaler.fit(concat({reshape(X, {X.numel()}), reshape(y, {y.numel()})}));
    if (fitted != nullptr) fitted->push_back(scaler);
    const auto scale = [scaler](const Tensor& t) { return scaler.transform(t); };
    return FoldTransform{.x = scale, .y = scale, .y_inverse = [scaler](const Tensor& t) {
                           return scaler.inverse_transform(t);
                         }};
  };
}

}  // namespace tapegrad::nn
