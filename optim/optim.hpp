// Everything in optim/: parameter lists, the optimizers, gradient clipping, lr schedules.
#pragma once

#include <tapegrad/optim/adam.hpp>
#include <tapegrad/optim/clip.hpp>
#include <tapegrad/optim/optimizer.hpp>
#include <tapegrad/optim/params.hpp>
#include <tapegrad/optim/rmsprop.hpp>
#include <tapegrad/optim/schedule.hpp>
#include <tapegrad/optim/sgd.hpp>
