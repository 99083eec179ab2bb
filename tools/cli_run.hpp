// `tapegrad run exp.cpp [-- args...]`: compile one C++ file against this tapegrad (cached)
// and run it with the args, passing its exit code through (tools/script_build.hpp).
#pragma once

#include <CLI/CLI.hpp>

#include "cli_common.hpp"

namespace tapegrad::cli {

Command add_run_command(CLI::App& app);

}  // namespace tapegrad::cli
