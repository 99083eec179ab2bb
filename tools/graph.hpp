// Moved to <tapegrad/tools/viz/graph.hpp>; this path keeps the includes written before working.
#pragma once

#include <tapegrad/tools/viz/graph.hpp>
