// Graph dumps for teaching: the recorded graph behind a loss, as Graphviz DOT or rendered.
//
//   tg::tools::write_dot(loss, "graph.dot", {.cluster_time_steps = true, .show_grads = true});
//   tg::tools::render(loss, "graph.svg");   // svg, png or pdf, by extension (libgvc)
//
// The dump reads the tape: the records reachable from the loss, oldest first. Node ids come
// from the order of records on the tape (r0, r1, ...; leaves l0, l1, ...), not from
// addresses, so the same program writes the same file every run. Records recorded inside an
// RNN step carry the scope ".../t3"; with cluster_time_steps they are drawn in one box per
// layer and step, which shows the unrolled structure of BPTT. With show_grads every node
// also shows the L2 norm of d loss / d (its value), coloured from white (tiny) to red (the
// largest), which shows where gradients vanish; computing them runs one backward pass that
// keeps the graph and leaves .grad() untouched, so call it before loss.backward() or after
// loss.backward(true).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <tapegrad/core/tensor.hpp>
#include <tapegrad/optim/params.hpp>

namespace tapegrad::tools {

struct DotOptions {
  bool cluster_time_steps = true;
  bool show_grads = false;
  bool show_constants = false;  // inputs that need no gradient (data, scalar constants)
  // Names for leaves, e.g. model.named_parameters(); unnamed leaves show their shape.
  NamedTensors names = {};
};

void write_dot(const Tensor& root, std::ostream& out, const DotOptions& opts = {});
// Written atomically: a temporary file renamed over `path`.
void write_dot(const Tensor& root, const std::string& path, const DotOptions& opts = {});
// Lays the graph out with Graphviz's dot and writes svg, png or pdf (from the extension).
void render(const Tensor& root, const std::string& path, const DotOptions& opts = {});

// The gradient-flow report: how strongly the loss reaches back to each time step.
// For every layer and step, the norm of d loss / d h_t, where h_t is the step's last value
// (the state it hands on). In a plain tanh RNN these norms shrink geometrically towards
// early steps: the vanishing gradient, measured.
struct StepGradient {
  std::string layer;  // the scope up to the step, e.g. "Sequential/0:SimpleRNN"
  int64_t step = 0;
  double norm = 0;
};
std::vector<StepGradient> gradient_flow(const Tensor& loss);
// A table of gradient_flow(loss), one row per layer and step, with a bar per row.
void print_gradient_flow(const Tensor& loss, std::ostream& out);

}  // namespace tapegrad::tools
