// The whole of tapegrad: #include <tapegrad/tapegrad.hpp> and `namespace tg = tapegrad;`.
#pragma once

#include <tapegrad/autograd/autograd.hpp>
#include <tapegrad/core/core.hpp>
#include <tapegrad/nn/nn.hpp>
#include <tapegrad/ops/ops.hpp>
#include <tapegrad/optim/optim.hpp>
#include <tapegrad/tools/bench.hpp>
#include <tapegrad/tools/chart.hpp>
#include <tapegrad/tools/graph.hpp>
#include <tapegrad/tools/script_args.hpp>
