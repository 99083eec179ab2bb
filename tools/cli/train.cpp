// `tapegrad train`: fit the model of --cell and --units on the reference data or a CSV
// series, through the library's own parts: nn::fit with initial_epoch (resume),
// nn::CSVLogger (loss.csv), nn::EarlyStopping, the optim schedules, nn::ModelCheckpoint.
//
//   tapegrad train                      the reference model: SimpleRNN(64) -> SimpleRNN(32) ->
//                                       Dense(1) on 100 random sequences, Adam 1e-3, 100 epochs
//   tapegrad train --cell lstm --units 32 --data series.csv --window 12 --validation-split 0.2
//   tapegrad train --epochs 50 --checkpoint run.ckpt      ... later:
//   tapegrad train --epochs 100 --resume run.ckpt          continues at "Epoch 51/100"
//   tapegrad train --validation-split 0.2 --early-stopping 5 --lr-schedule plateau
//
// Writes into --out-dir: loss.csv after every epoch (nn::CSVLogger: epoch,loss,val_loss,lr,
// epoch 0-based as Keras's CSVLogger, NA where there is no value) and model.safetensors at
// the end. --checkpoint writes model, optimizer state, epoch, the run's loss history and the
// generator state after every epoch (atomically); --resume restores all of them and fits with
// initial_epoch, so a run stopped and resumed writes the same weights and loss.csv, bit for
// bit (with --threads 1), as one run straight through. --epochs counts the whole run, as
// Keras's fit(initial_epoch=...) does.
#include "command.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/tapegrad.hpp>
#include <tapegrad/tools/viz/chart.hpp>

#include "common.hpp"
#include "data.hpp"
#include "predict.hpp"

namespace tapegrad::cli {
namespace {

namespace fs = std::filesystem;

// --lr-schedule and its parameters.
struct ScheduleConfig {
  std::string kind = "none";  // none, step, exponential, cosine, plateau
  int64_t step_size = 10;
  double gamma = 0;  // used only when given; else the schedule's default below
  bool has_gamma = false;
  int64_t patience = 10;
  double min_lr = 0;
};

struct TrainConfig {
  ModelConfig model;
  std::string optimizer = "adam";
  double lr = 0;  // used only when given
  bool has_lr = false;
  double clip_norm = 0, clip_value = 0;
  bool has_clip_norm = false, has_clip_value = false;
  std::string loss = "mse";
  std::vector<std::string> metrics;  // --metrics: logged beside the loss
  ScheduleConfig schedule;
  int early_stopping = -1;  // patience; -1: off
  int epochs = 100;
  int64_t batch_size = 32;
  DataConfig data;
  double validation_split = 0;
  std::uint64_t seed = 0;
  int threads = 0;  // 0: the library's default
  int verbose = 1;
  std::string checkpoint;
  std::string resume;
  std::string plot;               // chart of the loss curve, when given
  tools::LineChartOptions chart;  // its size and dpi
  std::string out_dir = ".";
};

template <class Options>
Options common_options(Options o, const TrainConfig& c) {
  if (c.has_lr) o.lr = c.lr;
  if (c.has_clip_norm) o.clipnorm = c.clip_norm;
  if (c.has_clip_value) o.clipvalue = c.clip_value;
  return o;
}

std::unique_ptr<optim::Optimizer> build_optimizer(const TrainConfig& c, const nn::Module& model) {
  const NamedTensors params = model.named_parameters();
  if (c.optimizer == "sgd") {
    return std::make_unique<optim::SGD>(params, common_options(optim::SGDOptions{}, c));
  }
  if (c.optimizer == "gd") {
    return std::make_unique<optim::GD>(params, common_options(optim::GDOptions{}, c));
  }
  if (c.optimizer == "adam") {
    return std::make_unique<optim::Adam>(params, common_options(optim::AdamOptions{}, c));
  }
  if (c.optimizer == "adamw") {
    return std::make_unique<optim::AdamW>(params, common_options(optim::AdamWOptions{}, c));
  }
  if (c.optimizer == "rmsprop") {
    return std::make_unique<optim::RMSprop>(params, common_options(optim::RMSpropOptions{}, c));
  }
  throw_error<ValueError>("unknown optimizer '{}'", c.optimizer);
}

std::unique_ptr<nn::Loss> build_loss(const std::string& name) {
  if (name == "mse") return std::make_unique<nn::MSE>();
  if (name == "mae") return std::make_unique<nn::MAE>();
  if (name == "huber") return std::make_unique<nn::Huber>();
  throw_error<ValueError>("unknown loss '{}' (mse, mae or huber)", name);
}

// The --lr-schedule callback on `opt`, or none. Built before --resume restores the optimizer,
// so a schedule's base lr is the run's first; fit's absolute epochs then put it where the
// run was.
std::shared_ptr<nn::Callback> schedule_callback(const TrainConfig& c, optim::Optimizer& opt) {
  const ScheduleConfig& s = c.schedule;
  const auto gamma = [&](double fallback) { return s.has_gamma ? s.gamma : fallback; };
  const auto run = [](std::shared_ptr<optim::Schedule> schedule) {
    return std::make_shared<nn::ScheduleCallback>(std::move(schedule));
  };
  if (s.kind == "step") return run(std::make_shared<optim::StepLR>(opt, s.step_size, gamma(0.1)));
  if (s.kind == "exponential") return run(std::make_shared<optim::ExponentialLR>(opt, gamma(0.95)));
  if (s.kind == "cosine") return run(std::make_shared<optim::CosineLR>(opt, c.epochs, s.min_lr));
  if (s.kind == "plateau") {
    return std::make_shared<nn::ReduceLROnPlateau>(
        optim::PlateauOptions{.factor = gamma(0.1), .patience = s.patience, .min_lr = s.min_lr});
  }
  return nullptr;
}

// ---- --resume ----

std::string describe_data(const DataConfig& d) {
  if (!d.path.empty()) return d.path;
  if (d.samples == 100 && d.seq == 10) return "random";  // as checkpoints before --samples
  return fmt::format("random {}x{}", d.samples, d.seq);
}

// The flags a checkpoint was made with; a resumed run must build the same model and
// optimizer.
std::map<std::string, std::string> run_description(const TrainConfig& c) {
  return {{"cell", c.model.cell},
          {"units", join_units(c.model.units)},
          {"optimizer", c.optimizer},
          {"loss", c.loss},
          {"seed", std::to_string(c.seed)},
          {"data", describe_data(c.data)},
          {"window", c.data.path.empty() ? "" : std::to_string(c.data.window)}};
}

void check_resume_matches(const TrainConfig& c, const nn::CheckpointInfo& info) {
  const auto now = run_description(c);
  for (const char* key : {"cell", "units", "optimizer", "loss"}) {
    const auto it = info.extra.find(key);
    if (it != info.extra.end() && it->second != now.at(key)) {
      throw_error<ValueError>("--resume: '{}' was made with --{} {}, this run has --{} {}",
                              c.resume, key, it->second, key, now.at(key));
    }
  }
  for (const char* key : {"seed", "data", "window"}) {
    const auto it = info.extra.find(key);
    if (it != info.extra.end() && it->second != now.at(key) && dist::is_root()) {
      std::cerr << fmt::format("tapegrad: warning: '{}' was made with {} '{}', this run has '{}'\n",
                               c.resume, key, it->second, now.at(key));
    }
  }
}

struct Resumed {
  int epoch = 0;        // epochs done: fit's initial_epoch
  nn::History history;  // of those epochs
};

// The rows of the epochs before `epochs` from the loss.csv the run continues (as Keras's
// CSVLogger(append=True) continues its file). Without them (another --out-dir, a deleted
// log) the run goes on, and those epochs read NA.
nn::History earlier_history(const std::string& csv_path, int epochs, bool validation) {
  try {
    return nn::read_csv_log(csv_path, epochs);
  } catch (const IOError& e) {
    std::cerr << fmt::format("tapegrad: warning: {}; the loss of epochs before {} reads NA\n",
                             e.what(), epochs);
  }
  nn::History h;
  h.epochs = epochs;
  for (const char* key : {"loss", "val_loss", "lr"}) {
    if (validation || std::string_view(key) != "val_loss") h.history[key].assign(epochs, NAN);
  }
  return h;
}

// Loads model and optimizer from --resume, and the loss history from loss.csv.
Resumed resume(const TrainConfig& c, nn::Module& model, optim::Optimizer& opt,
               const std::string& csv_path) {
  check_resume_matches(c, nn::read_checkpoint_info(c.resume));
  const nn::CheckpointInfo info = nn::load_checkpoint(c.resume, model, opt);
  // The history gets a row per epoch done, so the epoch count from the file is bounded by the
  // run's (--epochs is at most 10^6) before anything is sized by it.
  if (info.epoch > c.epochs) {
    throw_error<ValueError>(
        "--resume: '{}' is at epoch {}, past --epochs {}: give --epochs {} or more to continue it",
        c.resume, info.epoch, c.epochs, info.epoch);
  }
  if (c.verbose > 0 && dist::is_root()) {
    const auto ranks = info.extra.find("ranks");
    const std::string written_by =
        ranks == info.extra.end() ? "" : fmt::format(" (written by {} rank(s))", ranks->second);
    std::cout << fmt::format("Resumed from '{}' at epoch {}/{}{}\n", c.resume, info.epoch, c.epochs,
                             written_by);
  }
  return {info.epoch, earlier_history(csv_path, info.epoch, c.validation_split > 0)};
}

// ---- output ----

void print_setup(const TrainConfig& c, const nn::Module& model, const optim::Optimizer& opt,
                 const nn::Loss& loss, const Dataset& data) {
  int64_t parameters = 0;
  for (const auto& p : model.parameters()) parameters += p.numel();
  const std::string schedule =
      c.schedule.kind == "none" ? "" : fmt::format(", lr schedule {}", c.schedule.kind);
  const bool drops = c.model.dropout > 0 || c.model.recurrent_dropout > 0;
  const std::string dropout = drops ? fmt::format(" (dropout {}, recurrent_dropout {})",
                                                  c.model.dropout, c.model.recurrent_dropout)
                                    : "";
  std::cout << fmt::format(
      "Model: {} x {} ({}){} -> Dense(1), {} parameters; optimizer {} lr {}{}, loss {}\nData: "
      "{}\n",
      c.model.cell, c.model.units.size(), join_units(c.model.units), dropout, parameters,
      c.optimizer, opt.lr(), schedule, loss.name(), data.description);
}

// What --early-stopping did: where it stopped, whose weights the model now holds.
void print_early_stopping(const nn::EarlyStopping& stop, const TrainConfig& c) {
  const char* monitor = c.validation_split > 0 ? "val_loss" : "loss";
  if (stop.stopped_epoch() >= 0) {
    std::cout << fmt::format(
        "Early stopping at epoch {} (loss.csv epoch {}): {} did not improve for {} epochs\n",
        stop.stopped_epoch() + 1, stop.stopped_epoch(), monitor, c.early_stopping);
  }
  if (stop.restored_epoch() >= 0) {
    std::cout << fmt::format(
        "Restored the weights of epoch {} ({} {:.6g}; loss.csv epoch {}), the best\n",
        stop.restored_epoch() + 1, monitor, stop.best(), stop.restored_epoch());
  }
}

// ", mae: ..., val_loss: ..., val_mae: ..." of a row of the run, in the progress bar's order
// (after the loss), the keys the run has.
std::string logged_values(const nn::History& run, std::size_t row,
                          const std::vector<std::string>& metrics) {
  std::vector<std::string> keys = metrics;
  keys.emplace_back("val_loss");
  for (const std::string& m : metrics) keys.push_back("val_" + m);
  std::string out;
  for (const std::string& key : keys) {
    if (run.has(key) && row < run[key].size())
      out += fmt::format(", {}: {:.6g}", key, run[key][row]);
  }
  return out;
}

// Epochs count from 1 in what train prints (as the progress bar's "Epoch 8/100" and Keras's
// messages do) and from 0 in loss.csv (Keras's CSVLogger); each line naming an epoch gives
// both. The final loss is that of the weights written: the restored epoch's (`restored`, a
// loss.csv row) after early stopping, else the last epoch's.
void print_result(const TrainConfig& c, const nn::History& run, int restored, int epochs_run,
                  double seconds, const std::string& csv_path, const std::string& model_path) {
  if (epochs_run == 0) {
    std::cout << fmt::format("Nothing to train: the checkpoint is at epoch {} of --epochs {}\n",
                             run.epochs, c.epochs);
  }
  if (run.epochs > 0) {
    const auto row = static_cast<std::size_t>(restored >= 0 ? restored : run.epochs - 1);
    const std::string val = logged_values(run, row, c.metrics);
    const std::string when =
        restored >= 0
            ? fmt::format("of epoch {} (loss.csv epoch {}), whose weights are saved; {} epochs run",
                          row + 1, row, run.epochs)
            : fmt::format("after {} epochs", run.epochs);
    std::cout << fmt::format("Final loss: {:.6g}{} {}\n", run["loss"][row], val, when);
  }
  if (epochs_run > 0) {
    std::cout << fmt::format("Time: {:.2f} s for {} epochs, {:.1f} ms/epoch\n", seconds, epochs_run,
                             1000.0 * seconds / epochs_run);
  }
  std::cout << fmt::format("Wrote {}{} and {}", csv_path, c.plot.empty() ? "" : ", " + c.plot,
                           model_path);
  if (!c.checkpoint.empty() && epochs_run > 0) {
    std::cout << fmt::format(" (checkpoint {})", c.checkpoint);
  }
  std::cout << std::endl;
}

// Loss (and val_loss) per epoch, numbered as in loss.csv (from 0); epochs without a value
// (NaN) are left out.
std::vector<tools::LineSeries> loss_series(const nn::History& run) {
  std::vector<tools::LineSeries> out;
  for (const char* key : {"loss", "val_loss"}) {
    if (!run.has(key)) continue;
    tools::LineSeries s{.label = key};
    const std::vector<double>& values = run[key];
    for (std::size_t epoch = 0; epoch < values.size(); ++epoch) {
      if (!std::isfinite(values[epoch])) continue;
      s.x.push_back(static_cast<double>(epoch));
      s.y.push_back(values[epoch]);
    }
    if (!s.x.empty()) out.push_back(std::move(s));
  }
  return out;
}

// The epoch of the lowest loss of `s` (val_loss when there is one: loss_series puts it last),
// marked on the chart as early stopping would choose it.
tools::ChartMark best_epoch(const tools::LineSeries& s) {
  const auto best = std::min_element(s.y.begin(), s.y.end()) - s.y.begin();
  return {.x = s.x[best],
          .y = s.y[best],
          .label = fmt::format("best epoch {}: {} {:.4g}", s.x[best], s.label, s.y[best])};
}

int run_train(const TrainConfig& c) {
  if (c.threads > 0) set_num_threads(c.threads);
  if (!c.plot.empty()) tools::check_chart_path(c.plot);  // before training, not after
  fs::create_directories(c.out_dir);
  const std::string csv_path = (fs::path(c.out_dir) / "loss.csv").string();
  const std::string model_path = (fs::path(c.out_dir) / "model.safetensors").string();

  // Seed, data, model, optimizer: always in this order, so a resumed run rebuilds the same.
  manual_seed(c.seed);
  const Dataset data = load_data(c.data, c.validation_split);
  const auto model = build_model(c.model, input_features(c.data));
  const auto opt = build_optimizer(c, *model);
  const auto loss_fn = build_loss(c.loss);
  const auto schedule = schedule_callback(c, *opt);
  const Resumed start = c.resume.empty() ? Resumed{} : resume(c, *model, *opt, csv_path);
  // Under mpirun every rank trains its share of each batch; rank 0 alone prints and writes.
  if (c.verbose > 0 && dist::is_root()) print_setup(c, *model, *opt, *loss_fn, data);

  // The order matters: loss.csv has this epoch's row before the checkpoint is saved, and the
  // checkpoint the lr the schedule set for the next; early stopping restores the best weights
  // after it was saved.
  const auto csv = std::make_shared<nn::CSVLogger>(csv_path, start.history);
  nn::FitOptions fit_opts{.epochs = c.epochs,
                          .initial_epoch = start.epoch,
                          .batch_size = c.batch_size,
                          .validation_split = c.validation_split,
                          .callbacks = {csv},
                          .verbose = c.verbose};
  fit_opts.distributed = true;
  fit_opts.metrics = c.metrics;
  if (schedule) fit_opts.callbacks.push_back(schedule);
  if (!c.checkpoint.empty()) {
    fit_opts.callbacks.push_back(std::make_shared<nn::ModelCheckpoint>([&](int epoch) {
      // The world size is recorded, not checked: any number of ranks resumes the run.
      auto extra = run_description(c);
      extra["ranks"] = std::to_string(dist::world_size());
      nn::save_checkpoint(c.checkpoint, *model, *opt, {.epoch = epoch + 1, .extra = extra});
    }));
  }
  std::shared_ptr<nn::EarlyStopping> stopping;
  if (c.early_stopping >= 0) {
    stopping = std::make_shared<nn::EarlyStopping>(nn::EarlyStoppingOptions{
        .monitor = "val_loss", .patience = c.early_stopping, .restore_best_weights = true});
    fit_opts.callbacks.push_back(stopping);
  }

  const auto t0 = std::chrono::steady_clock::now();
  const nn::History h = nn::fit(*model, *loss_fn, *opt, data.X, data.y, fit_opts);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (!dist::is_root()) return 0;
  std::map<std::string, std::string> metadata = series_metadata(data.scaler, c.data);
  metadata.merge(columns_metadata(data, c.data));
  nn::save(*model, model_path, metadata);
  const std::vector<tools::LineSeries> curve = loss_series(csv->history());
  if (!c.plot.empty() && !curve.empty()) {
    tools::LineChartOptions chart = c.chart;
    chart.title = fmt::format("{}: {} per epoch", describe_layers(c.model), loss_fn->name());
    chart.x_label = "epoch";
    chart.y_label = "loss";
    chart.log_y = true;
    chart.marks = {best_epoch(curve.back())};
    tools::write_line_chart(c.plot, curve, chart);
  }
  if (c.verbose > 0) {
    if (stopping) print_early_stopping(*stopping, c);
    print_result(c, csv->history(), stopping ? stopping->restored_epoch() : -1, h.epochs, seconds,
                 csv_path, model_path);
  }
  return 0;
}

// ---- flags ----

// The options whose presence, not value, decides (an lr of the optimizer's own by default).
struct GivenFlags {
  CLI::Option *lr, *clip_norm, *clip_value, *gamma;
};

// --metrics mae,rmse: shown beside the loss in the progress and as loss.csv columns (mae,
// val_mae), as Keras's compile(metrics=...) does.
void add_metrics_flag(CLI::App& train, TrainConfig& c) {
  const std::vector<std::string>& names = nn::metric_names();
  train
      .add_option("--metrics", c.metrics,
                  "Metrics beside the loss, comma-separated (--metrics mae,rmse); shown in the "
                  "progress and written to loss.csv as columns NAME and val_NAME")
      ->delimiter(',')
      ->check(CLI::IsMember(names).description(""))
      ->type_name(fmt::format("{}", fmt::join(names, "|")));
}

void add_optimizer_flags(CLI::App& train, TrainConfig& c, GivenFlags& given) {
  train.add_option("--optimizer", c.optimizer, "Optimizer")
      ->check(CLI::IsMember({"sgd", "gd", "adam", "adamw", "rmsprop"}).description(""))
      ->type_name("sgd|gd|adam|adamw|rmsprop")
      ->capture_default_str();
  given.lr = train.add_option("--lr", c.lr, "Learning rate (default: the optimizer's)")
                 ->check(positive_number())
                 ->type_name("X");
  given.clip_norm =
      train.add_option("--clip-norm", c.clip_norm, "Clip each gradient to this L2 norm")
          ->check(positive_number())
          ->type_name("X");
  given.clip_value =
      train.add_option("--clip-value", c.clip_value, "Clip gradient elements to +-this")
          ->check(positive_number())
          ->type_name("X")
          ->excludes(given.clip_norm);
  given.clip_norm->excludes(given.clip_value);
  train
      .add_option("--loss", c.loss,
                  "Loss: mean squared error, mean absolute error, Huber (delta 1)")
      ->check(CLI::IsMember({"mse", "mae", "huber"}).description(""))
      ->type_name("mse|mae|huber")
      ->capture_default_str();
  add_metrics_flag(train, c);
}

void add_schedule_flags(CLI::App& train, ScheduleConfig& s, GivenFlags& given) {
  CLI::Option* kind =
      train
          .add_option("--lr-schedule", s.kind,
                      "lr per epoch: step (x gamma every --lr-step-size epochs), exponential "
                      "(x gamma each epoch), cosine (down to --lr-min at --epochs), plateau (x "
                      "gamma after --lr-patience epochs without improvement of val_loss, else "
                      "loss)")
          ->check(
              CLI::IsMember({"none", "step", "exponential", "cosine", "plateau"}).description(""))
          ->type_name("none|step|exponential|cosine|plateau")
          ->capture_default_str();
  train.add_option("--lr-step-size", s.step_size, "Epochs between two steps of --lr-schedule step")
      ->check(integer_in(1, 1000000))
      ->type_name("N")
      ->needs(kind)
      ->capture_default_str();
  given.gamma = train
                    .add_option("--lr-gamma", s.gamma,
                                "lr factor of step, exponential and plateau (default 0.1, 0.95 "
                                "and 0.1)")
                    ->check(open_fraction())
                    ->type_name("F")
                    ->needs(kind);
  train.add_option("--lr-patience", s.patience, "Epochs without improvement before plateau cuts")
      ->check(integer_in(0, 1000000))
      ->type_name("N")
      ->needs(kind)
      ->capture_default_str();
  train.add_option("--lr-min", s.min_lr, "Lowest lr of cosine and plateau")
      ->check(CLI::Range(0.0, 1e300).description(""))
      ->type_name("X")
      ->needs(kind)
      ->capture_default_str();
}

void add_run_flags(CLI::App& train, TrainConfig& c) {
  train.add_option("--epochs", c.epochs, "Epochs of the whole run")
      ->check(integer_in(1, 1000000))
      ->type_name("N")
      ->capture_default_str();
  train.add_option("--batch-size", c.batch_size, "Samples per batch")
      ->check(integer_in(1, int64_t{1} << 40))
      ->type_name("N")
      ->capture_default_str();
  train
      .add_option("--early-stopping", c.early_stopping,
                  "Stop after PATIENCE epochs without improvement of val_loss (else loss); the "
                  "model keeps the best epoch's weights, and \"Final loss\" is that epoch's "
                  "(epochs printed count from 1, loss.csv's from 0)")
      ->check(integer_in(0, 1000000))
      ->type_name("PATIENCE");
  train
      .add_option("--validation-split", c.validation_split,
                  "Fraction of samples (the last ones) kept for validation")
      ->check(fraction_below_one())
      ->type_name("F")
      ->capture_default_str();
  train.add_option("--seed", c.seed, "Random seed (data, initial weights, shuffling)")
      ->check(unsigned_64())
      ->type_name("N")
      ->capture_default_str();
  add_timeout_flag(train);
  train.add_option("--threads", c.threads, "BLAS threads (0: library default)")
      ->check(integer_in(0, 1024))
      ->type_name("N")
      ->capture_default_str();
  train
      .add_option("--verbose", c.verbose,
                  "0 nothing but errors, 1 progress bar, 2 one line per epoch")
      ->check(integer_in(0, 2))
      ->type_name("0|1|2")
      ->capture_default_str();
}

void add_file_flags(CLI::App& train, TrainConfig& c) {
  add_file_to_write(train, "--checkpoint", c.checkpoint,
                    "Save model, optimizer, epoch, loss history and RNG state here every epoch")
      ->type_name("PATH");
  train.add_option("--resume", c.resume, "Continue the run saved in this checkpoint")
      ->type_name("PATH");
  train.add_option("--out-dir", c.out_dir, "Directory for loss.csv and model.safetensors")
      ->type_name("DIR")
      ->capture_default_str();
  add_file_to_write(train, "--plot", c.plot,
                    "Chart the loss (and val_loss) per epoch: .svg, .png or .pdf");
  add_chart_flags(train, c.chart);
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto c = std::make_shared<TrainConfig>();
  CLI::App* train =
      app.add_subcommand("train", "Train a model; write loss.csv and model.safetensors");
  train->footer(
      "Without --data, trains the reference model on tg::rand data (seeded by --seed).\n"
      "With --data, forecasts the next value of a CSV series from --window previous ones.\n"
      "--epochs counts the whole run: --resume of a checkpoint at epoch 50 with --epochs 100\n"
      "trains epochs 51..100. loss.csv: epoch,loss,val_loss,lr, epoch from 0 (Keras's\n"
      "CSVLogger), NA where there is no value. Errors give one line on stderr and exit code 2.");
  GivenFlags given{};
  add_model_flags(*train, c->model);
  add_dropout_flags(*train, c->model);
  add_optimizer_flags(*train, *c, given);
  add_schedule_flags(*train, c->schedule, given);
  add_run_flags(*train, *c);
  add_data_flags(*train, c->data);
  add_file_flags(*train, *c);
  return {train, [c, given] {
            c->has_lr = given.lr->count() > 0;
            c->has_clip_norm = given.clip_norm->count() > 0;
            c->has_clip_value = given.clip_value->count() > 0;
            c->schedule.has_gamma = given.gamma->count() > 0;
            return run_train(*c);
          }};
}

}  // namespace tapegrad::cli
