// `tapegrad dot`: the graph of one forward pass and loss of the model `train` builds.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace tapegrad::cli {

// A registered subcommand and what runs it once its flags are parsed (errors are tg::Error,
// reported by main as for every subcommand).
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_dot_command(CLI::App& app);

}  // namespace tapegrad::cli
