// Graph dumps for teaching: the recorded graph behind a loss, as Graphviz DOT or rendered.
//
//   tg::tools::write_dot(loss, "graph.dot", {.cluster_time_steps = true, .show_grads = true});
//   tg::tools::render(loss, "graph.png", {.max_steps = 2, .title = "SimpleRNN 64-32"});
//   tg::tools::render(loss, "layers.svg", {.modules = true});   // one node per layer call
//
// The dump reads the tape: the records reachable from the loss, oldest first. Node ids come
// from the order of records on the tape (r0, r1, ...; leaves l0, l1, ...; a fold f<first
// folded record>, a module-mode group m<first record>), not from addresses, so the same
// program writes the same file every run. A recurrent layer marks each call and time step
// on its records (TimeStepScope, as fields, never in the scope string), so with
// cluster_time_steps every layer call is a box holding one box per step: the unrolled
// structure of BPTT. max_steps = k folds a long unrolling: each layer call keeps its first
// ceil(k/2) and last floor(k/2) steps (processing order) and draws the middle as one node
// "... N steps ..."; edges into and out of it keep their meaning (the hidden state enters it
// from the last early step and leaves it into the first late one; a parameter or the input
// projection used by the folded steps is one edge into it). modules = true draws one node
// per layer call (other records grouped by their name scope; records outside every scope
// stand alone), its parameters in the label and edges labelled with the shapes passed on.
//
// Nodes show the op and output shape. Roles: parameters are blue ellipses, the named inputs
// (`inputs`: x and the target y) green parallelograms labelled "x (4, 10, 1)", other data and
// constants plain text (show_constants), ops white boxes, the loss (the root) a double box;
// the title gives `title` and the loss value. show_values adds mean and max |x| where the
// tape kept the value (saved for backward, named leaves, the root). With show_grads every
// node also shows the L2 (Frobenius) norm of d loss / d (its value), coloured by log10 of the
// norm on the viridis scale (perceptually uniform, dark purple to yellow) stretched between
// the smallest and the largest nonzero norm drawn, so norms a decade apart differ in colour
// and vanishing gradients stand out; a zero norm is white. Computing them runs one backward
// pass that keeps the graph and leaves .grad() untouched, so call it before loss.backward()
// or after loss.backward(true). A legend explains shapes and colours, with gradients the
// norm and the range the colours span. cluster_scopes boxes the records outside recurrent
// layer calls by their name scope: a Dense layer ("Sequential/2:Dense"), the loss ("MSE").
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <tapegrad/core/tensor.hpp>
#include <tapegrad/optim/params.hpp>
#include <tapegrad/tools/viz/chart.hpp>

namespace tapegrad::tools {

struct DotOptions {
  bool cluster_time_steps = true;
  bool show_grads = false;
  bool show_constants = false;  // inputs that need no gradient (data, scalar constants)
  // Names for leaves, e.g. model.named_parameters(); unnamed leaves show their shape.
  NamedTensors names = {};
  int64_t max_steps = 0;     // > 0: keep this many steps per layer call, fold the middle
  bool modules = false;      // one node per layer call instead of one per op
  bool show_values = false;  // mean and max |x| of the values the tape kept
  bool legend = true;
  std::string title = {};  // first line of the title; the loss value follows
  // Data drawn as nodes, e.g. {{"x", x}, {"y", y}}: each must require grad before the forward
  // pass, so that the tape links it as a leaf (its gradient norm is then drawn as well).
  NamedTensors inputs = {};
  bool cluster_scopes = false;  // a box per name scope around the records outside layer calls
};

void write_dot(const Tensor& root, std::ostream& out, const DotOptions& opts = {});
// Written atomically: a temporary file renamed over `path`.
void write_dot(const Tensor& root, const std::string& path, const DotOptions& opts = {});
// Lays the graph out with Graphviz's dot and writes svg, png or pdf (from the extension).
void render(const Tensor& root, const std::string& path, const DotOptions& opts = {});

// The gradient-flow report: how strongly the loss reaches back to each time step.
// For every layer call (in tape order) and step (in time order), the norm of d loss / d h_t, where
// h_t is the step's last value (the state it hands on). In a plain tanh RNN these norms shrink
// geometrically towards early steps: the vanishing gradient, measured.
struct StepGradient {
  std::string layer;  // the layer call's scope, e.g. "Sequential/0:SimpleRNN"
  int64_t step = 0;
  double norm = 0;
};
std::vector<StepGradient> gradient_flow(const Tensor& loss);

// The same steps and, for every named parameter (e.g. model.named_parameters()), the norm of
// d loss / d W, from one backward pass (that keeps the graph and leaves .grad() untouched).
// A parameter the loss does not reach has norm 0.
struct ParameterGradient {
  std::string name;  // as given, e.g. "0.cell.recurrent_kernel"
  double norm = 0;
};
struct GradientFlow {
  std::vector<StepGradient> steps;
  std::vector<ParameterGradient> parameters;
};
GradientFlow gradient_flow_report(const Tensor& loss, const NamedTensors& names);
// Two CSV files, written atomically: `path` has the steps (layer,step,norm, one row per
// layer and step) and <stem>_parameters.csv beside it the parameters (parameter,norm); two
// files because the tables have different columns, and each loads as it is into a
// spreadsheet or pandas. Returns the parameters file's path.
std::string write_csv(const GradientFlow& flow, const std::string& path);
// The chart of the steps: x = time step, log y = |dL/dh_t|, one line per layer call.
void write_chart(const GradientFlow& flow, const std::string& path, const std::string& title = {});
// The same with the chart's options (size, subtitle, dpi); an empty title or axis label is
// the one above.
void write_chart(const GradientFlow& flow, const std::string& path, LineChartOptions chart);
// The chart's lines: one per layer call, x = step, y = |dL/dh_t|.
std::vector<LineSeries> gradient_flow_series(const GradientFlow& flow);
// A table of gradient_flow(loss), one row per layer and step, with a bar per row.
void print_gradient_flow(const Tensor& loss, std::ostream& out);

}  // namespace tapegrad::tools
