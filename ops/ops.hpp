// Every differentiable op. Each family's file holds its ops' forward and gradient rule.
#pragma once

#include <tapegrad/autograd/primitives.hpp>
#include <tapegrad/ops/activation.hpp>
#include <tapegrad/ops/elementwise.hpp>
#include <tapegrad/ops/linalg.hpp>
#include <tapegrad/ops/recurrent.hpp>
#include <tapegrad/ops/reduce.hpp>
#include <tapegrad/ops/shape.hpp>
