// `tapegrad dot`: the graph of one forward pass and loss of the model `train` builds.
//
// tapegrad dot: the graph a teacher shows, drawn from one forward pass and MSE loss of the
// model `train` builds, on tg::rand data seeded by --seed (the same flags draw the same
// graph, byte for byte in .dot). With --weights the model is a trained one, rebuilt from its
// file as `predict` rebuilds it; with --data it is fed the first --batch windows of a CSV
// series, scaled as train scaled them (by the scaler the weights file keeps, as predict
// does). The input x and the target y are drawn as nodes, the loss and the Dense layer boxed
// by their name scopes ("MSE", "Sequential/2:Dense"). --expand-gates draws the LSTM and GRU
// gate math as ops instead of one fused node. The drawing is tools/viz/graph.hpp's: --fold,
// --modules, --grads and --values are its DotOptions; the output's extension picks DOT text
// or a Graphviz rendering, .html an interactive page (tools/viz/html.hpp).
#include "command.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/tapegrad.hpp>

#include <tapegrad/tools/viz/graph.hpp>
#include <tapegrad/tools/viz/html.hpp>
#include "common.hpp"
#include "data.hpp"
#include "predict.hpp"

namespace tapegrad::cli {
namespace {

struct DotConfig {
  ModelConfig model;
  int64_t steps = 10;
  int64_t batch = 4;
  int64_t fold = 0;
  bool modules = false, grads = false, values = false, expand_gates = false;
  std::uint64_t seed = 0;
  std::string weights;  // a trained model; empty: the one --cell and --units build
  DataConfig data;      // --data and --column; the window is --steps (or the file's)
  bool steps_given = false;
  std::string output;
};

// What the model is fed: the input x, the target y, and where they come from.
struct Batch {
  Tensor x, y;
  std::string source;
};

Batch first_windows(const Tensor& X, const Tensor& y, int64_t batch, std::string source) {
  const int64_t n = std::min(batch, X.shape()[0]);
  return {slice(X, 0, 0, n), slice(y, 0, 0, n), std::move(source)};
}

// In train's order (the seed, then the data): tg::rand draws, or the first --batch windows of
// --data, scaled by the scaler the weights file keeps (predict's code) or, for an untrained
// model, by one fitted on the series as train fits it without a validation split.
Batch draw_batch(const DotConfig& c, const nn::ModelFileInfo* trained) {
  manual_seed(c.seed);
  if (c.data.path.empty()) return {rand({c.batch, c.steps, 1}), rand({c.batch, 1}), "tg::rand"};
  DataConfig series = c.data;
  series.window = c.steps;
  if (trained == nullptr) {
    const Dataset d = load_data(series);
    return first_windows(d.X, d.y, c.batch, d.description);
  }
  PredictConfig read;
  read.weights = c.weights;
  read.data = series;
  read.window_given = c.steps_given;
  const Windows w = scaled_windows(*trained, read);
  return first_windows(w.X, w.y, c.batch, w.description);
}

constexpr std::array kExtensions{".dot", ".svg", ".png", ".pdf", ".html"};

std::string extension_of(const std::string& path) {
  return std::filesystem::path(path).extension().string();
}

CLI::Validator graph_file() {
  return CLI::Validator(
      [](std::string& path) -> std::string {
        const std::string ext = extension_of(path);
        if (std::find(kExtensions.begin(), kExtensions.end(), ext) != kExtensions.end()) return {};
        const std::string what =
            ext.empty() ? "no extension" : fmt::format("unknown extension '{}'", ext);
        return fmt::format("'{}': {} (supported: {})", path, what, fmt::join(kExtensions, " "));
      },
      "");
}

std::string file_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

// "SimpleRNN(64) -> SimpleRNN(32) -> Dense(1), batch 4, 10 steps, MSE", then the weights
// file and the data file when given.
std::string describe(const DotConfig& c, const std::string& layers, const Tensor& x) {
  std::string out = fmt::format("{}, batch {}, {} steps, MSE", layers, x.shape()[0], x.shape()[1]);
  if (!c.weights.empty()) out += fmt::format(", trained ({})", file_name(c.weights));
  if (!c.data.path.empty()) out += fmt::format(", data {}", file_name(c.data.path));
  return out;
}

// A leaf of the graph: a copy that requires grad, so the tape links it and the drawing shows
// it as a node.
Tensor drawn_leaf(const Tensor& t, DType dtype) {
  return t.to(dtype).detach().clone().requires_grad_(true);
}

int run_dot(const DotConfig& c) {
  std::optional<nn::ModelFileInfo> trained;
  if (!c.weights.empty()) trained = nn::read_model_info(c.weights);
  const Batch batch = draw_batch(c, trained ? &*trained : nullptr);
  // Seed, data, model: the order `train` uses.
  const std::shared_ptr<nn::Module> model =
      trained ? nn::load_model(c.weights) : build_model(c.model, 1);
  model->eval();
  const Tensor x = drawn_leaf(batch.x, model->dtype()), y = drawn_leaf(batch.y, model->dtype());
  Tensor loss;
  {
    std::optional<ExpandGatesGuard> expanded;
    if (c.expand_gates) expanded.emplace();
    loss = nn::MSE()((*model)(x), y);
  }

  const tools::DotOptions opts{
      .show_grads = c.grads,
      .names = model->named_parameters(),
      .max_steps = c.fold,
      .modules = c.modules,
      .show_values = c.values,
      .title = describe(c, trained ? trained->summary : describe_layers(c.model), x),
      .inputs = {{"x", x}, {"y", y}},
      .cluster_scopes = true};
  if (extension_of(c.output) == ".dot") {
    tools::write_dot(loss, c.output, opts);
  } else if (tools::is_page_path(c.output)) {
    tools::write_graph_page(loss, c.output, opts);
  } else {
    tools::render(loss, c.output, opts);
  }
  std::cout << fmt::format("Wrote {}: {}, loss {:.6g}\n", c.output, opts.title, loss.item());
  if (!c.data.path.empty()) std::cout << fmt::format("Data: {}\n", batch.source);
  return 0;
}

void add_dot_flags(CLI::App& dot, DotConfig& c) {
  add_model_flags(dot, c.model);
  CLI::Option* weights =
      dot.add_option("--weights", c.weights,
                     "Draw a trained model, rebuilt from this weights file (written by train)")
          ->check(CLI::Validator(CLI::ExistingFile).description(""))
          ->type_name("FILE");
  dot.get_option("--cell")->excludes(weights);
  dot.get_option("--units")->excludes(weights);
  CLI::Option* data =
      dot.add_option("--data", c.data.path,
                     "CSV series: feed the model its first --batch windows, scaled as train "
                     "scaled them")
          ->check(CLI::Validator(CLI::ExistingFile).description(""))
          ->type_name("FILE");
  dot.add_option("--column", c.data.column,
                 "CSV column of --data: a name, or a 0-based index, negative from the end "
                 "(default: the one train recorded, else -1)")
      ->type_name("NAME|N")
      ->needs(data);
  dot.add_option("--steps", c.steps,
                 "Time steps of the random sequences, or of the windows of --data (with "
                 "--weights, default: the window train recorded)")
      ->check(integer_in(1, 100000))
      ->type_name("N")
      ->capture_default_str();
  dot.add_option("--batch", c.batch, "Sequences in the batch (the first windows of --data)")
      ->check(integer_in(1, 100000))
      ->type_name("N")
      ->capture_default_str();
  dot.add_option("--fold", c.fold,
                 "Keep K steps of each layer (first and last), fold the middle into one node; "
                 "0 draws every step")
      ->check(integer_in(0, 100000))
      ->type_name("K")
      ->capture_default_str();
  dot.add_flag("--modules", c.modules, "One node per layer call, edges labelled with shapes");
  dot.add_flag(
      "--grads", c.grads,
      "Show each node's gradient norm, coloured by its log10 (viridis, over the range drawn)");
  dot.add_flag("--values", c.values, "Show mean and max |x| of the values the tape kept");
  dot.add_flag("--expand-gates", c.expand_gates,
               "Draw the LSTM/GRU gate math as ops (sigmoid, tanh, mul, add) instead of one "
               "fused lstm_gates/gru_gates node");
  dot.add_option("--seed", c.seed, "Random seed (data and initial weights)")
      ->check(unsigned_64())
      ->type_name("N")
      ->capture_default_str();
  add_output_option(dot, c.output,
                    "Output file: .dot (DOT text), .svg, .png, .pdf or .html (an interactive page)",
                    {.required = true})
      ->check(graph_file());
}

}  // namespace

Command add_dot_command(CLI::App& app) {
  auto config = std::make_shared<DotConfig>();
  CLI::App* dot = app.add_subcommand(
      "dot", "Draw the graph of one forward pass and loss (DOT, SVG, PNG, PDF, HTML)");
  dot->footer(
      "The model is the one `tapegrad train` builds from --cell and --units (or, with --weights,\n"
      "a trained one), run once on tg::rand data seeded by --seed (or on --data); the title\n"
      "gives the model and the loss value.");
  add_dot_flags(*dot, *config);
  CLI::Option* steps = dot->get_option("--steps");
  return {dot, [config, steps] {
            config->steps_given = steps->count() > 0;
            return run_dot(*config);
          }};
}

}  // namespace tapegrad::cli
