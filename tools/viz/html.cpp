#include <tapegrad/tools/viz/html.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/core/atomic_file.hpp>
#include <tapegrad/tools/viz/graph_tape.hpp>
#include <tapegrad/tools/viz/scratch.hpp>

namespace tapegrad::tools {
namespace {

// The page: style, script and the pictures inline, so it needs no network.
constexpr const char* kPage =
#include "html_page.inc"
    ;

// A card: rows of (what, value), shown as a two-column table.
using Card = std::vector<std::pair<std::string, std::string>>;

std::string html_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A JSON string that is also safe inside <script>: '<' is escaped, so no "</script>" ends it.
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || c == '<') {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string json_cards(const std::map<std::string, Card>& cards) {
  std::vector<std::string> entries;
  for (const auto& [key, card] : cards) {
    std::vector<std::string> rows;
    for (const auto& [what, value] : card) {
      rows.push_back(fmt::format("[{},{}]", json_string(what), json_string(value)));
    }
    entries.push_back(fmt::format("{}:[{}]", json_string(key), fmt::join(rows, ",")));
  }
  return fmt::format("{{{}}}", fmt::join(entries, ","));
}

// An SVG file as an element of the page: what precedes <svg (the XML declaration, the
// doctype, comments) has no place inside HTML.
std::string inline_svg(const std::string& svg) {
  const std::size_t start = svg.find("<svg");
  if (start == std::string::npos) {
    throw_error<IOError>("write page: the drawing is not SVG (starts {})",
                         tapegrad::quoted(svg.substr(0, 40)));
  }
  return svg.substr(start);
}

std::string page(const std::string& title, const std::string& controls,
                 const std::vector<std::string>& svgs, const std::string& data) {
  std::string views;
  for (std::size_t i = 0; i < svgs.size(); ++i) {
    views += fmt::format("<div class=\"view\"{}>{}</div>\n", i == 0 ? "" : " hidden",
                         inline_svg(svgs[i]));
  }
  // One pass over the template: text put into a slot is never searched for slots.
  const std::map<std::string, std::string> slots{{"@TITLE@", html_text(title)},
                                                 {"@CONTROLS@", controls},
                                                 {"@VIEWS@", views},
                                                 {"@DATA@", data}};
  const std::string_view page_template = kPage;
  std::string out;
  std::size_t from = 0;
  for (std::size_t at = page_template.find('@'); at != std::string_view::npos;
       at = page_template.find('@', at + 1)) {
    const std::size_t end = page_template.find('@', at + 1);
    if (end == std::string_view::npos) break;
    const auto slot = slots.find(std::string(page_template.substr(at, end - at + 1)));
    if (slot == slots.end()) continue;
    out += page_template.substr(from, at - from);
    out += slot->second;
    from = end + 1;
    at = end;
  }
  out += page_template.substr(from);
  return out;
}

std::string number(double v) {
  return fmt::format("{:.4g}", v);
}

// Mean and max |x| of a tensor's values, as card rows.
void add_value_rows(Card& card, const Tensor& t) {
  if (!t.defined() || t.numel() == 0) {
    card.emplace_back("values", "not kept by the tape");
    return;
  }
  const Tensor dense = t.contiguous();
  double sum = 0, largest = 0;
  dispatch(dense.dtype(), [&]<class T>(T) {
    const T* p = dense.data<T>();
    for (int64_t i = 0; i < dense.numel(); ++i) {
      sum += static_cast<double>(p[i]);
      largest = std::max(largest, std::abs(static_cast<double>(p[i])));
    }
  });
  card.emplace_back("mean", number(sum / static_cast<double>(dense.numel())));
  card.emplace_back("max |x|", number(largest));
}

// The values the tape kept, by the node they are the value of (a record, or a leaf's
// AutogradMeta): outputs saved for backward, saved inputs, named leaves and the root.
std::unordered_map<const void*, Tensor> kept_values(const Graph& g, const Tensor& root,
                                                    const NamedTensors& names) {
  std::unordered_map<const void*, Tensor> out;
  const auto note = [&](const Tensor& t) {
    const auto& meta = t.defined() ? t.impl().autograd : nullptr;
    if (!meta) return;
    const void* key = meta->producer ? static_cast<const void*>(meta->producer.get()) : meta.get();
    out.try_emplace(key, t);
  };
  note(root);
  for (const auto& [name, t] : names) note(t);
  for (const auto& rec : g.records) {
    rec->for_each_saved([&](const SavedTensor& s) {
      if (s.is_output) {
        out.try_emplace(rec.get(), s.tensor);
      } else {
        note(s.tensor);
      }
    });
  }
  return out;
}

// Every record's and leaf's card, keyed by its node id in the drawing (r<i>, l<i>).
std::map<std::string, Card> node_cards(const Graph& g, const Tensor& root, const DotOptions& opts) {
  const GradientNorms norms = gradient_norms(root);
  const auto values = kept_values(g, root, opts.names);
  const auto value_of = [&](const void* key) {
    const auto it = values.find(key);
    return it == values.end() ? Tensor() : it->second;
  };
  const auto grad_row = [](Card& card, const auto& map, const auto* key) {
    const auto it = map.find(key);
    card.emplace_back("|grad|", it == map.end() ? "none" : number(it->second));
  };
  std::map<std::string, Card> cards;
  for (std::size_t i = 0; i < g.records.size(); ++i) {
    const Record& rec = *g.records[i];
    Card card{{"op", rec.op()}, {"shape", fmt::format("{}", rec.output_shape())}};
    if (!rec.scope().empty()) card.emplace_back("scope", rec.scope());
    if (rec.time_step().in_step()) card.emplace_back("step", std::to_string(rec.time_step().index));
    add_value_rows(card, value_of(&rec));
    grad_row(card, norms.outputs, &rec);
    cards[fmt::format("r{}", i)] = std::move(card);
  }
  std::unordered_map<const void*, std::string> name_of;
  for (const auto& [name, t] : opts.names) {
    if (t.defined() && t.impl().autograd) name_of[t.impl().autograd.get()] = name;
  }
  for (std::size_t i = 0; i < g.leaves.size(); ++i) {
    const Edge& e = *g.leaves[i];
    const auto named = name_of.find(e.leaf.get());
    Card card{{"parameter", named == name_of.end() ? "leaf" : named->second},
              {"shape", fmt::format("{}", e.shape)}};
    add_value_rows(card, value_of(e.leaf.get()));
    grad_row(card, norms.leaves, e.leaf.get());
    cards[fmt::format("l{}", i)] = std::move(card);
  }
  return cards;
}

// The fold that keeps position p of an unrolling of `steps` unfolded, with as many steps
// from the other end: the first and last step at both ends of the slider.
int64_t fold_keeping(int64_t p, int64_t steps) {
  return p < steps / 2 ? 2 * p + 2 : 2 * (steps - p);
}

std::string render_svg(const Tensor& root, const DotOptions& opts,
                       const ScratchDirectory& scratch) {
  const std::string file = (scratch / "graph.svg").string();
  render(root, file, opts);
  return read_all(file);
}

}  // namespace

bool is_page_path(const std::string& path) {
  return std::filesystem::path(path).extension() == ".html";
}

void write_graph_page(const Tensor& root, const std::string& path, const DotOptions& opts) {
  const Graph g = collect(root, "write_graph_page");
  int64_t steps = 0;
  for (const LayerCall& call : layer_calls(g).calls) {
    steps = std::max(steps, static_cast<int64_t>(call.steps.size()));
  }
  const ScratchDirectory scratch("write_graph_page: " + path);
  // One drawing per distinct fold; the slider picks the one that unfolds its step.
  std::vector<std::string> svgs;
  std::map<int64_t, std::size_t> view_of_fold;
  std::vector<std::string> view_of, labels;
  DotOptions drawing = opts;
  for (int64_t p = 0; p < std::max<int64_t>(steps, 1); ++p) {
    drawing.max_steps = steps > 0 ? fold_keeping(p, steps) : 0;
    const auto [it, is_new] = view_of_fold.try_emplace(drawing.max_steps, svgs.size());
    if (is_new) svgs.push_back(render_svg(root, drawing, scratch));
    view_of.push_back(std::to_string(it->second));
    labels.push_back(fmt::format("step {} of {}", p, steps));
  }
  const std::string controls =
      steps > 0 ? fmt::format(
                      "<label>unfold <input id=\"step\" type=\"range\" min=\"0\" "
                      "max=\"{}\" value=\"0\"> <span id=\"step-label\"></span></label>",
                      steps - 1)
                : "";
  std::vector<std::string> quoted_labels;
  for (const std::string& l : labels) quoted_labels.push_back(json_string(l));
  const std::string slider =
      steps > 0 ? fmt::format("{{\"view_of\":[{}],\"labels\":[{}]}}", fmt::join(view_of, ","),
                              fmt::join(quoted_labels, ","))
                : "null";
  const std::string data = fmt::format("{{\"mode\":\"graph\",\"slider\":{},\"cards\":{}}}", slider,
                                       json_cards(node_cards(g, root, opts)));
  const std::string title = opts.title.empty() ? "tapegrad graph" : opts.title;
  write_file_atomically("write_graph_page", path, page(title, controls, svgs, data));
}

void write_gradient_flow_page(const GradientFlow& flow, const std::string& path,
                              const LineChartOptions& chart) {
  const ScratchDirectory scratch("write_gradient_flow_page: " + path);
  const std::string file = (scratch / "chart.svg").string();
  write_chart(flow, file, chart);
  // gnuplot draws series i as plot i + 1, its points in order.
  std::map<std::string, Card> cards;
  const std::vector<LineSeries> series = gradient_flow_series(flow);
  for (std::size_t i = 0; i < series.size(); ++i) {
    for (std::size_t j = 0; j < series[i].x.size(); ++j) {
      cards[fmt::format("p{}_{}", i + 1, j)] = {{"cell", series[i].label},
                                                {"step", number(series[i].x[j])},
                                                {"|dL/dh_t|", number(series[i].y[j])}};
    }
  }
  const std::string data =
      fmt::format("{{\"mode\":\"chart\",\"slider\":null,\"cards\":{}}}", json_cards(cards));
  const std::string title = chart.title.empty() ? "Gradient flow through time" : chart.title;
  write_file_atomically("write_gradient_flow_page", path, page(title, "", {read_all(file)}, data));
}

}  // namespace tapegrad::tools
