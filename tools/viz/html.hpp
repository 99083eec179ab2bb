// Interactive pages for teaching: one self-contained HTML file each (the SVG inline, the
// script and style inline, no external URL: it opens offline, from a file or an e-mail).
//
//   tg::tools::write_graph_page(loss, "graph.html", {.names = model.named_parameters()});
//   tg::tools::write_gradient_flow_page(flow, "flow.html", {.title = "Gradient flow"});
//
// Both pages pan (drag) and zoom (mouse wheel) their picture and show a card when the mouse
// is over a node or a point. The graph page draws the folded graph (Graphviz, as render()
// does) and a slider over the time steps of the recurrent layers: at step p the graph keeps
// every step from both ends up to p unfolded (DotOptions::max_steps) and frames step p; at
// either end of the slider it is the graph folded to its first and last step. A node's card
// gives its op (or parameter name), shape, mean and max |x| where the tape kept the value,
// and the L2 norm of d loss / d (its value), read from the tape behind the loss (computing
// the norms runs one backward pass that keeps the graph and leaves .grad() untouched). The
// gradient-flow page draws write_chart's chart; a point's card gives the layer (the cell),
// the step and |dL/dh_t|.
//
// A page opened with the fragment #test (graph.html#test) runs its own check once loaded:
// it moves the slider to the last step, hovers a node or point and zooms in, then writes
// what it found as JSON into <pre id="test-result"> (the browser test reads it).
#pragma once

#include <string>

#include <tapegrad/core/tensor.hpp>
#include <tapegrad/tools/viz/chart.hpp>
#include <tapegrad/tools/viz/graph.hpp>

namespace tapegrad::tools {

// True when `path` ends in .html, the extension of the pages.
bool is_page_path(const std::string& path);

// opts as render() takes them; max_steps is the slider's, so it is ignored. Written
// atomically.
void write_graph_page(const Tensor& root, const std::string& path, const DotOptions& opts = {});

// The chart of write_chart(flow, ...) with `chart`'s title, subtitle and size. Written
// atomically.
void write_gradient_flow_page(const GradientFlow& flow, const std::string& path,
                              const LineChartOptions& chart = {});

}  // namespace tapegrad::tools
