// The whole of tapegrad: #include <tapegrad/tapegrad.hpp> and `namespace tg = tapegrad;`.
#pragma once

#include <tapegrad/core/core.hpp>
#include <tapegrad/optim/optim.hpp>
