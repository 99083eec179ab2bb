// The whole of tapegrad: #include <tapegrad/tapegrad.hpp> and `namespace tg = tapegrad;`.
// The library's layers link as tapegrad::tapegrad; what tools/ adds (graph dumps and charts,
// the benchmark protocol, ScriptArgs, the teaching experiments) as tapegrad::viz,
// tapegrad::bench, tapegrad::script and tapegrad::experiments.
#pragma once

#include <tapegrad/autograd/autograd.hpp>
#include <tapegrad/core/core.hpp>
#include <tapegrad/nn/nn.hpp>
#include <tapegrad/ops/ops.hpp>
#include <tapegrad/optim/optim.hpp>
#include <tapegrad/tools/bench/bench.hpp>
#include <tapegrad/tools/bench/inference.hpp>
#include <tapegrad/tools/experiments/adding.hpp>
#include <tapegrad/tools/run/script_args.hpp>
#include <tapegrad/tools/viz/chart.hpp>
#include <tapegrad/tools/viz/graph.hpp>
