// Moved to <tapegrad/tools/bench/bench.hpp>; this path keeps the includes written before working.
#pragma once

#include <tapegrad/tools/bench/bench.hpp>
