// `tapegrad train`: fit the model of --cell and --units on the reference data or a CSV
// series, through the library's own parts: nn::fit with initial_epoch (resume),
// nn::CSVLogger (loss.csv), nn::EarlyStopping, the optim schedules, nn::ModelCheckpoint.
//
//   tapegrad train                      the reference model: SimpleRNN(64) -> SimpleRNN(32) ->
//                                       Dense(1) on 100 random sequences, Adam 1e-3, 100 epochs
//   tapegrad train --cell lstm --units 32 --data series.csv --window 12 --validation-split 0.2
//   tapegrad train --epochs 50 --checkpoint run.ckpt      ... later:
//   tapegrad train --epochs 100 --resume run.ckpt          continues at "Epoch 51/100"
//   tapegrad train --validation-split 0.2 --early-stopping 5 --lr-schedule plateau
//
// Writes into --out-dir: loss.csv after every epoch (nn::CSVLogger: epoch,loss,val_loss,lr,
// epoch 0-based as Keras's CSVLogger, NA where there is no value) and model.safetensors at
// the end. --checkpoint writes model, optimizer state, epoch, the run's loss history and the
// generator state after every epoch (atomically); --resume restores all of them and fits with
// initial_epoch, so a run stopped and resumed writes the same weights and loss.csv, bit for
// bit (with --threads 1), as one run straight through. --epochs counts the whole run, as
// Keras's fit(initial_epoch=...) does.
#pragma once

#include <CLI/CLI.hpp>

#include "cli_common.hpp"

namespace tapegrad::cli {

Command add_train_command(CLI::App& app);

}  // namespace tapegrad::cli
