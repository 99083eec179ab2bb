#include <tapegrad/tools/experiments/adding.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/core/atomic_file.hpp>
#include <tapegrad/core/error.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/nn/nn.hpp>
#include <tapegrad/ops/shape.hpp>
#include <tapegrad/optim/optim.hpp>

namespace tapegrad::tools {
namespace {

void check_options(const AddingOptions& o) {
  for (const std::string& cell : o.cells) cell_title(cell);
  for (const int64_t t : o.steps) {
    if (t < 4 || t % 2 != 0) {
      throw_error<ValueError>(
          "run_adding: steps {} (expected even lengths >= 4: one marker in each half)", t);
    }
  }
  if (o.cells.empty() || o.steps.empty() || o.seeds < 1 || o.epochs < 1 || o.units < 1 ||
      o.train_size < 1 || o.test_size < 1 || o.batch_size < 1 || o.probe_size < 1) {
    throw_error<ValueError>(
        "run_adding: {} cells, {} lengths, {} seeds, {} epochs, {} units, train {}, test {}, "
        "batch {}, probe {} (expected at least 1 of each)",
        o.cells.size(), o.steps.size(), o.seeds, o.epochs, o.units, o.train_size, o.test_size,
        o.batch_size, o.probe_size);
  }
}

std::shared_ptr<nn::Sequential> adding_model(const std::string& cell, int64_t units,
                                             nn::Activation activation = nn::Activation::tanh) {
  auto model = std::make_shared<nn::Sequential>();
  if (cell == "rnn") {
    model->push_back(
        nn::SimpleRNN(2, units, {}, nn::SimpleRNNCellOptions{.activation = activation}));
  } else if (cell == "lstm") {
    model->push_back(nn::LSTM(2, units));
  } else {
    model->push_back(nn::GRU(2, units));
  }
  model->push_back(nn::Dense(units, 1));
  return model;
}

// The data of one length and seed, the same for every cell: a training and a test set.
struct AddingData {
  data::Dataset train, test;
};
AddingData adding_data(const AddingOptions& o, int64_t steps, int seed) {
  std::mt19937_64 gen(nn::task_seed(nn::task_seed(o.seed, static_cast<std::size_t>(seed)),
                                    static_cast<std::size_t>(steps)));
  data::Dataset train = data::adding_problem(o.train_size, steps, gen);
  return {std::move(train), data::adding_problem(o.test_size, steps, gen)};
}

// |dL/dh_t| of the model's recurrent layer on `probe`, as one layer named `title`.
GradientFlow measure_flow(nn::Module& model, const data::Dataset& probe, const std::string& title) {
  nn::MSE loss_fn;
  const Tensor loss = loss_fn(model(probe.X), probe.y);
  const GradientFlow flow = gradient_flow_report(loss, {});
  GradientFlow out;
  for (const StepGradient& s : flow.steps) {
    if (s.layer == flow.steps.front().layer) out.steps.push_back({title, s.step, s.norm});
  }
  return out;
}

// One task's outcome: the run and, for the measured one, the gradient flow around training.
struct TaskResult {
  AddingRun run;
  GradientFlow start, end;
};

TaskResult train_one(const AddingOptions& o, const std::string& cell, int64_t steps, int seed,
                     bool measure) {
  const AddingData d = adding_data(o, steps, seed);
  const auto model = adding_model(cell, o.units);
  const int64_t probe_rows = std::min(o.probe_size, o.test_size);
  const data::Dataset probe{slice(d.test.X, 0, 0, probe_rows), slice(d.test.y, 0, 0, probe_rows)};
  TaskResult r;
  if (measure) r.start = measure_flow(*model, probe, cell_title(cell));
  optim::Adam opt(model->parameters(), {.lr = o.lr, .global_clipnorm = o.clip_norm});
  nn::MSE loss_fn;
  const nn::History h = nn::fit(*model, loss_fn, opt, d.train.X, d.train.y,
                                {.epochs = o.epochs,
                                 .batch_size = o.batch_size,
                                 .validation_data = std::pair{d.test.X, d.test.y},
                                 .verbose = 0,
                                 .out = nullptr});
  if (measure) r.end = measure_flow(*model, probe, cell_title(cell));
  r.run = {.cell = cell, .steps = steps, .seed = seed, .test_mse_by_epoch = h["val_loss"]};
  r.run.test_mse = r.run.test_mse_by_epoch.back();
  const auto& mse = r.run.test_mse_by_epoch;
  const auto hit = std::find_if(mse.begin(), mse.end(), [&](double m) { return m < o.target_mse; });
  if (hit != mse.end()) r.run.epochs_to_target = static_cast<int>(hit - mse.begin()) + 1;
  return r;
}

// The tasks, longest sequences first so that the threads finish together.
struct Task {
  std::size_t cell, length;
  int seed;
};
std::vector<Task> longest_first(const AddingOptions& o) {
  std::vector<std::size_t> lengths(o.steps.size());
  for (std::size_t i = 0; i < lengths.size(); ++i) lengths[i] = i;
  std::stable_sort(lengths.begin(), lengths.end(),
                   [&](std::size_t a, std::size_t b) { return o.steps[a] > o.steps[b]; });
  std::vector<Task> tasks;
  for (const std::size_t l : lengths) {
    for (std::size_t c = 0; c < o.cells.size(); ++c) {
      for (int s = 0; s < o.seeds; ++s) tasks.push_back({c, l, s});
    }
  }
  return tasks;
}

// One BLAS thread while several tasks run at once (tasks.hpp says why), restored after.
class BlasThreadsFor {
 public:
  explicit BlasThreadsFor(int jobs) : saved_(num_threads()) {
    if (jobs > 1) set_num_threads(1);
  }
  ~BlasThreadsFor() { set_num_threads(saved_); }
  BlasThreadsFor(const BlasThreadsFor&) = delete;
  BlasThreadsFor& operator=(const BlasThreadsFor&) = delete;

 private:
  int saved_;
};

void append(GradientFlow& to, const GradientFlow& from) {
  to.steps.insert(to.steps.end(), from.steps.begin(), from.steps.end());
}

}  // namespace

std::string cell_title(const std::string& cell) {
  if (cell == "rnn") return "SimpleRNN";
  if (cell == "lstm") return "LSTM";
  if (cell == "gru") return "GRU";
  throw_error<ValueError>("unknown cell '{}' (expected rnn, lstm or gru)", cell);
}

AddingResult run_adding(const AddingOptions& o) {
  check_options(o);
  AddingResult result;
  result.longest = *std::max_element(o.steps.begin(), o.steps.end());
  const std::vector<Task> tasks = longest_first(o);
  const int jobs = nn::resolve_jobs("run_adding", o.jobs);
  const BlasThreadsFor blas(jobs);
  const std::vector<TaskResult> done = nn::run_seeded_tasks<TaskResult>(
      "run_adding", tasks.size(), {.jobs = jobs, .seed = o.seed}, [&](std::size_t i) {
        const Task& t = tasks[i];
        const int64_t steps = o.steps[t.length];
        const bool measure = steps == result.longest && t.seed == 0;
        return train_one(o, o.cells[t.cell], steps, t.seed, measure);
      });
  // Back to the order of the options: cell, length, seed.
  for (std::size_t c = 0; c < o.cells.size(); ++c) {
    for (std::size_t l = 0; l < o.steps.size(); ++l) {
      for (std::size_t i = 0; i < tasks.size(); ++i) {
        if (tasks[i].cell != c || tasks[i].length != l) continue;
        result.runs.push_back(done[i].run);
        append(result.flow_start, done[i].start);
        append(result.flow_end, done[i].end);
      }
    }
  }
  return result;
}

void write_adding_csv(const AddingResult& result, double target_mse, const std::string& path) {
  std::string csv = fmt::format("cell,steps,seed,test_mse,epochs_to_{}\n", target_mse);
  for (const AddingRun& r : result.runs) {
    csv += fmt::format("{},{},{},{},{}\n", r.cell, r.steps, r.seed, r.test_mse,
                       r.epochs_to_target ? std::to_string(*r.epochs_to_target) : "");
  }
  write_file_atomically("write_adding_csv", path, csv);
}

MseSummary summarize(const AddingResult& result, const std::string& cell, int64_t steps) {
  std::vector<double> mse;
  MseSummary s;
  for (const AddingRun& r : result.runs) {
    if (r.cell != cell || r.steps != steps) continue;
    mse.push_back(r.test_mse);
    s.reached_target += r.epochs_to_target.has_value();
  }
  if (mse.empty()) {
    throw_error<ValueError>("summarize: no run of cell '{}' at {} steps", cell, steps);
  }
  s.mean = 0;
  for (const double m : mse) s.mean += m / static_cast<double>(mse.size());
  s.min = *std::min_element(mse.begin(), mse.end());
  s.max = *std::max_element(mse.begin(), mse.end());
  return s;
}

namespace {

// The cells and lengths of the runs, in their order.
std::vector<std::string> cells_of(const AddingResult& result) {
  std::vector<std::string> cells;
  for (const AddingRun& r : result.runs) {
    if (std::find(cells.begin(), cells.end(), r.cell) == cells.end()) cells.push_back(r.cell);
  }
  return cells;
}
std::vector<int64_t> lengths_of(const AddingResult& result) {
  std::vector<int64_t> lengths;
  for (const AddingRun& r : result.runs) {
    if (std::find(lengths.begin(), lengths.end(), r.steps) == lengths.end()) {
      lengths.push_back(r.steps);
    }
  }
  return lengths;
}

ChartPanel mse_panel(const AddingResult& result) {
  ChartPanel p;
  const std::vector<int64_t> lengths = lengths_of(result);
  int seeds = 0;
  for (const std::string& cell : cells_of(result)) {
    LineSeries s{.label = cell_title(cell)};
    for (const int64_t t : lengths) {
      const MseSummary m = summarize(result, cell, t);
      s.x.push_back(static_cast<double>(t));
      s.y.push_back(m.mean);
      s.y_low.push_back(m.min);
      s.y_high.push_back(m.max);
    }
    p.series.push_back(std::move(s));
  }
  for (const AddingRun& r : result.runs) seeds = std::max(seeds, r.seed + 1);
  const auto [shortest, longest] = std::minmax_element(lengths.begin(), lengths.end());
  // Grey, after the cells' colours: a reference, not a result.
  p.series.push_back({.label = "predict the mean (1/6)",
                      .x = {static_cast<double>(*shortest), static_cast<double>(*longest)},
                      .y = {data::kAddingBaselineMse, data::kAddingBaselineMse},
                      .colour = "#7f7f7f",
                      .dashed = true});
  p.options = {.title = "Test MSE after training, by sequence length",
               .x_label = "sequence length T (steps)",
               .y_label = "test MSE (log)",
               .log_y = true,
               .subtitle = fmt::format("mean over {} seeds, bars from min to max; below the "
                                       "baseline line the model carries the first value",
                                       seeds)};
  return p;
}

ChartPanel flow_panel(const AddingResult& result) {
  ChartPanel p;
  const std::vector<LineSeries> start = gradient_flow_series(result.flow_start);
  const std::vector<LineSeries> end = gradient_flow_series(result.flow_end);
  for (std::size_t i = 0; i < start.size() && i < end.size(); ++i) {
    LineSeries before = start[i], after = end[i];
    before.label += " before training";
    after.label += " after training";
    // A cell's colour is the one it has in the other panel; dashed before, solid after.
    before.colour = after.colour = chart_colour(i);
    before.dashed = true;
    p.series.push_back(std::move(before));
    p.series.push_back(std::move(after));
  }
  p.options = {
      .title = fmt::format("|dL/dh_t| at T = {}, before and after training", result.longest),
      .x_label = "time step t",
      .y_label = "|dL/dh_t| (log)",
      .log_y = true,
      .subtitle =
          "seed 0; where it is tiny at early t, the first marked value cannot steer the "
          "weights\n(a gradient that underflowed to 0 lies on the bottom axis)"};
  return p;
}

}  // namespace

void write_adding_chart(const AddingResult& result, const std::string& path,
                        LineChartOptions page) {
  check_chart_path(path);
  page.title = "The adding problem: where each cell stops learning";
  page.subtitle.clear();
  write_line_charts(path, {mse_panel(result), flow_panel(result)}, page);
}

namespace {

// The loss of every update of one run, ended at the first loss that is not finite.
std::vector<double> clipping_run(const ClippingOptions& o, const data::Dataset& train,
                                 std::optional<double> clip_norm) {
  manual_seed(o.seed);  // the same weights and batch order for both runs
  const auto model = adding_model("rnn", o.units, nn::Activation::relu);
  optim::SGD opt(model->parameters(), {.lr = o.lr, .global_clipnorm = clip_norm});
  nn::MSE loss_fn;
  std::vector<double> losses;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    for (auto [xb, yb] :
         data::batches(train.X, train.y, {.batch_size = o.batch_size, .shuffle = true})) {
      const Tensor loss = loss_fn((*model)(xb), yb);
      losses.push_back(loss.item());
      if (!std::isfinite(losses.back())) return losses;
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  }
  return losses;
}

}  // namespace

ClippingResult run_clipping(const ClippingOptions& o) {
  if (o.steps < 4 || o.steps % 2 != 0 || o.epochs < 1 || !(o.clip_norm > 0) || !(o.lr > 0)) {
    throw_error<ValueError>(
        "run_clipping: steps {}, epochs {}, clip_norm {}, lr {} (expected an even length >= 4, "
        "at least 1 epoch, a clip norm and lr > 0)",
        o.steps, o.epochs, o.clip_norm, o.lr);
  }
  const nn::GeneratorRestore keep_callers_generator;
  std::mt19937_64 gen(o.seed);
  const data::Dataset train = data::adding_problem(o.train_size, o.steps, gen);
  return {clipping_run(o, train, std::nullopt), clipping_run(o, train, o.clip_norm), o};
}

void write_clipping_csv(const ClippingResult& result, const std::string& path) {
  std::string csv = "update,loss_without_clipping,loss_with_clipping\n";
  const std::size_t rows = std::max(result.loss_without.size(), result.loss_with.size());
  const auto field = [](const std::vector<double>& v, std::size_t i) {
    return i < v.size() ? fmt::format("{}", v[i]) : std::string();
  };
  for (std::size_t i = 0; i < rows; ++i) {
    csv +=
        fmt::format("{},{},{}\n", i + 1, field(result.loss_without, i), field(result.loss_with, i));
  }
  write_file_atomically("write_clipping_csv", path, csv);
}

namespace {

// A curve of the finite losses, one point per update.
LineSeries loss_curve(const std::string& label, const std::vector<double>& losses) {
  LineSeries s{.label = label};
  for (std::size_t i = 0; i < losses.size() && std::isfinite(losses[i]); ++i) {
    s.x.push_back(static_cast<double>(i + 1));
    s.y.push_back(losses[i]);
  }
  return s;
}

}  // namespace

void write_clipping_chart(const ClippingResult& result, const std::string& path,
                          LineChartOptions chart) {
  const ClippingOptions& o = result.options;
  const std::vector<LineSeries> curves{
      loss_curve("without clipping", result.loss_without),
      loss_curve(fmt::format("global norm clipped to {}", o.clip_norm), result.loss_with)};
  chart.title =
      fmt::format("Exploding gradients: SimpleRNN (relu), SGD lr {}, T = {}", o.lr, o.steps);
  chart.x_label = "update (batch of " + std::to_string(o.batch_size) + "; log2)";
  chart.y_label = "training loss (MSE, log)";
  chart.log_y = true;
  chart.log2_x = true;  // the few updates before a blow-up get room beside the long run
  const bool ended = !result.loss_without.empty() && !std::isfinite(result.loss_without.back());
  if (ended && !curves[0].x.empty()) {
    chart.marks.push_back(
        {curves[0].x.back(), curves[0].y.back(),
         fmt::format("loss {:.2g}, then {}", curves[0].y.back(), result.loss_without.back())});
  }
  chart.subtitle = "the same weights and batches; clipping bounds each step to lr x clip norm";
  write_line_chart(path, curves, chart);
}

}  // namespace tapegrad::tools
