// `tapegrad dot`: the graph of one forward pass and loss of the model `train` builds.
#pragma once

#include <CLI/CLI.hpp>

#include "cli_common.hpp"

namespace tapegrad::cli {

Command add_dot_command(CLI::App& app);

}  // namespace tapegrad::cli
