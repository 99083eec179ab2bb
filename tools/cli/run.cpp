// `tapegrad run exp.cpp [-- args...]`: compile one C++ file against this tapegrad (cached)
// and run it with the args, passing its exit code through (tools/run/script_build.hpp).
#include "command.hpp"

#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/core/error.hpp>

#include <tapegrad/tools/run/script_build.hpp>

namespace tapegrad::cli {
namespace {

struct RunConfig {
  std::string file;
  std::vector<std::string> args;
  bool debug = false;
  bool print_flags = false;
  bool rebuild = false;
  bool verbose = false;
};

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
  return {run, [c] { return run_script(*c); }};
}

}  // namespace tapegrad::cli
