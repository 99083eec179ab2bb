// `tapegrad gradflow`: the vanishing gradient through time, one chart for several cells.
//
//   tapegrad gradflow --cell rnn,lstm,gru --units 32 --steps 50 -o flow.svg
//
// For each cell it builds the model `train` builds (cli_common.hpp), optionally trains it
// (--epochs N: Adam on the reference data, 100 random sequences of --steps steps, with
// --clip-norm as Adam's clipnorm), then runs one forward + MSE loss on a probe batch and
// measures |dL/dh_t| of the first recurrent layer at every step. Every cell starts from the
// same seed, so each sees the same data and probe and the result does not depend on the
// order of --cell. Writes the chart (-o, .svg/.png/.pdf: one line per cell, log y), the
// numbers beside it (flow.csv: layer,step,norm with the cell as the layer;
// flow_parameters.csv: |dL/dW| per parameter) and prints |dL/dh_t| at the first and last
// step per cell.
#include "command.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/tapegrad.hpp>

#include <tapegrad/tools/viz/html.hpp>
#include "common.hpp"

namespace tapegrad::cli {
namespace {

namespace fs = std::filesystem;

struct GradflowConfig {
  std::vector<std::string> cells{"rnn", "lstm", "gru"};
  std::vector<int64_t> units{32};
  int64_t steps = 50;
  int64_t batch = 8;
  std::uint64_t seed = 0;
  int epochs = 0;
  double clip_norm = 0;  // 0: no clipping
  std::string out;
  tools::LineChartOptions chart;  // its size and dpi
};

void train(nn::Module& model, const GradflowConfig& c) {
  const Tensor X = rand({100, c.steps, 1});
  const Tensor y = rand({100, 1});
  optim::AdamOptions opts;
  if (c.clip_norm > 0) opts.clipnorm = c.clip_norm;
  optim::Adam opt(model.named_parameters(), opts);
  nn::MSE loss_fn;
  nn::fit(model, loss_fn, opt, X, y, {.epochs = c.epochs, .batch_size = 32, .verbose = 0});
}

// One cell's gradient flow: its first recurrent layer's steps, renamed to the cell, and
// every parameter's norm, prefixed with the cell.
tools::GradientFlow measure(const std::string& cell, const GradflowConfig& c) {
  manual_seed(c.seed);
  const Tensor probe_x = rand({c.batch, c.steps, 1});
  const Tensor probe_y = rand({c.batch, 1});
  const auto model = build_model({.cell = cell, .units = c.units}, 1);
  if (c.epochs > 0) train(*model, c);
  nn::MSE loss_fn;
  const Tensor loss = loss_fn((*model)(probe_x), probe_y);
  tools::GradientFlow flow = tools::gradient_flow_report(loss, model->named_parameters());

  tools::GradientFlow out;
  const std::string title = tools::cell_title(cell);
  for (const tools::StepGradient& s : flow.steps) {
    if (s.layer == flow.steps.front().layer) out.steps.push_back({title, s.step, s.norm});
  }
  for (const tools::ParameterGradient& p : flow.parameters) {
    out.parameters.push_back({title + "/" + p.name, p.norm});
  }
  return out;
}

std::string chart_title(const GradflowConfig& c) {
  const std::string trained =
      c.epochs > 0 ? fmt::format("after {} epochs{}", c.epochs,
                                 c.clip_norm > 0 ? fmt::format(", clip-norm {}", c.clip_norm) : "")
                   : "untrained";
  return fmt::format("Gradient flow through time: units {}, {} steps, {}", join_units(c.units),
                     c.steps, trained);
}

// What the chart shows, in words: the cells whose |dL/dh_t| shrinks toward early steps
// (by more than 10x from the last step to the first), then that ratio for every cell.
std::string chart_subtitle(const GradflowConfig& c, const tools::GradientFlow& flow) {
  std::vector<std::string> shrinking, ratios;
  for (const tools::LineSeries& s : tools::gradient_flow_series(flow)) {
    const double ratio = s.y.back() > 0 ? s.y.front() / s.y.back() : 1.0;
    if (ratio < 0.1) shrinking.push_back(s.label);
    ratios.push_back(fmt::format("{} {:.2g}", s.label, ratio));
  }
  const std::string weights =
      c.epochs > 0 ? fmt::format("after {} epochs", c.epochs) : "untrained weights";
  const std::string seen =
      shrinking.empty()
          ? "|dL/dh_t| holds within 10x for every cell"
          : fmt::format("|dL/dh_t| shrinks toward early steps for {}", fmt::join(shrinking, ", "));
  return fmt::format("{}: {}\n|dL/dh_0| / |dL/dh_{}|: {}", weights, seen, c.steps - 1,
                     fmt::join(ratios, ", "));
}

void write_chart(const GradflowConfig& c, const tools::GradientFlow& flow) {
  tools::LineChartOptions chart = c.chart;
  chart.title = chart_title(c);
  chart.subtitle = chart_subtitle(c, flow);
  if (tools::is_page_path(c.out)) {
    tools::write_gradient_flow_page(flow, c.out, chart);
  } else {
    tools::write_chart(flow, c.out, chart);
  }
}

void run(const GradflowConfig& c) {
  if (!tools::is_page_path(c.out)) tools::check_chart_path(c.out);
  tools::GradientFlow all;
  fmt::print("{:<10} {:>14} {:>14} {:>10}\n", "cell", "|dL/dh_0|",
             fmt::format("|dL/dh_{}|", c.steps - 1), "ratio");
  for (const std::string& cell : c.cells) {
    const tools::GradientFlow flow = measure(cell, c);
    const double first = flow.steps.front().norm, last = flow.steps.back().norm;
    fmt::print("{:<10} {:>14.4g} {:>14.4g} {:>10.3g}\n", flow.steps.front().layer, first, last,
               last > 0 ? first / last : 0.0);
    all.steps.insert(all.steps.end(), flow.steps.begin(), flow.steps.end());
    all.parameters.insert(all.parameters.end(), flow.parameters.begin(), flow.parameters.end());
  }
  const std::string csv = fs::path(c.out).replace_extension(".csv").string();
  const std::string parameters = tools::write_csv(all, csv);
  write_chart(c, all);
  fmt::print("Wrote {}, {} and {}\n", c.out, csv, parameters);
}

}  // namespace

Command add_gradflow_command(CLI::App& app) {
  auto c = std::make_shared<GradflowConfig>();
  CLI::App* cmd = app.add_subcommand(
      "gradflow", "Chart |dL/dh_t| per time step for several cells (the vanishing gradient)");
  const CLI::Validator cell = CLI::IsMember({"rnn", "lstm", "gru"}).description("");
  CLI::Option* cells =
      add_list_option(*cmd, "--cell", c->cells,
                      "Cells to compare, comma-separated (--cells, the old spelling, is read too)",
                      cell)
          ->type_name("rnn,lstm,gru")
          ->default_str("rnn,lstm,gru");
  add_list_option(*cmd, "--cells", c->cells, "The old spelling of --cell", cell)
      ->group("")
      ->excludes(cells);
  add_list_option(*cmd, "--units", c->units, "Units of each recurrent layer; the first is measured",
                  integer_in(1, int64_t{1} << 20))
      ->type_name("N,N,...")
      ->default_str("32");
  cmd->add_option("--steps", c->steps, "Time steps of the sequences")
      ->check(integer_in(1, 100000))
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--batch", c->batch, "Sequences in the probe batch")
      ->check(integer_in(1, int64_t{1} << 20))
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--seed", c->seed, "Random seed (weights, data, probe batch)")
      ->check(unsigned_64())
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--epochs", c->epochs, "Train each model this many epochs first (Adam)")
      ->check(integer_in(0, 1000000))
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--clip-norm", c->clip_norm, "Adam's clipnorm while training (with --epochs)")
      ->check(CLI::PositiveNumber.description(""))
      ->type_name("X");
  add_output_option(*cmd, c->out,
                    "Chart file: .svg, .png, .pdf or .html (an interactive page); the CSV goes "
                    "beside it",
                    {.out_alias = true, .required = true});
  add_chart_flags(*cmd, c->chart);
  cmd->footer(
      "Writes the chart, FILE's stem .csv (layer,step,norm) and _parameters.csv (|dL/dW|).\n"
      "Errors give one line on stderr and exit code 2.");
  return {cmd, [c] {
            run(*c);
            return 0;
          }};
}

}  // namespace tapegrad::cli
