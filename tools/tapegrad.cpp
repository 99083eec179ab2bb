// tapegrad: the command-line program.
//
//   tapegrad train                      the reference model: SimpleRNN(64) -> SimpleRNN(32) ->
//                                       Dense(1) on 100 random sequences, Adam 1e-3, 100 epochs
//   tapegrad train --cell lstm --units 32 --data series.csv --window 12 --validation-split 0.2
//   tapegrad train --epochs 50 --checkpoint run.ckpt      ... later:
//   tapegrad train --epochs 100 --resume run.ckpt          continues at epoch 51
//   tapegrad info out/model.safetensors                     what a weights file or checkpoint holds
//   tapegrad info --cell gru --units 64,32                  parameter names, shapes and count
//   tapegrad predict --weights out/model.safetensors        the saved model's predictions
//   tapegrad dot --fold 2 -o graph.png                      the graph of one forward + loss
//   tapegrad cv --units 8,16,32 --folds 5                   the hidden size by cross-validation
//
// train writes loss.csv (epoch,loss[,val_loss], epochs counted from 1) after every epoch and
// model.safetensors at the end into --out-dir. --checkpoint writes model, optimizer state,
// epoch and generator state after every epoch (atomically, through nn::ModelCheckpoint);
// --resume restores all of them, so a run stopped and resumed lands on the same weights,
// bit for bit (with --threads 1), as one run straight through. --epochs counts the whole
// run, as Keras's fit(initial_epoch=...) does.
//
// Every user mistake (a bad flag, a missing file, a checkpoint of another model) ends with
// one line on stderr and exit code 2.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/tapegrad.hpp>

#include "cli_common.hpp"
#include "cli_cv.hpp"
#include "cli_data.hpp"
#include "cli_dot.hpp"
#include "cli_gradflow.hpp"
#include "cli_info.hpp"
#include "cli_predict.hpp"
#include "cli_run.hpp"

namespace {

namespace tg = tapegrad;
namespace fs = std::filesystem;

using namespace tg::cli;

constexpr int kUsageError = 2;

struct TrainConfig {
  ModelConfig model;
  std::string optimizer = "adam";
  double lr = 0;  // used only when given
  bool has_lr = false;
  double clip_norm = 0, clip_value = 0;
  bool has_clip_norm = false, has_clip_value = false;
  int epochs = 100;
  int64_t batch_size = 32;
  DataConfig data;
  double validation_split = 0;
  std::uint64_t seed = 0;
  int threads = 0;  // 0: the library's default
  int verbose = 1;
  std::string checkpoint;
  std::string resume;
  std::string plot;  // chart of the loss curve, when given
  std::string out_dir = ".";
};

// A message on one line, whatever the error text holds.
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

template <class Options>
Options common_options(Options o, const TrainConfig& c) {
  if (c.has_lr) o.lr = c.lr;
  if (c.has_clip_norm) o.clipnorm = c.clip_norm;
  if (c.has_clip_value) o.clipvalue = c.clip_value;
  return o;
}

std::unique_ptr<tg::optim::Optimizer> build_optimizer(const TrainConfig& c,
                                                      const tg::nn::Module& model) {
  const tg::NamedTensors params = model.named_parameters();
  if (c.optimizer == "sgd") {
    return std::make_unique<tg::optim::SGD>(params, common_options(tg::optim::SGDOptions{}, c));
  }
  if (c.optimizer == "gd") {
    return std::make_unique<tg::optim::GD>(params, common_options(tg::optim::GDOptions{}, c));
  }
  if (c.optimizer == "adam") {
    return std::make_unique<tg::optim::Adam>(params, common_options(tg::optim::AdamOptions{}, c));
  }
  if (c.optimizer == "adamw") {
    return std::make_unique<tg::optim::AdamW>(params, common_options(tg::optim::AdamWOptions{}, c));
  }
  if (c.optimizer == "rmsprop") {
    return std::make_unique<tg::optim::RMSprop>(params,
                                                common_options(tg::optim::RMSpropOptions{}, c));
  }
  tg::throw_error<tg::ValueError>("unknown optimizer '{}'", c.optimizer);
}

std::string format_history(const std::vector<double>& values) {
  std::vector<std::string> parts;
  for (double v : values) parts.push_back(fmt::format("{}", v));
  return fmt::format("{}", fmt::join(parts, ","));
}

// A history as format_history writes it, read back from a checkpoint: every item must be a
// number in full ("nan" marks an epoch whose loss is unknown). `what` names the entry.
std::vector<double> parse_history(const std::string& text, const std::string& what) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size()) {
      tg::throw_error<tg::ValueError>("{}: item {} is not a number: '{}'", what, out.size() + 1,
                                      item);
    }
    out.push_back(v);
  }
  return out;
}

// The loss curve of the whole run (resumed epochs included), kept for loss.csv and the
// checkpoint.
struct Curve {
  std::vector<double> loss = {}, val_loss = {};
  bool validation = false;

  std::string csv() const {
    std::string text = validation ? "epoch,loss,val_loss\n" : "epoch,loss\n";
    for (std::size_t i = 0; i < loss.size(); ++i) {
      text += validation ? fmt::format("{},{},{}\n", i + 1, loss[i],
                                       i < val_loss.size() ? val_loss[i] : NAN)
                         : fmt::format("{},{}\n", i + 1, loss[i]);
    }
    return text;
  }

  // Loss (and val_loss) per epoch from 1; epochs without a value (NaN) are left out.
  std::vector<tg::tools::LineSeries> series() const {
    std::vector<tg::tools::LineSeries> out{{.label = "loss"}};
    if (validation) out.push_back({.label = "val_loss"});
    const auto add = [](tg::tools::LineSeries& s, std::size_t epoch, double v) {
      if (!std::isfinite(v)) return;
      s.x.push_back(static_cast<double>(epoch + 1));
      s.y.push_back(v);
    };
    for (std::size_t i = 0; i < loss.size(); ++i) add(out[0], i, loss[i]);
    for (std::size_t i = 0; i < val_loss.size() && validation; ++i) add(out[1], i, val_loss[i]);
    std::erase_if(out, [](const tg::tools::LineSeries& s) { return s.x.empty(); });
    return out;
  }

  void save_to(std::map<std::string, std::string>& extra) const {
    extra["history.loss"] = format_history(loss);
    if (validation) extra["history.val_loss"] = format_history(val_loss);
  }

  // The first `epochs` epochs from checkpoint `path`; epochs whose values are missing (an
  // older or foreign checkpoint) read as NaN.
  void restore_from(const std::map<std::string, std::string>& extra, int epochs,
                    const std::string& path) {
    const auto read = [&](const char* key) {
      const auto it = extra.find(key);
      const std::string what = fmt::format("--resume: '{}': metadata 'extra.{}'", path, key);
      std::vector<double> values =
          it == extra.end() ? std::vector<double>{} : parse_history(it->second, what);
      if (static_cast<int>(values.size()) != epochs) values.assign(epochs, NAN);
      return values;
    };
    loss = read("history.loss");
    val_loss = validation ? read("history.val_loss") : std::vector<double>{};
  }
};

// Appends each epoch's losses to the curve and rewrites loss.csv.
class CurveRecorder : public tg::nn::Callback {
 public:
  CurveRecorder(Curve& curve, std::string path) : curve_(curve), path_(std::move(path)) {}
  void on_epoch_end(int, const tg::nn::Logs& logs) override {
    curve_.loss.push_back(logs.at("loss"));
    if (const auto it = logs.find("val_loss"); it != logs.end()) {
      curve_.val_loss.push_back(it->second);
    }
    tg::write_file_atomically("tapegrad train", path_, curve_.csv());
  }

 private:
  Curve& curve_;
  std::string path_;
};

// fit's progress bar with the epochs of a resumed run counted from the start of the run.
class ResumedProgress : public tg::nn::Callback {
 public:
  ResumedProgress(int verbose, int first_epoch, int total_epochs)
      : bar_(verbose, std::cout), first_(first_epoch), total_(total_epochs) {}
  void on_train_begin(const tg::nn::Logs& logs) override {
    bar_.set_context(model(), optimizer(), {total_, params().steps, params().verbose});
    bar_.on_train_begin(logs);
  }
  void on_epoch_begin(int epoch, const tg::nn::Logs& logs) override {
    bar_.on_epoch_begin(first_ + epoch, logs);
  }
  void on_batch_end(int64_t batch, const tg::nn::Logs& logs) override {
    bar_.on_batch_end(batch, logs);
  }
  void on_epoch_end(int epoch, const tg::nn::Logs& logs) override {
    bar_.on_epoch_end(first_ + epoch, logs);
  }
  void on_train_end(const tg::nn::Logs& logs) override { bar_.on_train_end(logs); }

 private:
  tg::nn::ProgbarLogger bar_;
  int first_, total_;
};

void ensure_parent_dir(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
}

// The flags a checkpoint was made with; a resumed run must build the same model and
// optimizer.
std::map<std::string, std::string> run_description(const TrainConfig& c) {
  return {{"cell", c.model.cell},
          {"units", join_units(c.model.units)},
          {"optimizer", c.optimizer},
          {"seed", std::to_string(c.seed)},
          {"data", c.data.path.empty() ? "random" : c.data.path},
          {"window", c.data.path.empty() ? "" : std::to_string(c.data.window)}};
}

void check_resume_matches(const TrainConfig& c, const tg::nn::CheckpointInfo& info) {
  const auto now = run_description(c);
  for (const char* key : {"cell", "units", "optimizer"}) {
    const auto it = info.extra.find(key);
    if (it != info.extra.end() && it->second != now.at(key)) {
      tg::throw_error<tg::ValueError>("--resume: '{}' was made with --{} {}, this run has --{} {}",
                                      c.resume, key, it->second, key, now.at(key));
    }
  }
  for (const char* key : {"seed", "data", "window"}) {
    const auto it = info.extra.find(key);
    if (it != info.extra.end() && it->second != now.at(key)) {
      std::cerr << fmt::format("tapegrad: warning: '{}' was made with {} '{}', this run has '{}'\n",
                               c.resume, key, it->second, now.at(key));
    }
  }
}

// Loads model, optimizer and loss curve from --resume; returns the epoch to continue from.
int resume(const TrainConfig& c, tg::nn::Module& model, tg::optim::Optimizer& opt, Curve& curve) {
  check_resume_matches(c, tg::nn::read_checkpoint_info(c.resume));
  const tg::nn::CheckpointInfo info = tg::nn::load_checkpoint(c.resume, model, opt);
  // The curve gets a row per epoch done, so the epoch count from the file is bounded by the
  // run's (--epochs is at most 10^6) before anything is sized by it.
  if (info.epoch > c.epochs) {
    tg::throw_error<tg::ValueError>(
        "--resume: '{}' is at epoch {}, past --epochs {}: give --epochs {} or more to continue it",
        c.resume, info.epoch, c.epochs, info.epoch);
  }
  curve.restore_from(info.extra, info.epoch, c.resume);
  if (c.verbose > 0) {
    std::cout << fmt::format("Resumed from '{}' at epoch {}/{}\n", c.resume, info.epoch, c.epochs);
  }
  return info.epoch;
}

void print_setup(const TrainConfig& c, const tg::nn::Module& model, const tg::optim::Optimizer& opt,
                 const Dataset& data) {
  int64_t parameters = 0;
  for (const auto& p : model.parameters()) parameters += p.numel();
  std::cout << fmt::format(
      "Model: {} x {} ({}) -> Dense(1), {} parameters; optimizer {} lr {}\nData: {}\n",
      c.model.cell, c.model.units.size(), join_units(c.model.units), parameters, c.optimizer,
      opt.lr(), data.description);
}

void print_result(const TrainConfig& c, const Curve& curve, int epochs_run, double seconds,
                  const std::string& csv_path, const std::string& model_path) {
  if (epochs_run == 0) {
    std::cout << fmt::format("Nothing to train: the checkpoint is at epoch {} of --epochs {}\n",
                             curve.loss.size(), c.epochs);
  }
  if (!curve.loss.empty()) {
    const std::string val = curve.validation && !curve.val_loss.empty()
                                ? fmt::format(", val_loss: {:.6g}", curve.val_loss.back())
                                : "";
    std::cout << fmt::format("Final loss: {:.6g}{} after {} epochs\n", curve.loss.back(), val,
                             curve.loss.size());
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

int run_train(const TrainConfig& c) {
  if (c.threads > 0) tg::set_num_threads(c.threads);
  if (!c.plot.empty()) tg::tools::check_chart_path(c.plot);  // before training, not after
  fs::create_directories(c.out_dir);
  const std::string csv_path = (fs::path(c.out_dir) / "loss.csv").string();
  const std::string model_path = (fs::path(c.out_dir) / "model.safetensors").string();
  if (!c.checkpoint.empty()) ensure_parent_dir(c.checkpoint);

  // Seed, data, model, optimizer: always in this order, so a resumed run rebuilds the same.
  tg::manual_seed(c.seed);
  const Dataset data = load_data(c.data, c.validation_split);
  const auto model = build_model(c.model, 1);
  const auto opt = build_optimizer(c, *model);
  tg::nn::MSE loss_fn;

  Curve curve{.validation = c.validation_split > 0};
  const int start = c.resume.empty() ? 0 : resume(c, *model, *opt, curve);
  if (c.verbose > 0) print_setup(c, *model, *opt, data);

  tg::nn::FitOptions fit_opts{.epochs = std::max(0, c.epochs - start),
                              .batch_size = c.batch_size,
                              .verbose = 0,
                              .validation_split = c.validation_split};
  if (c.verbose > 0) {
    fit_opts.callbacks.push_back(std::make_shared<ResumedProgress>(c.verbose, start, c.epochs));
  }
  fit_opts.callbacks.push_back(std::make_shared<CurveRecorder>(curve, csv_path));
  if (!c.checkpoint.empty()) {
    fit_opts.callbacks.push_back(std::make_shared<tg::nn::ModelCheckpoint>([&](int epoch) {
      tg::nn::CheckpointInfo info{.epoch = start + epoch + 1, .extra = run_description(c)};
      curve.save_to(info.extra);
      tg::nn::save_checkpoint(c.checkpoint, *model, *opt, info);
    }));
  }

  const auto t0 = std::chrono::steady_clock::now();
  const tg::nn::History h = tg::nn::fit(*model, loss_fn, *opt, data.X, data.y, fit_opts);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  tg::write_file_atomically("tapegrad train", csv_path, curve.csv());
  tg::nn::save(*model, model_path);
  if (!c.plot.empty() && !curve.series().empty()) {
    tg::tools::write_line_chart(
        c.plot, curve.series(),
        {.title = fmt::format("{}: MSE per epoch", describe_layers(c.model)),
         .x_label = "epoch",
         .y_label = "loss",
         .log_y = true});
  }
  print_result(c, curve, h.epochs, seconds, csv_path, model_path);
  return 0;
}

// Validators whose messages read well ("--lr: must be a number > 0, got '-1'").
CLI::Validator real_number(bool (*ok)(double), const std::string& rule) {
  return CLI::Validator(
      [ok, rule](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !ok(v))
          return "must be " + rule + ", got '" + text + "'";
        return {};
      },
      "");
}

CLI::Validator positive_number() {
  return real_number([](double v) { return v > 0 && !std::isinf(v); }, "a number > 0");
}

CLI::Validator fraction_below_one() {
  return real_number([](double v) { return v >= 0 && v < 1; }, "a number in [0, 1)");
}

// The flags of `tapegrad train`; the returned options tell after parsing which were given.
struct GivenFlags {
  CLI::Option *lr, *clip_norm, *clip_value;
};

GivenFlags add_train_flags(CLI::App& train, TrainConfig& c) {
  add_model_flags(train, c.model);
  train.add_option("--optimizer", c.optimizer, "Optimizer")
      ->check(CLI::IsMember({"sgd", "gd", "adam", "adamw", "rmsprop"}).description(""))
      ->type_name("sgd|gd|adam|adamw|rmsprop")
      ->capture_default_str();
  CLI::Option* lr = train.add_option("--lr", c.lr, "Learning rate (default: the optimizer's)")
                        ->check(positive_number())
                        ->type_name("X");
  CLI::Option* clip_norm =
      train.add_option("--clip-norm", c.clip_norm, "Clip each gradient to this L2 norm")
          ->check(positive_number())
          ->type_name("X");
  CLI::Option* clip_value =
      train.add_option("--clip-value", c.clip_value, "Clip gradient elements to +-this")
          ->check(positive_number())
          ->type_name("X")
          ->excludes(clip_norm);
  clip_norm->excludes(clip_value);
  train.add_option("--epochs", c.epochs, "Epochs of the whole run")
      ->check(CLI::Range(1, 1000000).description(""))
      ->type_name("N")
      ->capture_default_str();
  train.add_option("--batch-size", c.batch_size, "Samples per batch")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40).description(""))
      ->type_name("N")
      ->capture_default_str();
  add_data_flags(train, c.data);
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
  train.add_option("--threads", c.threads, "BLAS threads (0: library default)")
      ->check(CLI::Range(0, 1024).description(""))
      ->type_name("N")
      ->capture_default_str();
  train.add_option("--verbose", c.verbose, "0 silent, 1 progress bar, 2 one line per epoch")
      ->check(CLI::Range(0, 2).description(""))
      ->type_name("0|1|2")
      ->capture_default_str();
  train
      .add_option("--checkpoint", c.checkpoint,
                  "Save model, optimizer, epoch and RNG state here after every epoch")
      ->type_name("PATH");
  train.add_option("--resume", c.resume, "Continue the run saved in this checkpoint")
      ->type_name("PATH");
  train.add_option("--out-dir", c.out_dir, "Directory for loss.csv and model.safetensors")
      ->type_name("DIR")
      ->capture_default_str();
  train.add_option("--plot", c.plot, "Chart the loss (and val_loss) per epoch: .svg, .png or .pdf")
      ->type_name("FILE");

  return {lr, clip_norm, clip_value};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tapegrad: train recurrent networks from the command line", "tapegrad"};
  app.set_version_flag("--version", "tapegrad 0.1.0");
  app.require_subcommand(1);
  app.get_formatter()->column_width(34);
  app.footer("Run 'tapegrad <command> --help' for the flags of a command.");

  TrainConfig cfg;
  CLI::App* train =
      app.add_subcommand("train", "Train a model; write loss.csv and model.safetensors");
  train->footer(
      "Without --data, trains the reference model on tg::rand data (seeded by --seed).\n"
      "With --data, forecasts the next value of a CSV series from --window previous ones.\n"
      "--epochs counts the whole run: --resume of a checkpoint at epoch 50 with --epochs 100\n"
      "trains epochs 51..100. Errors give one line on stderr and exit code 2.");
  const GivenFlags given = add_train_flags(*train, cfg);

  const Command info = add_info_command(app);
  const Command predict = add_predict_command(app);
  const Command dot = add_dot_command(app);
  const Command gradflow = add_gradflow_command(app);
  const Command cv = add_cv_command(app);
  const Command run = add_run_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    const std::vector<CLI::App*> parsed = app.get_subcommands();
    const std::string where =
        parsed.empty() ? std::string("tapegrad") : "tapegrad " + parsed.front()->get_name();
    std::cerr << fmt::format("{}: error: {} (see {} --help)\n", where, one_line(e.what()), where);
    return kUsageError;
  }
  cfg.has_lr = given.lr->count() > 0;
  cfg.has_clip_norm = given.clip_norm->count() > 0;
  cfg.has_clip_value = given.clip_value->count() > 0;

  try {
    if (train->parsed()) return run_train(cfg);
    if (dot.app->parsed()) return dot.run();
    if (gradflow.app->parsed()) return gradflow.run();
    if (cv.app->parsed()) return cv.run();
    if (run.app->parsed()) return run.run();
    if (predict.app->parsed()) return predict.run();
    return info.run();
  } catch (const tg::Error& e) {
    std::cerr << "tapegrad: error: " << one_line(e.what()) << std::endl;
    return kUsageError;
  } catch (const fs::filesystem_error& e) {
    std::cerr << "tapegrad: error: " << one_line(e.what()) << std::endl;
    return kUsageError;
  } catch (const std::exception& e) {
    std::cerr << "tapegrad: internal error: " << one_line(e.what()) << std::endl;
    return 1;
  }
}
