// `tapegrad info`: what a model holds.
//
//   tapegrad info out/model.safetensors     any weights file or checkpoint, by itself: the
//                                           model its config describes, each tensor's name,
//                                           shape and dtype, the parameter count, and for a
//                                           checkpoint the epoch and the optimizer
//   tapegrad info --cell gru --units 64,32 [--weights w.safetensors]
//                                           the model `train` builds from these flags (with
//                                           --weights, those weights loaded into it first)
#pragma once

#include <CLI/CLI.hpp>

#include "cli_common.hpp"

namespace tapegrad::cli {

Command add_info_command(CLI::App& app);

}  // namespace tapegrad::cli
