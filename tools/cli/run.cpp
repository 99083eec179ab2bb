// `tapegrad run exp.cpp [-- args...]`: compile one C++ file against this tapegrad (cached)
// and run it with the args, passing its exit code through (tools/run/script_build.hpp).
#include "command.hpp"

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/core/error.hpp>

#include <tapegrad/tools/run/script_build.hpp>

namespace tapegrad::cli {
namespace {

struct RunConfig {
  std::string file;
  std::vector<std::string> args;
  std::vector<std::string> unknown_flags;  // flags of neither run nor the program's -- args
  bool debug = false;
  bool print_flags = false;
  bool rebuild = false;
  bool verbose = false;
};

bool is_cpp_source(const std::string& file) {
  const std::string ext = std::filesystem::path(file).extension().string();
  return ext == ".cpp" || ext == ".cc" || ext == ".cxx";
}

// A mistyped flag of run gets "did you mean"; any other is the program's, given without "--".
void check_unknown_flags(const RunConfig& c, const CLI::App& run) {
  if (c.unknown_flags.empty()) return;
  const std::string& given = c.unknown_flags.front();
  const std::string flag = given.substr(0, given.find('='));
  if (const auto meant = closest_name(flag, long_flags(run))) {
    throw_error<ValueError>("run: unknown flag {}; did you mean {}?", flag, *meant);
  }
  std::vector<std::string> program_args = c.unknown_flags;
  program_args.insert(program_args.end(), c.args.begin(), c.args.end());
  throw_error<ValueError>(
      "run: unknown flag {}; arguments for the program go after --: tapegrad run {} -- {}", flag,
      c.file.empty() ? "exp.cpp" : c.file, fmt::join(program_args, " "));
}

int run_script(const RunConfig& c) {
  const ScriptToolchain toolchain =
      ScriptToolchain::locate(c.debug ? BuildMode::debug : BuildMode::release);
  if (c.print_flags) {
    const std::string source = c.file.empty() ? "exp.cpp" : c.file;
    const std::string program = source.substr(0, source.rfind(".cpp"));
    std::cout << shell_line(toolchain.command(source, program)) << '\n';
    return 0;
  }
  if (c.file.empty()) throw_error<ValueError>("run: which file? (tapegrad run exp.cpp -- args)");
  // A directory is named as such by build_script.
  if (!std::filesystem::is_directory(c.file) && !is_cpp_source(c.file)) {
    throw_error<ValueError>(
        "run: '{}' is not a C++ source file: run compiles one .cpp, .cc or .cxx file", c.file);
  }
  ScriptBuild build = build_script(c.file, toolchain, c.rebuild);
  if (c.verbose) {
    std::cerr << (build.cached
                      ? fmt::format("tapegrad run: {} is cached as {}\n", c.file, build.program)
                      : fmt::format("tapegrad run: compiled {} in {:.2f} s into {}\n", c.file,
                                    build.seconds, build.program));
  }
  return run_program(std::move(build), c.file, c.args);
}

}  // namespace

Command add_run_command(CLI::App& app) {
  auto c = std::make_shared<RunConfig>();
  CLI::App* run =
      app.add_subcommand("run", "Compile a C++ file against tapegrad (cached) and run it");
  run->add_option("file", c->file, "The C++ file: one program with its main()")
      ->type_name("FILE.cpp");
  run->add_option("args", c->args, "Arguments for the program, after --")->type_name("ARGS");
  CLI::Option* debug = run->add_flag("--debug", c->debug,
                                     "-O1 -g with AddressSanitizer and UBSan (default: --release)");
  run->add_flag("--release")->description("-O2, the default")->excludes(debug);
  run->add_flag("--print-flags", c->print_flags,
                "Print the compile line for FILE (or exp.cpp) and exit");
  run->add_flag("--rebuild", c->rebuild, "Compile even when the cached program is up to date");
  run->add_flag("-v,--verbose", c->verbose, "Say whether the program was compiled or cached");
  run->footer(fmt::format(
      "The program's exit code is tapegrad's; a crash is reported with its signal (exit\n"
      "128 + signal), an exception escaping main with its message (exit 1). Programs are\n"
      "cached in $TAPEGRAD_CACHE_DIR (default ~/.cache/tapegrad) under a hash of the source,\n"
      "the compiler, its flags and this tapegrad; a rerun without changes does not compile,\n"
      "and runs of one file at once share one compile. FILE is a regular file of at most\n"
      "{} MiB.\n"
      "TAPEGRAD_CXX replaces the compiler (e.g. a ccache wrapper of the same compiler).",
      kMaxScriptBytes >> 20));
  // Unknown flags are kept, not refused by the parser, so that run can say where they go.
  run->allow_extras();
  return {run, [c, run] {
            // The parser keeps the "--" it read among the extras: it is no flag.
            for (std::string& extra : run->remaining()) {
              if (extra != "--") c->unknown_flags.push_back(std::move(extra));
            }
            check_unknown_flags(*c, *run);
            return run_script(*c);
          }};
}

}  // namespace tapegrad::cli
