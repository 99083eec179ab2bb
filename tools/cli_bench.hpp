// `tapegrad bench`: the stacked-RNN training benchmark of shared/bench/reference, the twin of
// its torch_rnn.py and torch_rnn.cpp: the same flags (defaults: the reference workload,
// Keras's SimpleRNN(64) -> SimpleRNN(32) -> Dense(1) on 100 random sequences of 10 steps,
// 100 epochs), the same workload and protocol (tools/bench.hpp), and the same one JSON line
// on stdout with "impl": "tapegrad", so tools/bench_rnn.sh and the reference's summarize.py
// read it beside theirs.
//
//   tapegrad bench                                      the reference workload, 1 thread
//   tapegrad bench --cell gru --hidden 128 --seq 200 --features 16 --samples 512 --threads 2
#pragma once

#include <CLI/CLI.hpp>

#include "cli_common.hpp"

namespace tapegrad::cli {

Command add_bench_command(CLI::App& app);

}  // namespace tapegrad::cli
