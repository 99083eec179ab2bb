#include <tapegrad/tools/viz/graph.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/core/atomic_file.hpp>
#include <tapegrad/core/csv.hpp>
#include <tapegrad/tools/viz/chart.hpp>
#include <tapegrad/tools/viz/graph_tape.hpp>

namespace tapegrad::tools {

namespace {

std::vector<StepGradient> step_gradients(const Tensor& loss, const GradientNorms& norms,
                                         const char* what) {
  const Graph graph = collect(loss, what);
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

}  // namespace

std::vector<StepGradient> gradient_flow(const Tensor& loss) {
  return step_gradients(loss, gradient_norms(loss), "gradient_flow");
}

GradientFlow gradient_flow_report(const Tensor& loss, const NamedTensors& names) {
  const GradientNorms norms = gradient_norms(loss);
  GradientFlow flow{step_gradients(loss, norms, "gradient_flow_report"), {}};
  for (const auto& [name, w] : names) {
    const auto* meta = w.defined() ? w.impl().autograd.get() : nullptr;
    const auto it = meta ? norms.leaves.find(meta) : norms.leaves.end();
    flow.parameters.push_back({name, it == norms.leaves.end() ? 0.0 : it->second});
  }
  return flow;
}

std::string write_csv(const GradientFlow& flow, const std::string& path) {
  std::string steps = "layer,step,norm\n";
  // Layer scopes and parameter names are user text: written as CSV fields.
  for (const StepGradient& r : flow.steps) {
    write_csv_field(steps, r.layer);
    steps += fmt::format(",{},{}\n", r.step, r.norm);
  }
  std::string parameters = "parameter,norm\n";
  for (const ParameterGradient& p : flow.parameters) {
    write_csv_field(parameters, p.name);
    parameters += fmt::format(",{}\n", p.norm);
  }
  const std::filesystem::path p(path);
  const std::string parameters_path =
      (p.parent_path() / (p.stem().string() + "_parameters.csv")).string();
  write_file_atomically("gradient_flow write_csv", path, steps);
  write_file_atomically("gradient_flow write_csv", parameters_path, parameters);
  return parameters_path;
}

std::vector<LineSeries> gradient_flow_series(const GradientFlow& flow) {
  std::vector<LineSeries> lines;
  for (const StepGradient& r : flow.steps) {
    // A new line per layer call: a layer called twice restarts at step 0.
    const bool same_call = !lines.empty() && lines.back().label == r.layer &&
                           static_cast<double>(r.step) > lines.back().x.back();
    if (!same_call) lines.push_back({r.layer, {}, {}});
    lines.back().x.push_back(static_cast<double>(r.step));
    lines.back().y.push_back(r.norm);
  }
  return lines;
}

void write_chart(const GradientFlow& flow, const std::string& path, const std::string& title) {
  write_chart(flow, path, LineChartOptions{.title = title});
}

void write_chart(const GradientFlow& flow, const std::string& path, LineChartOptions chart) {
  if (chart.title.empty()) chart.title = "Gradient flow through time";
  if (chart.x_label.empty()) chart.x_label = "time step t";
  if (chart.y_label.empty()) chart.y_label = "|dL/dh_t|";
  chart.log_y = true;
  write_line_chart(path, gradient_flow_series(flow), chart);
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
