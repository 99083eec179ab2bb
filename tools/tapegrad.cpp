// tapegrad: the command-line program. Each subcommand lives in its own file under tools/
// (cli_train.cpp, cli_dot.cpp, cli_gradflow.cpp, cli_cv.cpp, cli_run.cpp) and is a thin
// layer over the library; this file parses, dispatches and reports errors.
//
//   tapegrad train --epochs 50 --checkpoint run.ckpt        fit a model (cli_train.hpp)
//   tapegrad info --cell gru --units 64,32                  parameter names, shapes and count
//   tapegrad dot --fold 2 -o graph.png                      the graph of one forward + loss
//   tapegrad cv --units 8,16,32 --folds 5                   the hidden size by cross-validation
//
// Every user mistake (a bad flag, a mistyped subcommand, a missing file, a checkpoint of
// another model) ends with one line on stderr and exit code 2.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/tapegrad.hpp>

#include "cli_common.hpp"
#include "cli_cv.hpp"
#include "cli_dot.hpp"
#include "cli_gradflow.hpp"
#include "cli_run.hpp"
#include "cli_train.hpp"

namespace {

namespace tg = tapegrad;
namespace fs = std::filesystem;

using namespace tg::cli;

constexpr int kUsageError = 2;

// A message on one line, whatever the error text holds.
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

int run_info(const ModelConfig& c, const std::string& weights) {
  const auto model = build_model(c, 1);
  if (!weights.empty()) tg::nn::load(*model, weights);
  const tg::NamedTensors params = model->named_parameters();
  std::size_t width = 4;
  for (const auto& [name, p] : params) width = std::max(width, name.size());
  std::cout << fmt::format("Sequential: {} x {} ({}) -> Dense(1), input (batch, time, 1)\n", c.cell,
                           c.units.size(), join_units(c.units));
  std::cout << fmt::format("  {:<{}}  {:<12}  {:>9}\n", "name", width, "shape", "count");
  int64_t total = 0;
  for (const auto& [name, p] : params) {
    std::cout << fmt::format("  {:<{}}  {:<12}  {:>9}\n", name, width, fmt::format("{}", p.shape()),
                             p.numel());
    total += p.numel();
  }
  std::cout << fmt::format("Total: {} parameters", total);
  if (!weights.empty()) std::cout << fmt::format(" (loaded from {})", weights);
  std::cout << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tapegrad: train recurrent networks from the command line", "tapegrad"};
  app.set_version_flag("--version", "tapegrad 0.1.0");
  app.require_subcommand(1);
  app.get_formatter()->column_width(34);
  app.footer("Run 'tapegrad <command> --help' for the flags of a command.");

  const Command train = add_train_command(app);

  ModelConfig info_cfg;
  std::string weights;
  CLI::App* info = app.add_subcommand("info", "Print a model's parameters: names, shapes, count");
  add_model_flags(*info, info_cfg);
  info->add_option("--weights", weights, "Load (and so validate) these weights first")
      ->type_name("FILE");

  const Command dot = add_dot_command(app);
  const Command gradflow = add_gradflow_command(app);
  const Command cv = add_cv_command(app);
  const Command run = add_run_command(app);

  if (argc > 1) {
    if (const auto error = unknown_command(app, argv[1])) {
      std::cerr << "tapegrad: error: " << *error << std::endl;
      return kUsageError;
    }
  }
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

  try {
    if (train.app->parsed()) return train.run();
    if (dot.app->parsed()) return dot.run();
    if (gradflow.app->parsed()) return gradflow.run();
    if (cv.app->parsed()) return cv.run();
    if (run.app->parsed()) return run.run();
    return run_info(info_cfg, weights);
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
