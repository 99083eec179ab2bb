// How a subcommand of the tapegrad program is made. Each lives in its own file of this folder
// (train.cpp, predict.cpp, info.cpp, dot.cpp, gradflow.cpp, adding.cpp, cv.cpp, run.cpp,
// bench.cpp) and
// defines one function here: it adds its flags to the program's CLI::App and returns what runs
// it. tapegrad.cpp lists them; run_program parses, dispatches and reports errors, the same way
// for every subcommand: a user's mistake (a bad flag, a mistyped subcommand, a missing file, a
// checkpoint of another model) is one line on stderr and exit code 2.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tapegrad::cli {

// A registered subcommand and what runs it once its flags are parsed (its errors are
// tg::Error, reported by run_program).
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};
using AddCommand = Command (*)(CLI::App& app);

Command add_train_command(CLI::App& app);
Command add_predict_command(CLI::App& app);
Command add_info_command(CLI::App& app);
Command add_dot_command(CLI::App& app);
Command add_gradflow_command(CLI::App& app);
Command add_cv_command(CLI::App& app);
Command add_run_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_export_command(CLI::App& app);
Command add_adding_command(CLI::App& app);

// Adds `commands` to `app`, parses argv and runs the subcommand it names; returns the exit
// code. Every error ends in one line on stderr: exit code 2 for the user's (CLI::ParseError,
// tg::Error, a filesystem error), 1 for an internal one.
int run_program(CLI::App& app, std::span<const AddCommand> commands, int argc, char** argv);

// When `word` (the first argument) is meant as a subcommand but names none of app's, the
// one-line error: "'trian' is not a tapegrad command; did you mean 'train'? (commands: ...)".
std::optional<std::string> unknown_command(const CLI::App& app, const std::string& word);

// The name of `names` closest to `word` in edits, when it is close enough to be what was meant
// ("trian" -> "train", "--epoch" -> "--epochs").
std::optional<std::string> closest_name(const std::string& word,
                                        const std::vector<std::string>& names);

// The long flags a user may be pointed to in a subcommand: its own and the program's
// ("--epochs", "--help"), hidden old spellings left out.
std::vector<std::string> long_flags(const CLI::App& command);
// "unknown flag --epoch; did you mean --epochs?" when `flag` is a flag of neither `command` nor
// the program; std::nullopt when it is one.
std::optional<std::string> unknown_flag(const CLI::App& command, const std::string& flag);

}  // namespace tapegrad::cli
