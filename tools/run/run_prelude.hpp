// What `tapegrad run` includes ahead of every script (-include): all of tapegrad. The build
// precompiles this header once per mode (release, debug) with the flags the scripts get, so
// a script's compile starts with the library's headers already parsed. A script still
// writes #include <tapegrad/tapegrad.hpp> itself, and so compiles unchanged anywhere else.
//
// Include guards rather than #pragma once: this file is the main file of the precompile.
#ifndef TAPEGRAD_TOOLS_RUN_PRELUDE_HPP
#define TAPEGRAD_TOOLS_RUN_PRELUDE_HPP

#include <tapegrad/tapegrad.hpp>

#endif
