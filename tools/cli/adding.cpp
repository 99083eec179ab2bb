// `tapegrad adding`: where a SimpleRNN stops learning and LSTM and GRU go on, measured on the
// adding problem, and what clipping does against exploding gradients.
//
//   tapegrad adding --cell rnn,lstm,gru --steps 10,50,100,200 -o adding.svg
//
// Trains every cell at every length --seeds times with the same budget
// (tg::tools::run_adding, tools/experiments/adding.hpp) on the cores the machine has (--jobs),
// prints the test MSE per cell and length, and writes the chart (-o), the runs beside it
// (adding.csv: cell,steps,seed,test_mse,epochs_to_0.01), and the clipping comparison
// (adding_clipping.svg and adding_clipping.csv: a relu SimpleRNN trained by plain SGD with and
// without --clip-norm, default 0.3 there). --clip-norm also clips the gradient of every run of
// the main experiment, so a teacher can show that clipping does not cure a vanishing gradient.
#include "command.hpp"

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/tools/experiments/adding.hpp>

#include "common.hpp"

namespace tapegrad::cli {
namespace {

namespace fs = std::filesystem;

struct AddingConfig {
  tools::AddingOptions experiment;
  double clip_norm = 0;  // 0: not given
  std::string out;
  tools::LineChartOptions chart{.width = 1500, .height = 560};
};

// `path` with its stem extended by `suffix` and the extension `extension`.
std::string beside(const std::string& path, const std::string& suffix,
                   const std::string& extension) {
  const fs::path p(path);
  return (p.parent_path() / (p.stem().string() + suffix + extension)).string();
}

void print_table(const tools::AddingResult& r, const tools::AddingOptions& o) {
  std::string header = fmt::format("{:<10}", "test MSE");
  for (const int64_t t : o.steps) header += fmt::format(" {:>28}", fmt::format("T = {}", t));
  fmt::print("{}\n", header);
  for (const std::string& cell : o.cells) {
    std::string row = fmt::format("{:<10}", tools::cell_title(cell));
    for (const int64_t t : o.steps) {
      const tools::MseSummary m = tools::summarize(r, cell, t);
      row += fmt::format(" {:>28}", fmt::format("{:.3g} ({:.2g}-{:.2g}) {}/{}", m.mean, m.min,
                                                m.max, m.reached_target, o.seeds));
    }
    fmt::print("{}\n", row);
  }
  fmt::print(
      "mean (min-max) over {} seeds, then the seeds that reached MSE < {}; predicting the "
      "mean scores {:.3g}\n",
      o.seeds, o.target_mse, data::kAddingBaselineMse);
}

// The largest finite loss of a curve, and how it ended: the loss that was not finite, or
// the mean over the last epoch's `updates`.
std::string curve_summary(const std::vector<double>& losses, std::size_t updates) {
  double peak = 0;
  for (const double l : losses) {
    if (std::isfinite(l)) peak = std::max(peak, l);
  }
  if (!losses.empty() && !std::isfinite(losses.back())) {
    return fmt::format("loss {} at update {} (peak finite loss {:.3g})", losses.back(),
                       losses.size(), peak);
  }
  const std::size_t last = std::min(updates, losses.size());
  double mean = 0;
  for (std::size_t i = losses.size() - last; i < losses.size(); ++i) mean += losses[i] / last;
  return fmt::format("{} updates, peak loss {:.3g}, last epoch's mean loss {:.3g}", losses.size(),
                     peak, mean);
}

void run_clipping(const AddingConfig& c) {
  // Its own model size: the setting where the unclipped run diverges is fixed, not --units.
  tools::ClippingOptions o{.seed = c.experiment.seed};
  if (c.clip_norm > 0) o.clip_norm = c.clip_norm;
  const tools::ClippingResult r = tools::run_clipping(o);
  const std::string chart = beside(c.out, "_clipping", fs::path(c.out).extension().string());
  const std::string csv = beside(c.out, "_clipping", ".csv");
  tools::write_clipping_csv(r, csv);
  tools::LineChartOptions options;
  options.dpi = c.chart.dpi;
  tools::write_clipping_chart(r, chart, options);
  const auto per_epoch = static_cast<std::size_t>((o.train_size + o.batch_size - 1) / o.batch_size);
  fmt::print("clipping (SimpleRNN relu, SGD lr {}, T = {}): without: {}; clipped to {}: {}\n", o.lr,
             o.steps, curve_summary(r.loss_without, per_epoch), o.clip_norm,
             curve_summary(r.loss_with, per_epoch));
  fmt::print("Wrote {} and {}\n", chart, csv);
}

void run(AddingConfig c) {
  tools::check_chart_path(c.out);
  if (c.clip_norm > 0) c.experiment.clip_norm = c.clip_norm;
  const tools::AddingResult r = tools::run_adding(c.experiment);
  print_table(r, c.experiment);
  const std::string csv = beside(c.out, "", ".csv");
  tools::write_adding_csv(r, c.experiment.target_mse, csv);
  tools::write_adding_chart(r, c.out, c.chart);
  fmt::print("Wrote {} and {}\n", c.out, csv);
  run_clipping(c);
}

// Even lengths of at least 4: one marker in each half of the sequence.
CLI::Validator adding_length() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::string range = integer_in(4, 100000)(text);
        if (!range.empty()) return range;
        return std::stoll(text) % 2 == 0
                   ? ""
                   : "must be even (one marker in each half of the sequence), got " + text;
      },
      "");
}

}  // namespace

Command add_adding_command(CLI::App& app) {
  auto c = std::make_shared<AddingConfig>();
  tools::AddingOptions& e = c->experiment;
  CLI::App* cmd = app.add_subcommand(
      "adding",
      "Train rnn, lstm and gru on the adding problem at several lengths: where each "
      "stops learning");
  add_list_option(*cmd, "--cell", e.cells, "Cells to compare, comma-separated",
                  CLI::IsMember({"rnn", "lstm", "gru"}).description(""))
      ->type_name("rnn,lstm,gru")
      ->default_str("rnn,lstm,gru");
  add_list_option(*cmd, "--steps", e.steps, "Sequence lengths, each even and >= 4", adding_length())
      ->type_name("T,T,...")
      ->default_str("10,50,100,200");
  cmd->add_option("--units", e.units, "Units of the recurrent layer")
      ->check(integer_in(1, 4096))
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--epochs", e.epochs, "Epochs of every run (Adam)")
      ->check(integer_in(1, 1000000))
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--seeds", e.seeds, "Runs per cell and length, each from its own seed")
      ->check(integer_in(1, 1000))
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--seed", e.seed, "Random seed of the whole experiment")
      ->check(unsigned_64())
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--train", e.train_size, "Training sequences per run")
      ->check(integer_in(1, int64_t{1} << 24))
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--test", e.test_size, "Test sequences per run")
      ->check(integer_in(1, int64_t{1} << 24))
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--lr", e.lr, "Adam's learning rate")
      ->check(positive_number())
      ->type_name("X")
      ->capture_default_str();
  cmd->add_option("--clip-norm", c->clip_norm,
                  "Clip every run's global gradient norm to X; also the clipped run of the "
                  "clipping comparison (default 0.3 there)")
      ->check(positive_number())
      ->type_name("X");
  cmd->add_option("--jobs", e.jobs, "Runs trained at once (0: one per core)")
      ->check(integer_in(0, 1024))
      ->type_name("N")
      ->capture_default_str();
  add_output_option(*cmd, c->out,
                    "Chart file: .svg, .png or .pdf; the CSV and the clipping "
                    "comparison go beside it",
                    {.required = true});
  add_chart_flags(*cmd, c->chart);
  cmd->footer(
      "Writes FILE, FILE's stem .csv (cell,steps,seed,test_mse,epochs_to_0.01), and\n"
      "_clipping.EXT and _clipping.csv (the loss per update without and with clipping).\n"
      "Errors give one line on stderr and exit code 2.");
  return {cmd, [c] {
            run(*c);
            return 0;
          }};
}

}  // namespace tapegrad::cli
