// `tapegrad gradflow`: the vanishing gradient through time, one chart for several cells.
//
//   tapegrad gradflow --cells rnn,lstm,gru --units 32 --steps 50 -o flow.svg
//
// For each cell it builds the model `train` builds (cli_common.hpp), optionally trains it
// (--epochs N: Adam on the reference data, 100 random sequences of --steps steps, with
// --clip-norm as Adam's clipnorm), then runs one forward + MSE loss on a probe batch and
// measures |dL/dh_t| of the first recurrent layer at every step. Every cell starts from the
// same seed, so each sees the same data and probe and the result does not depend on the
// order of --cells. Writes the chart (-o, .svg/.png/.pdf: one line per cell, log y), the
// numbers beside it (flow.csv: layer,step,norm with the cell as the layer;
// flow_parameters.csv: |dL/dW| per parameter) and prints |dL/dh_t| at the first and last
// step per cell.
#pragma once

#include <CLI/CLI.hpp>

#include "cli_common.hpp"

namespace tapegrad::cli {

Command add_gradflow_command(CLI::App& app);

}  // namespace tapegrad::cli
