// tapegrad: the command-line program. Each subcommand lives in its own file under tools/
// (cli_train.cpp, cli_info.cpp, cli_predict.cpp, cli_dot.cpp, cli_gradflow.cpp, cli_cv.cpp,
// cli_run.cpp, cli_bench.cpp) and is a thin layer over the library; this file parses, dispatches
// and reports errors.
//
//   tapegrad train --epochs 50 --checkpoint run.ckpt        fit a model (cli_train.hpp)
//   tapegrad info out/model.safetensors                     what a weights file or checkpoint holds
//   tapegrad info --cell gru --units 64,32                  parameter names, shapes and count
//   tapegrad predict --weights out/model.safetensors        the saved model's predictions
//   tapegrad dot --fold 2 -o graph.png                      the graph of one forward + loss
//   tapegrad cv --units 8,16,32 --folds 5                   the hidden size by cross-validation
//   tapegrad bench --cell lstm --hidden 512 --epochs 2      epoch times, the references' JSON line
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

#include "cli_bench.hpp"
#include "cli_common.hpp"
#include "cli_cv.hpp"
#include "cli_dot.hpp"
#include "cli_gradflow.hpp"
#include "cli_info.hpp"
#include "cli_predict.hpp"
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tapegrad: train recurrent networks from the command line", "tapegrad"};
  app.set_version_flag("--version", "tapegrad 0.1.0");
  app.require_subcommand(1);
  app.get_formatter()->column_width(34);
  app.footer("Run 'tapegrad <command> --help' for the flags of a command.");

  const std::vector<Command> commands{add_train_command(app),    add_predict_command(app),
                                      add_info_command(app),     add_dot_command(app),
                                      add_gradflow_command(app), add_cv_command(app),
                                      add_run_command(app),      add_bench_command(app)};

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
    for (const Command& command : commands) {
      if (command.app->parsed()) return command.run();
    }
    return kUsageError;  // unreachable: require_subcommand(1) made parse() throw
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
