#include <tapegrad/tools/graph.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/tools/graph_tape.hpp>

namespace tapegrad::tools {

std::vector<StepGradient> gradient_flow(const Tensor& loss) {
  const Graph graph = collect(loss, "gradient_flow");
  const GradientNorms norms = gradient_norms(loss);
  std::vector<StepGradient> out;
  for (const LayerCall& call : layer_calls(graph).calls) {
    std::vector<StepRecords> steps = call.steps;
    std::sort(steps.begin(), steps.end(),
              [](const StepRecords& a, const StepRecords& b) { return a.index < b.index; });
    for (const StepRecords& step : steps) {
      const auto it = norms.outputs.find(step_state(graph, step));
      out.push_back({*call.layer, step.index, it == norms.outputs.end() ? 0.0 : it->second});
    }
  }
  return out;
}

void print_gradient_flow(const Tensor& loss, std::ostream& out) {
  const std::vector<StepGradient> rows = gradient_flow(loss);
  double largest = 0;
  for (const StepGradient& r : rows) largest = std::max(largest, r.norm);
  fmt::print(out, "{:<32} {:>5} {:>12}  (bar: log10 of the norm over the largest)\n", "layer",
             "step", "|dL/dh_t|");
  for (const StepGradient& r : rows) {
    // One '#' per tenth of a decade above 1e-6 of the largest norm.
    const double decades = r.norm > 0 && largest > 0 ? std::log10(r.norm / largest) + 6 : 0;
    const std::string bar(static_cast<std::size_t>(std::clamp(decades * 5, 0.0, 30.0)), '#');
    fmt::print(out, "{:<32} {:>5} {:>12.4g}  {}\n", r.layer, r.step, r.norm, bar);
  }
}

}  // namespace tapegrad::tools
