// `tapegrad dot`: the graph of one forward pass and loss of the model `train` builds.
//
// tapegrad dot: the graph a teacher shows, drawn from one forward pass and MSE loss of the
// model `train` builds, on tg::rand data seeded by --seed (the same flags draw the same
// graph, byte for byte in .dot). The drawing is tools/viz/graph.hpp's: --fold, --modules,
// --grads and --values are its DotOptions; the output's extension picks DOT text or a
// Graphviz rendering, .html an interactive page (tools/viz/html.hpp).
#include "command.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/tapegrad.hpp>

#include <tapegrad/tools/viz/graph.hpp>
#include <tapegrad/tools/viz/html.hpp>
#include "common.hpp"

namespace tapegrad::cli {
namespace {

struct DotConfig {
  ModelConfig model;
  int64_t steps = 10;
  int64_t batch = 4;
  int64_t fold = 0;
  bool modules = false, grads = false, values = false;
  std::uint64_t seed = 0;
  std::string output;
};

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

// "SimpleRNN(64) -> SimpleRNN(32) -> Dense(1), batch 4, 10 steps, MSE".
std::string describe(const DotConfig& c) {
  return fmt::format("{}, batch {}, {} steps, MSE", describe_layers(c.model), c.batch, c.steps);
}

int run_dot(const DotConfig& c) {
  // Seed, data, model: the order `train` uses.
  manual_seed(c.seed);
  const Tensor X = rand({c.batch, c.steps, 1});
  const Tensor y = rand({c.batch, 1});
  const auto model = build_model(c.model, 1);
  const Tensor loss = nn::MSE()((*model)(X), y);

  const tools::DotOptions opts{.show_grads = c.grads,
                               .names = model->named_parameters(),
                               .max_steps = c.fold,
                               .modules = c.modules,
                               .show_values = c.values,
                               .title = describe(c)};
  if (extension_of(c.output) == ".dot") {
    tools::write_dot(loss, c.output, opts);
  } else if (tools::is_page_path(c.output)) {
    tools::write_graph_page(loss, c.output, opts);
  } else {
    tools::render(loss, c.output, opts);
  }
  std::cout << fmt::format("Wrote {}: {}, loss {:.6g}\n", c.output, opts.title, loss.item());
  return 0;
}

void add_dot_flags(CLI::App& dot, DotConfig& c) {
  add_model_flags(dot, c.model);
  dot.add_option("--steps", c.steps, "Time steps of the random input sequences")
      ->check(integer_in(1, 100000))
      ->type_name("N")
      ->capture_default_str();
  dot.add_option("--batch", c.batch, "Sequences in the random batch")
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
  dot.add_flag("--grads", c.grads, "Show each node's gradient norm, coloured on a log scale");
  dot.add_flag("--values", c.values, "Show mean and max |x| of the values the tape kept");
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
      "The model is the one `tapegrad train` builds from --cell and --units, run once on\n"
      "tg::rand data seeded by --seed; the title gives the model and the loss value.");
  add_dot_flags(*dot, *config);
  return {dot, [config] { return run_dot(*config); }};
}

}  // namespace tapegrad::cli
