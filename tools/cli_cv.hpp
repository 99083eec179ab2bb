// `tapegrad cv`: the hidden size by cross-validation (nn::grid_search).
//
//   tapegrad cv --units 8,16,32,64 --folds 5                  the reference data, k-fold
//   tapegrad cv --data series.csv --window 12 --split time --units 4,8,16,32 --plot cv.svg
//
// Each --units value u is one candidate: the model `train` builds with one recurrent layer
// of u units (build_model({cell, {u}})) and Dense(1), complexity u. Every candidate is
// trained on the same folds with Adam (--lr) for --epochs and scored by the MSE on the
// fold's validation windows. --split kfold (the default) shuffles the samples into folds,
// right for independent samples such as the reference data; a series wants --split time
// (forward chaining: validate on later windows than any the model was trained on). With
// --data the series is scaled to [0, 1] once, on all of it, so every fold's loss is in the
// same units. --jobs runs folds and candidates on threads, with one BLAS thread each; the
// numbers do not change.
//
// Prints the cv_results_-like table, the best candidate (lowest mean) and the
// one-standard-error choice (the smallest within one std of the best), writes the table to
// -o (cv.csv) and, with --plot, the validation curve: mean +- std per size and the line
// best mean + std that the one-standard-error rule reads.
#pragma once

#include <CLI/CLI.hpp>

#include "cli_common.hpp"

namespace tapegrad::cli {

Command add_cv_command(CLI::App& app);

}  // namespace tapegrad::cli
