// Cross-validation splits, the task runner behind cross_validate and grid_search, and the
// cv_results_-like summary; see model_selection.hpp.
#include <tapegrad/nn/model_selection.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <numeric>
#include <ostream>
#include <thread>

#include <unistd.h>

#include <fmt/format.h>

#include <tapegrad/core/atomic_file.hpp>
#include <tapegrad/core/csv.hpp>
#include <tapegrad/core/error.hpp>
#include <tapegrad/core/random.hpp>
#include <tapegrad/nn/data.hpp>
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

// A well-mixed 64-bit seed per fold (splitmix64's finalizer), so neighbouring folds and
// seeds do not start Mersenne Twister from neighbouring states.
std::uint64_t fold_seed(std::uint64_t seed, std::size_t fold) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(fold) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Gives the calling thread's default generator back its state on exit (also on error).
class GeneratorRestore {
 public:
  GeneratorRestore() : saved_(default_generator()) {}
  ~GeneratorRestore() { default_generator() = saved_; }
  GeneratorRestore(const GeneratorRestore&) = delete;
  GeneratorRestore& operator=(const GeneratorRestore&) = delete;

 private:
  Generator saved_;
};

int resolve_jobs(const char* who, int jobs) {
  if (jobs < 0) {
    throw_error<ValueError>("{}: jobs must be >= 0 (0: one per hardware thread), got {}", who,
                            jobs);
  }
  if (jobs > 0) return jobs;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

// task(i) for every i in [0, count) on `threads` threads, each pulling the next index from a
// shared counter (threads == 1: on the calling thread). After a failure no new task starts;
// every task of a lower index had already started, so rethrowing the lowest failed index
// gives the exception a sequential run would give.
void run_tasks(std::size_t count, int threads, const std::function<void(std::size_t)>& task) {
  std::vector<std::exception_ptr> errors(count);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  const auto work = [&] {
    while (!failed.load()) {
      const std::size_t i = next.fetch_add(1);
      if (i >= count) return;
      try {
        task(i);
      } catch (...) {
        errors[i] = std::current_exception();
        failed.store(true);
      }
    }
  };
  if (threads == 1) {
    work();
  } else {
    std::vector<std::jthread> pool;  // joined when it goes out of scope
    for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  }
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
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

// `loss` of the model's output mapped back to y's unit, against targets in y's unit.
class LossInTargetUnit final : public Loss {
 public:
  LossInTargetUnit(const Loss& loss, const FoldTransform::Map& y_inverse)
      : Loss(loss.reduction()), loss_(loss), y_inverse_(y_inverse) {}
  using Loss::operator();
  Tensor operator()(const Tensor& pred, const Tensor& target) const override {
    return loss_(y_inverse_(pred), target);
  }
  Tensor per_element(const Tensor& pred, const Tensor& target) const override {
    return loss_.per_element(y_inverse_(pred), target);
  }
  std::string name() const override { return loss_.name(); }

 private:
  const Loss& loss_;
  const FoldTransform::Map& y_inverse_;
};

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
  Data d{X.contiguous(), y.contiguous(), make_folds(who, X.shape()[0], opts), {}};
  d.transforms = fit_transforms(opts.preprocess, d.X, d.y, d.folds);
  return d;
}

// The fit options of every task: fit's progress only where it cannot interleave.
FitOptions task_fit_options(const char* who, const CVOptions& opts, int threads) {
  FitOptions fit = opts.fit;
  if (threads == 1) return fit;
  if (!fit.callbacks.empty()) {
    throw_error<ValueError>(
        "{}: fit callbacks keep state per run and would be shared by {} concurrent folds: "
        "use jobs = 1 with callbacks",
        who, threads);
  }
  fit.verbose = 0;
  fit.out = nullptr;
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
double run_fold(const char* who, const Candidate& candidate, const Data& d, std::size_t fold,
                const CVOptions& opts, const FitOptions& fit_opts, const Loss& loss) {
  default_generator().seed_(fold_seed(opts.seed, fold));
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
  if (t.y_inverse) {
    return evaluate(*model, LossInTargetUnit(loss, t.y_inverse), X_val, y_val, fit_opts.batch_size,
                    mask, weight);
  }
  return evaluate(*model, loss, X_val, apply(who, "y", t.y, y_val), fit_opts.batch_size, mask,
                  weight);
}

// losses[candidate][fold] of every candidate on the same folds.
std::vector<std::vector<double>> run_grid(const char* who, const std::vector<Candidate>& candidates,
                                          const Tensor& X, const Tensor& y, const CVOptions& opts) {
  const Data d = prepare(who, X, y, opts);
  const std::size_t folds = d.folds.size(), tasks = candidates.size() * folds;
  const int threads = static_cast<int>(
      std::min<std::size_t>(static_cast<std::size_t>(resolve_jobs(who, opts.jobs)), tasks));
  const FitOptions fit_opts = task_fit_options(who, opts, threads);
  const std::shared_ptr<const Loss> loss = opts.loss ? opts.loss : std::make_shared<MSE>();

  std::vector<std::vector<double>> losses(candidates.size(), std::vector<double>(folds));
  const GeneratorRestore keep_callers_generator;
  run_tasks(tasks, threads, [&](std::size_t task) {
    const std::size_t c = task / folds, f = task % folds;
    losses[c][f] = run_fold(who, candidates[c], d, f, opts, fit_opts, *loss);
  });
  return losses;
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
  return {std::move(scores), best, one_se};
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

CVResult cross_validate(const ModelFactory& make_model, const Tensor& X, const Tensor& y,
                        const CVOptions& opts) {
  if (!make_model) throw ValueError("cross_validate: make_model is empty (give a model factory)");
  const std::vector<Candidate> one{{.name = "", .complexity = 0, .make_model = make_model}};
  return {run_grid("cross_validate", one, X, y, opts).front()};
}

GridSearchResult grid_search(const std::vector<Candidate>& candidates, const Tensor& X,
                             const Tensor& y, const CVOptions& opts) {
  if (candidates.empty()) throw ValueError("grid_search: no candidates (give at least one)");
  for (const Candidate& c : candidates) {
    if (!c.make_model)
      throw_error<ValueError>("grid_search: candidate {} has no make_model",
                              tapegrad::quoted(c.name));
  }
  const std::vector<std::vector<double>> losses = run_grid("grid_search", candidates, X, y, opts);
  std::vector<CandidateScore> scores;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    scores.push_back({.name = candidates[i].name,
                      .complexity = candidates[i].complexity,
                      .fold_losses = losses[i],
                      .mean = 0,
                      .std = 0,
                      .rank = 0});
  }
  return choose("grid_search", std::move(scores));
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
  text += fmt::format("  {:>10}  {:>10}  {:>4}\n", "mean", "std", "rank");
  for (const CandidateScore& s : candidates) {
    text += fmt::format("{:<{}}  {:>10.6g}", s.name, width, s.complexity);
    for (double loss : s.fold_losses) text += fmt::format("  {:>10.4g}", loss);
    text += fmt::format("  {:>10.4g}  {:>10.4g}  {:>4}\n", s.mean, s.std, s.rank);
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
  text += ",mean,std,rank\n";
  for (const CandidateScore& s : candidates) {
    write_csv_field(text, s.name);
    text += fmt::format(",{}", s.complexity);
    for (double loss : s.fold_losses) text += fmt::format(",{}", loss);
    text += fmt::format(",{},{},{}\n", s.mean, s.std, s.rank);
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
