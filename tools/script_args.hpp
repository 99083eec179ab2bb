// Moved to <tapegrad/tools/run/script_args.hpp>; this path keeps the includes written before
// working.
#pragma once

#include <tapegrad/tools/run/script_args.hpp>
