// Distributed training, the part that needs a model: broadcast_parameters, and
// DataParallel (data_parallel.hpp), which this header brings along.
//
// The collectives themselves (Session, all_reduce, broadcast, ...) need nothing but tensors
// and live in core/dist.hpp; what moves a whole model needs nn::Module, so it lives here, in
// the same namespace tg::dist.
#pragma once

#include <tapegrad/core/dist.hpp>
#include <tapegrad/nn/data_parallel.hpp>
#include <tapegrad/nn/module.hpp>

namespace tapegrad::dist {

// Every rank's parameters become root's, so the replicas start equal. First every rank
// compares a hash of its parameters' names, shapes and dtypes with root's: a rank that
// built another model (mismatched programs) makes every rank throw a ValueError naming it,
// instead of a broadcast that would hang or mix up weights. A no-op in a world of one.
void broadcast_parameters(const nn::Module& model, int root = 0);

}  // namespace tapegrad::dist
