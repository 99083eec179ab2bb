#include <tapegrad/tools/viz/graph.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <graphviz/gvc.h>

#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/core/atomic_file.hpp>
#include <tapegrad/tools/viz/graph_tape.hpp>

namespace tapegrad::tools {
namespace {

// The middle steps of a layer call drawn as one node. max_steps = k keeps the first
// ceil(k/2) and the last floor(k/2) steps in processing order.
struct Fold {
  std::string id;
  std::size_t first = 0;  // the folded steps are steps[first, last)
  std::size_t last = 0;
};

std::optional<Fold> fold_of(const LayerCall& call, int64_t max_steps) {
  const auto k = static_cast<std::size_t>(max_steps);
  if (max_steps <= 0 || call.steps.size() <= k) return std::nullopt;
  const std::size_t first = (k + 1) / 2;
  const std::size_t last = call.steps.size() - k / 2;
  return Fold{fmt::format("f{}", call.steps[first].records.front()), first, last};
}

// Mean and max |x| of a tensor's values.
std::string value_stats(const Tensor& t) {
  if (t.numel() == 0) return "";
  const Tensor dense = t.contiguous();
  double sum = 0, largest = 0;
  dispatch(dense.dtype(), [&]<class T>(T) {
    const T* p = dense.data<T>();
    for (int64_t i = 0; i < dense.numel(); ++i) {
      sum += static_cast<double>(p[i]);
      largest = std::max(largest, std::abs(static_cast<double>(p[i])));
    }
  });
  return fmt::format("\\nmean {:.3g}  max|x| {:.3g}", sum / static_cast<double>(t.numel()),
                     largest);
}

// Viridis (matplotlib's) at 0, 1/8, ..., 1: perceptually uniform and monotonic in
// lightness, so equal steps of log10(norm) look like equal steps, also printed in grey.
constexpr std::array<std::array<int, 3>, 9> kViridis{{{0x44, 0x01, 0x54},
                                                      {0x47, 0x2d, 0x7b},
                                                      {0x3b, 0x52, 0x8b},
                                                      {0x2c, 0x72, 0x8e},
                                                      {0x21, 0x91, 0x8c},
                                                      {0x28, 0xae, 0x80},
                                                      {0x5e, 0xc9, 0x62},
                                                      {0xad, 0xdc, 0x30},
                                                      {0xfd, 0xe7, 0x25}}};

// Fill (and, on the dark half of the scale, white text) at position t in [0, 1].
std::string viridis_attributes(double t) {
  const double x = std::clamp(t, 0.0, 1.0) * static_cast<double>(kViridis.size() - 1);
  const auto k = std::min(static_cast<std::size_t>(x), kViridis.size() - 2);
  const double w = x - static_cast<double>(k);
  std::array<int, 3> rgb{};
  for (std::size_t c = 0; c < 3; ++c) {
    rgb[c] = static_cast<int>(std::lround((1 - w) * kViridis[k][c] + w * kViridis[k + 1][c]));
  }
  return fmt::format("fillcolor=\"#{:02x}{:02x}{:02x}\"{}", rgb[0], rgb[1], rgb[2],
                     t < 0.5 ? ", fontcolor=\"white\"" : "");
}

// Gradient norms coloured by log10 of the norm, stretched between the smallest and the
// largest nonzero norm drawn: the colours span exactly the range present, so norms a decade
// apart differ visibly whatever that range is. A zero norm (no gradient reaches) is white.
struct GradientScale {
  double lo = 0, hi = 0;
  void include(double norm) {
    if (!(norm > 0)) return;
    lo = lo > 0 ? std::min(lo, norm) : norm;
    hi = std::max(hi, norm);
  }
  double decades() const { return hi > lo ? std::log10(hi / lo) : 0.0; }
  // The position of a nonzero norm on the scale, 1 for the largest.
  double position(double norm) const {
    return decades() > 0 ? std::log10(norm / lo) / decades() : 1.0;
  }
  // The norm at position t, for the legend's samples.
  double norm_at(double t) const { return lo * std::pow(10.0, t * decades()); }
  std::string attributes(double norm) const {
    return norm > 0 ? viridis_attributes(position(norm)) : "fillcolor=\"#ffffff\"";
  }
};

// Fills by role when gradients are not shown.
constexpr const char* kParameterFill = "#dbe9ff";
constexpr const char* kOpFill = "#ffffff";
constexpr const char* kLossFill = "#ffe4b5";
constexpr const char* kFoldFill = "#eeeeee";
constexpr const char* kDataFill = "#d9f2d9";

// Text inside a DOT "..." string: quotes escaped, so a title or a scope cannot end it.
std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"') out += '\\';
    out += c;
  }
  return out;
}

std::string grad_label(double norm) {
  return fmt::format("\\n|grad| {:.3g}", norm);
}

// "(4, 10, 1)": a data node's shape, written as Python and PyTorch print it.
std::string tuple_of(const Shape& shape) {
  return fmt::format("({})", fmt::join(shape, ", "));
}

class DotWriter {
 public:
  DotWriter(const Tensor& root, std::ostream& out, const DotOptions& opts)
      : root_(root),
        graph_(collect(root, "write_dot")),
        calls_(layer_calls(graph_)),
        out_(out),
        opts_(opts) {
    for (const auto& [name, t] : opts.names) {
      if (t.defined() && t.impl().autograd) names_[t.impl().autograd.get()] = {name, t};
    }
    read_inputs();
    if (opts.show_grads) read_gradient_norms();
    if (opts.show_values) read_values();
    assign_nodes();
    if (opts.show_grads) read_gradient_scale();
  }

  void write() {
    // Tight spacing: an unrolled RNN is long, and it must fit one screen.
    fmt::print(out_, R"(digraph tapegrad {{
  rankdir=LR;
  ranksep=0.2;
  nodesep=0.1;
  labelloc=t;
  fontname="Helvetica";
  label="{}";
  node [shape=box, style=filled, fillcolor="{}", fontname="Helvetica", fontsize=10, margin="0.05,0.03", height=0.3];
  edge [fontname="Helvetica", fontsize=9];
)",
               title(), kOpFill);
    write_leaves();
    if (opts_.modules) {
      write_modules();
    } else {
      write_records();
    }
    write_edges();
    if (opts_.legend) write_legend();
    out_ << "}\n";
  }

 private:
  // The inputs become named leaves drawn as data; one the tape cannot have linked is refused
  // rather than silently left out of the picture.
  void read_inputs() {
    for (const auto& [name, t] : opts_.inputs) {
      if (!t.defined() || !t.requires_grad()) {
        throw_error<ValueError>(
            "write_dot: input '{}' (shape {}) does not require grad, so the tape has no edge "
            "from it; call requires_grad_(true) on it before the forward pass",
            name, t.defined() ? fmt::format("{}", t.shape()) : std::string("undefined"));
      }
      const AutogradMeta* meta = t.impl().autograd.get();
      names_[meta] = {name, t};
      data_.insert(meta);
    }
  }

  void read_gradient_norms() {
    GradientNorms norms = gradient_norms(root_);
    for (const auto& [k, v] : norms.outputs) norms_[k] = v;
    for (const auto& [k, v] : norms.leaves) norms_[k] = v;
  }

  // The range of the norms the picture shows: drawn records (a module group shows its last
  // record's) and drawn leaves (module mode draws only data leaves).
  void read_gradient_scale() {
    const auto include = [&](const void* key) {
      if (const auto it = norms_.find(key); it != norms_.end()) scale_.include(it->second);
    };
    for (const Edge* e : graph_.leaves) {
      if (!opts_.modules || is_data(*e)) include(e->leaf.get());
    }
    if (opts_.modules) {
      for (const Group& g : groups_) include(graph_.records[g.members.back()].get());
      return;
    }
    for (std::size_t i = 0; i < graph_.records.size(); ++i) {
      if (node_[i][0] == 'r') include(graph_.records[i].get());
    }
  }

  // Values the tape keeps: tensors saved for backward (a saved input is its producer's
  // output), named leaves and the root. Other intermediate values were not kept.
  void read_values() {
    const auto note = [&](const Tensor& t) {
      const auto& meta = t.impl().autograd;
      if (!meta) return;
      const void* key =
          meta->producer ? static_cast<const void*>(meta->producer.get()) : meta.get();
      if (!values_.contains(key)) values_[key] = value_stats(t);
    };
    note(root_);
    for (const auto& [meta, named] : names_) note(named.second);
    for (const auto& rec : graph_.records) {
      rec->for_each_saved([&](const SavedTensor& s) {
        if (s.is_output) {
          values_.try_emplace(rec.get(), value_stats(s.tensor));
        } else if (s.tensor.defined()) {
          note(s.tensor);
        }
      });
    }
  }

  // node_[i]: the DOT node record i is drawn in: r<i> itself, the fold of its layer's
  // middle steps (f<first folded record>) or, in module mode, its group (m<first record>).
  void assign_nodes() {
    const std::size_t n = graph_.records.size();
    for (std::size_t i = 0; i < n; ++i) node_.push_back(fmt::format("r{}", i));
    if (opts_.modules) return assign_groups();
    for (const LayerCall& call : calls_.calls) {
      const std::optional<Fold> fold = fold_of(call, opts_.max_steps);
      folds_.push_back(fold);
      if (!fold) continue;
      for (std::size_t s = fold->first; s < fold->last; ++s) {
        for (int r : call.steps[s].records) node_[r] = fold->id;
      }
      absorb_into_fold(call, fold->id);
    }
  }

  // A record of the call after its loop that reads only folded steps (the per-step part of
  // stacking return_sequences outputs) is drawn inside the fold as well.
  void absorb_into_fold(const LayerCall& call, const std::string& fold) {
    for (int r : call.outside_steps) {
      const auto& inputs = graph_.records[r]->inputs();
      const bool only_fold =
          std::any_of(inputs.begin(), inputs.end(), [](const Edge& e) { return e.producer; }) &&
          std::all_of(inputs.begin(), inputs.end(), [&](const Edge& e) {
            return !e.leaf && (!e.producer || node_[graph_.record_id.at(e.producer.get())] == fold);
          });
      if (only_fold) node_[r] = fold;
    }
  }

  // Module mode: the records of one layer call form a group; other records group by their
  // name scope (a module call opens one); records outside every scope stand alone.
  void assign_groups() {
    std::map<std::string, std::size_t> group_of_key;
    for (std::size_t i = 0; i < graph_.records.size(); ++i) {
      const Record& rec = *graph_.records[i];
      const std::string key = calls_.call_of[i] >= 0 ? fmt::format("call {}", calls_.call_of[i])
                              : rec.scope().empty()  ? fmt::format("record {}", i)
                                                     : "scope " + rec.scope();
      const auto [it, is_new] = group_of_key.try_emplace(key, groups_.size());
      if (is_new) groups_.push_back({fmt::format("m{}", i), {}});
      node_[i] = groups_[it->second].id;
      groups_[it->second].members.push_back(static_cast<int>(i));
    }
  }

  std::string title() const {
    const std::string value = root_.numel() == 1 ? fmt::format("loss {:.4g}", root_.item())
                                                 : fmt::format("output {}", root_.shape());
    return opts_.title.empty() ? value : escaped(opts_.title) + "\\n" + value;
  }

  bool is_root(int record) const {
    return graph_.records[record] == root_.impl().autograd->producer;
  }

  // The fill attributes of a node: its role's colour, or with gradients its norm's.
  std::string fill(const void* key, const char* role_fill) const {
    if (!opts_.show_grads) return fmt::format("fillcolor=\"{}\"", role_fill);
    const auto it = norms_.find(key);
    return scale_.attributes(it == norms_.end() ? 0.0 : it->second);
  }

  bool is_data(const Edge& e) const { return e.leaf && data_.contains(e.leaf.get()); }

  std::string extras(const void* key) const {
    std::string out;
    if (const auto v = values_.find(key); v != values_.end()) out += v->second;
    if (const auto g = norms_.find(key); g != norms_.end()) out += grad_label(g->second);
    return out;
  }

  std::string leaf_name(const Edge& e) const {
    const auto named = names_.find(e.leaf.get());
    return named == names_.end() ? "leaf" : escaped(named->second.first);
  }

  // Parameters (all leaves but the data) and the data; module mode lists parameters in
  // their group's label instead.
  void write_leaves() {
    for (std::size_t i = 0; i < graph_.leaves.size(); ++i) {
      const Edge& e = *graph_.leaves[i];
      if (is_data(e)) {
        fmt::print(out_, "  l{} [shape=parallelogram, {}, label=\"{} {}{}\"];\n", i,
                   fill(e.leaf.get(), kDataFill), leaf_name(e), tuple_of(e.shape),
                   extras(e.leaf.get()));
      } else if (!opts_.modules) {
        fmt::print(out_, "  l{} [shape=ellipse, {}, label=\"{}\\n{}{}\"];\n", i,
                   fill(e.leaf.get(), kParameterFill), leaf_name(e), e.shape, extras(e.leaf.get()));
      }
    }
  }

  // Records outside layer calls (with cluster_scopes, a box per name scope), then one
  // cluster per layer call holding a cluster per drawn step and the fold node of its middle
  // steps.
  void write_records() {
    std::vector<std::pair<std::string, std::vector<int>>> scopes;  // in order of first record
    for (std::size_t i = 0; i < graph_.records.size(); ++i) {
      if (calls_.call_of[i] >= 0) continue;
      const std::string& scope = graph_.records[i]->scope();
      if (!opts_.cluster_scopes || scope.empty()) {
        write_record(static_cast<int>(i), "  ");
        continue;
      }
      const auto it = std::find_if(scopes.begin(), scopes.end(),
                                   [&](const auto& s) { return s.first == scope; });
      if (it == scopes.end()) {
        scopes.push_back({scope, {static_cast<int>(i)}});
      } else {
        it->second.push_back(static_cast<int>(i));
      }
    }
    for (std::size_t k = 0; k < scopes.size(); ++k) {
      fmt::print(out_, "  subgraph cluster_scope_{} {{\n    label=\"{}\";\n    style=rounded;\n", k,
                 escaped(scopes[k].first));
      for (int r : scopes[k].second) write_record(r, "    ");
      out_ << "  }\n";
    }
    for (std::size_t c = 0; c < calls_.calls.size(); ++c) write_layer_call(c);
  }

  void write_layer_call(std::size_t c) {
    const LayerCall& call = calls_.calls[c];
    const std::optional<Fold>& fold = folds_[c];
    const bool boxes = opts_.cluster_time_steps;
    const char* indent = boxes ? "    " : "  ";
    if (boxes) {
      fmt::print(out_, "  subgraph cluster_{} {{\n    label=\"{}\";\n    style=rounded;\n", c,
                 call.layer->empty() ? "layer" : escaped(*call.layer));
    }
    for (int r : call.outside_steps) {
      if (node_[r][0] == 'r') write_record(r, indent);
    }
    for (std::size_t s = 0; s < call.steps.size(); ++s) {
      if (fold && s == fold->first) write_fold(call, *fold, indent);
      if (fold && s >= fold->first && s < fold->last) continue;
      if (boxes) {
        fmt::print(out_, "    subgraph cluster_{}_{} {{\n      label=\"step {}\";\n", c, s,
                   call.steps[s].index);
      }
      for (int r : call.steps[s].records) write_record(r, boxes ? "      " : "  ");
      if (boxes) out_ << "    }\n";
    }
    if (boxes) out_ << "  }\n";
  }

  void write_fold(const LayerCall& call, const Fold& fold, const char* indent) {
    const std::size_t count = fold.last - fold.first;
    std::string grads;
    if (opts_.show_grads) {
      // The range of |dL/dh_t| over the folded steps: what the picture leaves out.
      double lo = INFINITY, hi = 0;
      for (std::size_t s = fold.first; s < fold.last; ++s) {
        const auto it = norms_.find(step_state(graph_, call.steps[s]));
        const double n = it == norms_.end() ? 0.0 : it->second;
        lo = std::min(lo, n);
        hi = std::max(hi, n);
      }
      grads = fmt::format("\\n|dL/dh| {:.3g} .. {:.3g}", lo, hi);
    }
    fmt::print(out_,
               "{}{} [shape=box3d, style=\"filled,dashed\", fillcolor=\"{}\", label=\"... {} "
               "step{} ...\\nsteps {} to {}{}\"];\n",
               indent, fold.id, kFoldFill, count, count == 1 ? "" : "s",
               call.steps[fold.first].index, call.steps[fold.last - 1].index, grads);
  }

  void write_record(int id, const char* indent) {
    const Record& rec = *graph_.records[id];
    const bool loss = is_root(id);
    fmt::print(out_, "{}r{} [{}{}, label=\"{}\\n{}{}\"];\n", indent, id,
               loss ? "peripheries=2, " : "", fill(&rec, loss ? kLossFill : kOpFill), rec.op(),
               rec.output_shape(), extras(&rec));
  }

  // One node per group: its name, what it holds, its parameters and its output shape.
  void write_modules() {
    for (const auto& [id, members] : groups_) {
      const int first = members.front();
      const Record& head = *graph_.records[first];
      const Record& tail = *graph_.records[members.back()];
      const int call = calls_.call_of[first];
      // A lone op outside every scope is named by its op; a scope of one op (a Dense layer
      // is one addmm) by the scope, with the op beneath.
      const bool lone = members.size() == 1 && head.scope().empty();
      std::string name = lone ? head.op() : escaped(head.scope());
      std::string what = lone                  ? ""
                         : members.size() == 1 ? fmt::format("\\n{}", head.op())
                                               : fmt::format("\\n{} ops", members.size());
      if (call >= 0) {
        name = escaped(*calls_.calls[call].layer);
        what = fmt::format("\\n{} steps, {} ops", calls_.calls[call].steps.size(), members.size());
      }
      const bool loss =
          std::any_of(members.begin(), members.end(), [&](int r) { return is_root(r); });
      fmt::print(out_, "  {} [{}{}, label=\"{}{}{}\\n-> {}{}\"];\n", id,
                 loss ? "peripheries=2, " : "", fill(&tail, loss ? kLossFill : kOpFill), name, what,
                 parameters_of(members), tail.output_shape(), extras(&tail));
    }
  }

  // "\\nname shape" for each leaf the records read, in order of first use.
  std::string parameters_of(const std::vector<int>& records) const {
    std::string out;
    std::set<const AutogradMeta*> seen;
    for (int r : records) {
      for (const Edge& e : graph_.records[r]->inputs()) {
        if (e.leaf && !is_data(e) && seen.insert(e.leaf.get()).second) {
          out += fmt::format("\\n{} {}", leaf_name(e), e.shape);
        }
      }
    }
    return out;
  }

  // In the full graph every input is an edge (a*a draws two). Edges into or out of a fold
  // or a group are drawn once per pair of nodes: the folded steps' hidden state enters from
  // the last early step and leaves into the first late one.
  void write_edges() {
    std::set<std::pair<std::string, std::string>> drawn;
    for (std::size_t i = 0; i < graph_.records.size(); ++i) {
      const std::string& to = node_[i];
      for (const Edge& e : graph_.records[i]->inputs()) {
        if (!e.needs_grad()) {
          if (opts_.show_constants) write_constant(e, to, drawn);
          continue;
        }
        if (e.leaf && opts_.modules && !is_data(e)) continue;  // listed in the group's label
        const int producer = e.producer ? graph_.record_id.at(e.producer.get()) : -1;
        const std::string from =
            producer >= 0 ? node_[producer] : fmt::format("l{}", graph_.leaf_id.at(e.leaf.get()));
        if (from == to) continue;
        const bool merged = from[0] == 'f' || from[0] == 'm' || to[0] == 'f' || to[0] == 'm';
        if (merged && !drawn.insert({from, to}).second) continue;
        std::string attrs;
        if (opts_.modules) {
          attrs = fmt::format(" [label=\"{}\"]", e.shape);
        } else if (producer >= 0 && between_rows(producer, static_cast<int>(i))) {
          attrs = " [constraint=false]";
        }
        fmt::print(out_, "  {} -> {}{};\n", from, to, attrs);
      }
    }
  }

  // With boxes, each layer call, and the records outside them, is a row starting at the left
  // edge: edges between rows do not rank their nodes, so a stack of layers wraps like lines
  // of text instead of making one picture many screens wide.
  bool between_rows(int from, int to) const {
    return opts_.cluster_time_steps && calls_.call_of[from] != calls_.call_of[to];
  }

  // A constant (data, a scalar) has no node of its own: one per use, or per shape and fold
  // or group.
  void write_constant(const Edge& e, const std::string& to,
                      std::set<std::pair<std::string, std::string>>& drawn) {
    if (to[0] != 'r' && !drawn.insert({fmt::format("const {}", e.shape), to}).second) return;
    fmt::print(out_,
               "  c{0} [shape=plaintext, style=\"\", label=\"const {1}\"];\n  c{0} -> {2} "
               "[style=dashed];\n",
               constants_, e.shape, to);
    ++constants_;
  }

  // What the colours and shapes mean, and with gradients the log scale of the fill: one row
  // of sample nodes (chained by invisible edges), above the graph.
  void write_legend() {
    std::vector<std::pair<std::string, std::string>> entries;  // id, attributes
    if (!opts_.modules) {
      entries.emplace_back(
          "parameter",
          fmt::format("shape=ellipse, fillcolor=\"{}\", label=\"parameter\"", kParameterFill));
    }
    if (!data_.empty()) {
      entries.emplace_back("input", fmt::format("shape=parallelogram, fillcolor=\"{}\", "
                                                "label=\"data: input x, target y (shape)\"",
                                                kDataFill));
    }
    if (opts_.show_constants) {
      entries.emplace_back("data", "shape=plaintext, style=\"\", label=\"const: data / constant\"");
    }
    entries.emplace_back(
        "op", opts_.modules ? "label=\"layer or op\\nsteps, ops, parameters\\n-> output shape\""
                            : "label=\"op\\noutput shape\"");
    entries.emplace_back("loss",
                         fmt::format("peripheries=2, fillcolor=\"{}\", label=\"loss (root)\"",
                                     opts_.show_grads ? "#ffffff" : kLossFill));
    if (std::any_of(folds_.begin(), folds_.end(), [](const auto& f) { return f.has_value(); })) {
      entries.emplace_back("fold", fmt::format("shape=box3d, style=\"filled,dashed\", "
                                               "fillcolor=\"{}\", label=\"folded middle steps\"",
                                               kFoldFill));
    }
    if (opts_.show_grads) add_gradient_legend(entries);
    out_ << "  subgraph cluster_legend {\n    label=\"legend\";\n    style=rounded;\n";
    for (const auto& [id, attrs] : entries) fmt::print(out_, "    legend_{} [{}];\n", id, attrs);
    for (std::size_t i = 1; i < entries.size(); ++i) {
      fmt::print(out_, "    legend_{} -> legend_{} [style=invis];\n", entries[i - 1].first,
                 entries[i].first);
    }
    out_ << "  }\n";
  }

  // The scale's title (which norm, its range) and five samples from the largest (grad0) to
  // the smallest norm (grad4), each labelled with its norm.
  void add_gradient_legend(std::vector<std::pair<std::string, std::string>>& entries) const {
    const bool any_zero =
        std::any_of(norms_.begin(), norms_.end(), [](const auto& n) { return !(n.second > 0); });
    const std::string range = scale_.hi > 0 ? fmt::format("shown: {:.3g} … {:.3g} ({:.1f} decades)",
                                                          scale_.lo, scale_.hi, scale_.decades())
                                            : std::string("every norm is 0");
    entries.emplace_back(
        "grads", fmt::format("shape=plaintext, style=\"\", label=\"‖∂L/∂node‖₂ (Frobenius), log "
                             "scale\\n{}{}\"",
                             range, any_zero ? "\\nwhite: 0 (no gradient)" : ""));
    if (!(scale_.hi > 0)) return;
    const int samples = scale_.decades() > 0 ? 5 : 1;
    for (int k = 0; k < samples; ++k) {
      const double t = samples > 1 ? 1.0 - k / static_cast<double>(samples - 1) : 1.0;
      entries.emplace_back(
          fmt::format("grad{}", k),
          fmt::format("{}, label=\"|grad| {:.3g}\"", viridis_attributes(t), scale_.norm_at(t)));
    }
  }

  const Tensor& root_;
  Graph graph_;
  LayerCalls calls_;
  std::ostream& out_;
  const DotOptions& opts_;
  std::unordered_map<const void*, std::pair<std::string, Tensor>> names_;
  std::unordered_map<const void*, double> norms_;
  std::unordered_map<const void*, std::string> values_;
  GradientScale scale_;
  std::unordered_set<const AutogradMeta*> data_;  // the leaves of opts.inputs
  int constants_ = 0;
  std::vector<std::string> node_;
  std::vector<std::optional<Fold>> folds_;  // per layer call
  struct Group {
    std::string id;
    std::vector<int> members;  // records, oldest first
  };
  std::vector<Group> groups_;  // module mode
};

std::string render_format(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".svg" || ext == ".png" || ext == ".pdf") return ext.substr(1);
  throw_error<ValueError>("render: cannot tell the format of '{}' (use .svg, .png or .pdf)", path);
}

// Lays out and renders a DOT graph into memory, so the file is then written atomically like
// every other output. One Graphviz context serves the whole program, one render at a time:
// Graphviz's pango text layout keeps a pointer to the last font it measured, which a freed
// context frees, so a second context read freed memory (ASan: a title rendered twice).
// Graphviz is not thread-safe either, hence the lock.
std::string render_in_memory(const std::string& dot, const std::string& format,
                             const std::string& path) {
  static std::mutex graphviz;
  const std::lock_guard lock(graphviz);
  static GVC_t* const gvc = gvContext();  // kept until exit on purpose (see above)
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
  if (!ok) throw_error<IOError>("render: Graphviz could not lay out or render {}", path);
  return rendered;
}

}  // namespace

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
