// Everything in nn/: modules, initializers, layers, cells, losses, training, broadcasting a
// model to every rank.
#pragma once

#include <tapegrad/nn/bidirectional.hpp>
#include <tapegrad/nn/callbacks.hpp>
#include <tapegrad/nn/cell.hpp>
#include <tapegrad/nn/cells.hpp>
#include <tapegrad/nn/data.hpp>
#include <tapegrad/nn/dense.hpp>
#include <tapegrad/nn/dist.hpp>
#include <tapegrad/nn/dropout.hpp>
#include <tapegrad/nn/fit.hpp>
#include <tapegrad/nn/gradcheck.hpp>
#include <tapegrad/nn/init.hpp>
#include <tapegrad/nn/losses.hpp>
#include <tapegrad/nn/metrics.hpp>
#include <tapegrad/nn/model_config.hpp>
#include <tapegrad/nn/model_selection.hpp>
#include <tapegrad/nn/module.hpp>
#include <tapegrad/nn/registry.hpp>
#include <tapegrad/nn/rnn.hpp>
#include <tapegrad/nn/sequential.hpp>
#include <tapegrad/nn/serialize.hpp>
#include <tapegrad/nn/summary.hpp>
#include <tapegrad/nn/tasks.hpp>
#include <tapegrad/nn/torch_interop.hpp>
