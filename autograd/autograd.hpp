// Everything in autograd/: the tape, backward and grad, grad modes, custom functions,
// checkpointing, gradient checking.
#pragma once

#include <tapegrad/autograd/autograd_meta.hpp>
#include <tapegrad/autograd/backward_hooks.hpp>
#include <tapegrad/autograd/checkpoint.hpp>
#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/autograd/function.hpp>
#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/autograd/gradcheck.hpp>
#include <tapegrad/autograd/primitives.hpp>
#include <tapegrad/autograd/record.hpp>
#include <tapegrad/autograd/tape.hpp>
