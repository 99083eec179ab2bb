// Moved to <tapegrad/tools/viz/chart.hpp>; this path keeps the includes written before working.
#pragma once

#include <tapegrad/tools/viz/chart.hpp>
