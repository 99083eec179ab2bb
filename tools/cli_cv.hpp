// `tapegrad cv`: the hidden size by cross-validation (nn::grid_search).
//
//   tapegrad cv --units 8,16,32,64 --folds 5                  the reference data, k-fold
//   tapegrad cv --data series.csv --window 12 --units 4,8,16,32 --plot cv.svg
//
// Each --units value u is one candidate: the model `train` builds with one recurrent layer
// of u units (build_model({cell, {u}})) and Dense(1), complexity u. Every candidate is
// trained on the same folds with Adam (--lr) for --epochs and scored by the MSE on the
// fold's validation windows. Without --data the default --split kfold shuffles the samples
// into folds, right for independent samples such as the reference data; with --data the
// default is --split time (forward chaining: validate on later windows than any the model
// was trained on), and --split kfold must be asked for. With --data each fold fits its own
// min-max scaler on the values its training windows see and scales its training and
// validation windows with it (a scikit-learn Pipeline inside cross_validate: no validation
// value sets the scale); its predictions are scaled back, so every fold's validation MSE is
// in the series' own unit and the folds compare. --jobs runs folds and candidates on
// threads, with one BLAS thread each; the numbers do not change.
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
