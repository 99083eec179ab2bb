#include "command.hpp"

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <iostream>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/core/dist.hpp>
#include <tapegrad/core/error.hpp>

namespace tapegrad::cli {
namespace {

constexpr int kUsageError = 2;

// A message on one line, whatever the error text holds.
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// A parse error in our words where CLI11's are unclear: a flag given twice is
// "--epochs: At Most 1 required but received 2" to CLI11.
std::string parse_error_words(const CLI::ParseError& e) {
  const std::string what = one_line(e.what());
  static const std::regex given_twice(R"(^(\S+): At Most 1 required but received (\d+)$)");
  std::smatch m;
  if (std::regex_match(what, m, given_twice)) {
    return fmt::format("{} given {} times; give it once", m[1].str(), m[2].str());
  }
  return what;
}

// "tapegrad train" when the parse reached a subcommand, else "tapegrad".
std::string invoked_name(CLI::App& app) {
  const std::vector<CLI::App*> parsed = app.get_subcommands();
  return parsed.empty() ? app.get_name() : app.get_name() + " " + parsed.front()->get_name();
}

// Edits (insert, delete, replace, swap two neighbours) from a to b, for "did you mean":
// "trian" is one swap from "train".
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t replace = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + replace});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The first argument after the subcommand that looks like a long flag of neither it nor the
// program ("--epoch"), before any "--" (what follows it is for a program, not for us). A
// command that takes unknown flags itself (run) says what they are.
std::optional<std::string> first_unknown_flag(const CLI::App& app, int argc, char** argv) {
  if (argc < 2) return std::nullopt;
  const std::vector<const CLI::App*> commands = app.get_subcommands({});
  const auto named = std::find_if(commands.begin(), commands.end(),
                                  [&](const CLI::App* c) { return c->get_name() == argv[1]; });
  if (named == commands.end()) return std::nullopt;
  const CLI::App* command = *named;
  if (command->get_allow_extras()) return std::nullopt;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return std::nullopt;
    if (arg.size() < 3 || !arg.starts_with("--")) continue;
    if (auto message = unknown_flag(*command, arg.substr(0, arg.find('=')))) return message;
  }
  return std::nullopt;
}

// Reports an error of the run in one line and returns the exit status. On one rank of
// several, the line names the rank, and the job ends on every rank: the others may be waiting
// for this one in a collective.
int report(const CLI::App& app, const char* kind, const std::exception& e, int status) {
  const std::string rank = dist::world_size() > 1
                               ? fmt::format(" on rank {} of {}", dist::rank(), dist::world_size())
                               : "";
  std::cerr << fmt::format("{}: {}{}: {}", app.get_name(), kind, rank, one_line(e.what()))
            << std::endl;
  if (dist::world_size() > 1) dist::abort(status);
  return status;
}

// The chosen subcommand's run, with its errors reported in one line.
int run_parsed(const CLI::App& app, const std::vector<Command>& commands) {
  try {
    for (const Command& command : commands) {
      if (command.app->parsed()) return command.run();
    }
    return kUsageError;  // unreachable: require_subcommand(1) made parse() throw
  } catch (const Error& e) {
    return report(app, "error", e, kUsageError);
  } catch (const std::filesystem::filesystem_error& e) {
    return report(app, "error", e, kUsageError);
  } catch (const std::exception& e) {
    return report(app, "internal error", e, 1);
  }
}

}  // namespace

int run_program(CLI::App& app, std::span<const AddCommand> add_commands, int argc, char** argv) {
  app.require_subcommand(1);
  std::vector<Command> commands;
  for (const AddCommand add : add_commands) commands.push_back(add(app));

  // A mistake on the command line is the same on every rank: rank 0 alone says so.
  if (argc > 1) {
    if (const auto error = unknown_command(app, argv[1])) {
      if (dist::is_root()) std::cerr << app.get_name() << ": error: " << *error << std::endl;
      return kUsageError;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (!dist::is_root()) return e.get_exit_code() == 0 ? 0 : kUsageError;
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    const std::string where = invoked_name(app);
    // A mistyped flag is the mistake to name, also when it made another error first (its
    // value taken as a file, a required flag seemingly missing).
    const std::string what = first_unknown_flag(app, argc, argv).value_or(parse_error_words(e));
    std::cerr << fmt::format("{}: error: {} (see {} --help)\n", where, what, where);
    return kUsageError;
  }
  return run_parsed(app, commands);
}

std::optional<std::string> closest_name(const std::string& word,
                                        const std::vector<std::string>& names) {
  std::optional<std::string> closest;
  std::size_t best = std::numeric_limits<std::size_t>::max();
  for (const std::string& name : names) {
    if (const std::size_t d = edit_distance(word, name); d < best) {
      best = d;
      closest = name;
    }
  }
  if (best > std::max<std::size_t>(1, word.size() / 3)) return std::nullopt;
  return closest;
}

std::optional<std::string> unknown_command(const CLI::App& app, const std::string& word) {
  if (word.empty() || word.front() == '-') return std::nullopt;
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == word) return std::nullopt;
    names.push_back(sub->get_name());
  }
  const auto guess = closest_name(word, names);
  return fmt::format("'{}' is not a {} command{} (commands: {})", word, app.get_name(),
                     guess ? "; did you mean '" + *guess + "'?" : "", fmt::join(names, ", "));
}

std::vector<std::string> long_flags(const CLI::App& command) {
  std::vector<std::string> names;
  for (const CLI::App* app = &command; app != nullptr; app = app->get_parent()) {
    for (const CLI::Option* option : app->get_options()) {
      // A hidden alias (an old spelling) is accepted but never suggested.
      if (option->get_group().empty()) continue;
      for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
    }
  }
  return names;
}

std::optional<std::string> unknown_flag(const CLI::App& command, const std::string& flag) {
  for (const CLI::App* app = &command; app != nullptr; app = app->get_parent()) {
    if (app->get_option_no_throw(flag) != nullptr) return std::nullopt;
  }
  const auto guess = closest_name(flag, long_flags(command));
  return fmt::format("unknown flag {}{}", flag, guess ? "; did you mean " + *guess + "?" : "");
}

}  // namespace tapegrad::cli
