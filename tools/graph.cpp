#include <tapegrad/tools/graph.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <graphviz/gvc.h>

#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/autograd/tape.hpp>
#include <tapegrad/core/atomic_file.hpp>

namespace tapegrad::tools {
namespace {

struct Graph {
  std::vector<std::shared_ptr<Record>> records;  // reachable from the root, oldest first
  std::unordered_map<const Record*, int> record_id;
  std::vector<const Edge*> leaves;  // first edge seen for each leaf, in id order
  std::unordered_map<const AutogradMeta*, int> leaf_id;
};

// The records reachable from root: a reverse walk over the tape, like backward's. `what`
// names the caller in errors.
Graph collect(const Tensor& root, const char* what) {
  Graph g;
  const auto& meta = root.impl().autograd;
  if (!meta || !meta->producer) {
    throw_error<ValueError>("{}: the tensor of shape {} was not produced by a recorded op", what,
                            root.shape());
  }
  Tape& tape = Tape::owning(*meta->producer, what);
  std::unordered_set<const Record*> wanted{meta->producer.get()};
  for (std::size_t pos = tape.position_of(meta->producer->seq()) + 1; pos-- > 0;) {
    std::shared_ptr<Record> rec = tape.at(pos);
    if (!rec || !wanted.contains(rec.get())) continue;
    g.records.push_back(rec);
    for (const Edge& e : rec->inputs()) {
      if (e.producer) wanted.insert(e.producer.get());
    }
  }
  std::reverse(g.records.begin(), g.records.end());
  for (std::size_t i = 0; i < g.records.size(); ++i) {
    g.record_id[g.records[i].get()] = static_cast<int>(i);
    for (const Edge& e : g.records[i]->inputs()) {
      if (e.leaf && !g.leaf_id.contains(e.leaf.get())) {
        g.leaf_id[e.leaf.get()] = static_cast<int>(g.leaves.size());
        g.leaves.push_back(&e);
      }
    }
  }
  return g;
}

// "0:SimpleRNN/t3" for a record in step 3 of that layer; "" outside any time step.
std::string time_step_cluster(const std::string& scope) {
  std::size_t start = 0;
  while (start < scope.size()) {
    const std::size_t end = std::min(scope.find('/', start), scope.size());
    const std::string part = scope.substr(start, end - start);
    if (part.size() > 1 && part[0] == 't' &&
        std::all_of(part.begin() + 1, part.end(), [](char c) { return std::isdigit(c); })) {
      return scope.substr(0, end);
    }
    start = end + 1;
  }
  return "";
}

struct Colours {
  double max_norm = 0;
  // White for vanishing gradients through salmon for the largest (labels stay readable):
  // saturation follows log10 of the norm relative to the largest, over four decades.
  std::string fill(double norm) const {
    if (max_norm <= 0 || norm <= 0) return "#ffffff";
    const double s = std::clamp(1.0 + std::log10(norm / max_norm) / 4.0, 0.0, 1.0);
    return fmt::format("0.000 {:.3f} 1.000", 0.6 * s);
  }
};

std::string grad_label(const std::unordered_map<const void*, double>& norms, const void* key) {
  const auto it = norms.find(key);
  return it == norms.end() ? "" : fmt::format("\\n|grad| {:.3g}", it->second);
}

class DotWriter {
 public:
  DotWriter(const Tensor& root, std::ostream& out, const DotOptions& opts)
      : graph_(collect(root, "write_dot")), out_(out), opts_(opts) {
    for (const auto& [name, t] : opts.names) {
      if (t.defined() && t.impl().autograd) names_[t.impl().autograd.get()] = name;
    }
    if (opts.show_grads) {
      GradientNorms norms = gradient_norms(root);
      for (const auto& [k, v] : norms.outputs) norms_[k] = v;
      for (const auto& [k, v] : norms.leaves) norms_[k] = v;
      for (const auto& [k, v] : norms_) colours_.max_norm = std::max(colours_.max_norm, v);
    }
  }

  void write() {
    fmt::print(out_,
               "digraph tapegrad {{\n  rankdir=LR;\n  node [shape=box, style=filled, "
               "fillcolor=\"#ffffff\", fontname=\"Helvetica\", fontsize=10];\n");
    write_leaves();
    write_records();
    write_edges();
    out_ << "}\n";
  }

 private:
  std::string fill(const void* key) const {
    const auto it = norms_.find(key);
    return opts_.show_grads && it != norms_.end() ? colours_.fill(it->second) : "#ffffff";
  }

  void write_leaves() {
    for (std::size_t i = 0; i < graph_.leaves.size(); ++i) {
      const Edge& e = *graph_.leaves[i];
      const auto named = names_.find(e.leaf.get());
      const std::string name = named == names_.end() ? "leaf" : named->second;
      fmt::print(out_, "  l{} [shape=ellipse, fillcolor=\"{}\", label=\"{}\\n{}{}\"];\n", i,
                 opts_.show_grads ? fill(e.leaf.get()) : "#dbe9ff", name, e.shape,
                 grad_label(norms_, e.leaf.get()));
    }
  }

  void write_records() {
    std::map<std::string, std::vector<int>> clusters;  // sorted: deterministic output
    for (std::size_t i = 0; i < graph_.records.size(); ++i) {
      const Record& rec = *graph_.records[i];
      const std::string cluster = opts_.cluster_time_steps ? time_step_cluster(rec.scope()) : "";
      if (!cluster.empty()) {
        clusters[cluster].push_back(static_cast<int>(i));
        continue;
      }
      write_record(static_cast<int>(i), "  ");
    }
    int c = 0;
    for (const auto& [name, ids] : clusters) {
      fmt::print(out_, "  subgraph cluster_{} {{\n    label=\"{}\";\n    style=rounded;\n", c++,
                 name);
      for (int id : ids) write_record(id, "    ");
      out_ << "  }\n";
    }
  }

  void write_record(int id, const char* indent) {
    const Record& rec = *graph_.records[id];
    fmt::print(out_, "{}r{} [fillcolor=\"{}\", label=\"{}\\n{}{}\"];\n", indent, id, fill(&rec),
               rec.op(), rec.output_shape(), grad_label(norms_, &rec));
  }

  void write_edges() {
    int constants = 0;
    for (std::size_t i = 0; i < graph_.records.size(); ++i) {
      for (const Edge& e : graph_.records[i]->inputs()) {
        if (e.producer) {
          fmt::print(out_, "  r{} -> r{};\n", graph_.record_id.at(e.producer.get()), i);
        } else if (e.leaf) {
          fmt::print(out_, "  l{} -> r{};\n", graph_.leaf_id.at(e.leaf.get()), i);
        } else if (opts_.show_constants) {
          fmt::print(out_,
                     "  c{} [shape=plaintext, style=\"\", label=\"const {}\"];\n  c{} -> r{} "
                     "[style=dashed];\n",
                     constants, e.shape, constants, i);
          ++constants;
        }
      }
    }
  }

  Graph graph_;
  std::ostream& out_;
  const DotOptions& opts_;
  std::unordered_map<const void*, std::string> names_;
  std::unordered_map<const void*, double> norms_;
  Colours colours_;
};

std::string render_format(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".svg" || ext == ".png" || ext == ".pdf") return ext.substr(1);
  throw_error<ValueError>("render: cannot tell the format of '{}' (use .svg, .png or .pdf)", path);
}

// Lays out and renders a DOT graph into memory, so the file is then written atomically like
// every other output.
std::string render_in_memory(const std::string& dot, const std::string& format,
                             const std::string& path) {
  GVC_t* gvc = gvContext();
  Agraph_t* g = agmemread(dot.c_str());
  char* bytes = nullptr;
  unsigned int length = 0;
  const bool ok = g != nullptr && gvLayout(gvc, g, "dot") == 0 &&
                  gvRenderData(gvc, g, format.c_str(), &bytes, &length) == 0;
  std::string rendered = ok ? std::string(bytes, length) : std::string();
  if (bytes != nullptr) gvFreeRenderData(bytes);
  if (g != nullptr) {
    gvFreeLayout(gvc, g);
    agclose(g);
  }
  gvFreeContext(gvc);
  if (!ok) throw_error<IOError>("render: Graphviz could not lay out or render {}", path);
  return rendered;
}

}  // namespace

std::vector<StepGradient> gradient_flow(const Tensor& loss) {
  const Graph graph = collect(loss, "gradient_flow");
  const GradientNorms norms = gradient_norms(loss);
  // The newest record of each (layer, step) scope carries the state the step hands on.
  std::map<std::pair<std::string, int64_t>, const Record*> last_of_step;
  for (const auto& rec : graph.records) {
    const std::string cluster = time_step_cluster(rec->scope());
    if (cluster.empty()) continue;
    const std::size_t slash = cluster.rfind('/');
    const std::string layer = slash == std::string::npos ? "" : cluster.substr(0, slash);
    const int64_t step = std::stoll(cluster.substr(slash + 2));
    last_of_step[{layer, step}] = rec.get();
  }
  std::vector<StepGradient> out;
  for (const auto& [key, rec] : last_of_step) {
    const auto it = norms.outputs.find(rec);
    out.push_back({key.first, key.second, it == norms.outputs.end() ? 0.0 : it->second});
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

void write_dot(const Tensor& root, std::ostream& out, const DotOptions& opts) {
  DotWriter(root, out, opts).write();
}

void write_dot(const Tensor& root, const std::string& path, const DotOptions& opts) {
  std::ostringstream dot;
  write_dot(root, dot, opts);
  write_file_atomically("write_dot", path, dot.str());
}

void render(const Tensor& root, const std::string& path, const DotOptions& opts) {
  const std::string format = render_format(path);
  std::ostringstream dot;
  write_dot(root, dot, opts);
  write_file_atomically("render", path, render_in_memory(dot.str(), format, path));
}

}  // namespace tapegrad::tools
