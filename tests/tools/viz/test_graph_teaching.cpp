// Graph dumps for a teacher: the data as nodes ("x (4, 10, 1)"), the loss and a Dense layer
// boxed by their name scopes, the gate math of LSTM and GRU drawn as ops, and a gradient
// colour scale that separates the norms it shows, with a legend naming the norm and range.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;

namespace {

std::string dot_of(const tg::Tensor& loss, const tg::tools::DotOptions& opts) {
  std::ostringstream out;
  tg::tools::write_dot(loss, out, opts);
  return out.str();
}

// A DOT text's node statements (id -> attributes, legend left out) and, for each, the label
// of the cluster it is drawn in ("" at the top level).
struct Drawing {
  std::map<std::string, std::string> nodes;
  std::map<std::string, std::string> cluster_of;
  std::vector<std::pair<std::string, std::string>> edges;

  std::vector<std::string> labelled(const std::string& part) const {
    std::vector<std::string> ids;
    for (const auto& [id, attrs] : nodes) {
      if (tg_test::contains(attrs, "label=\"" + part)) ids.push_back(id);
    }
    return ids;
  }
  std::string attribute(const std::string& id, const std::string& name) const {
    static const std::regex value(R"re(([a-z]+)=(?:"([^"]*)"|([^,"\s]+)))re");
    const std::string& attrs = nodes.at(id);
    for (auto it = std::sregex_iterator(attrs.begin(), attrs.end(), value);
         it != std::sregex_iterator(); ++it) {
      if ((*it)[1] == name) return (*it)[2].matched ? (*it)[2] : (*it)[3];
    }
    return "";
  }
};

Drawing parse(const std::string& dot) {
  static const std::regex node(R"(^\s*([a-z]\w*) \[(.*)\];$)");
  static const std::regex edge(R"(^\s*(\w+) -> (\w+)( \[.*\])?;$)");
  static const std::regex cluster_label(R"re(^\s*label="(.*)";$)re");
  Drawing d;
  std::vector<std::string> open;  // labels of the clusters the line is in
  bool in_legend = false;
  std::istringstream in(dot);
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (tg_test::contains(line, "subgraph cluster_legend")) in_legend = true;
    if (in_legend) continue;
    if (tg_test::contains(line, "subgraph cluster_")) {
      open.emplace_back();
    } else if (line.find_first_not_of(' ') != std::string::npos &&
               line.substr(line.find_first_not_of(' ')) == "}" && !open.empty()) {
      open.pop_back();
    } else if (!open.empty() && open.back().empty() && std::regex_match(line, m, cluster_label)) {
      open.back() = m[1];
    } else if (std::regex_match(line, m, edge)) {
      d.edges.emplace_back(m[1], m[2]);
    } else if (std::regex_match(line, m, node) && m[1] != "node" && m[1] != "edge") {
      d.nodes[m[1]] = m[2];
      d.cluster_of[m[1]] = open.empty() ? "" : open.back();
    }
  }
  return d;
}

// LSTM(1 -> 4) -> Dense(4 -> 1) on x (4, 10, 1) against y (4, 1), x and y drawn.
struct Lesson {
  explicit Lesson(bool expand_gates = false) {
    tg::manual_seed(5);
    model = std::make_unique<tg::nn::Sequential>(tg::nn::LSTM(1, 4), tg::nn::Dense(4, 1));
    x = tg::rand({4, 10, 1}).requires_grad_(true);
    y = tg::rand({4, 1}).requires_grad_(true);
    if (expand_gates) {
      const tg::ExpandGatesGuard expanded;
      loss = tg::nn::MSE()((*model)(x), y);
    } else {
      loss = tg::nn::MSE()((*model)(x), y);
    }
  }
  std::string dot(tg::tools::DotOptions opts) const {
    opts.names = model->named_parameters();
    opts.inputs = {{"x", x}, {"y", y}};
    return dot_of(loss, opts);
  }
  std::unique_ptr<tg::nn::Sequential> model;
  tg::Tensor x, y, loss;
};

}  // namespace

TEST_CASE("write_dot: inputs x and y are data nodes with their shapes, feeding the graph") {
  const Lesson lesson;
  const Drawing d = parse(lesson.dot({}));
  const std::vector<std::string> x = d.labelled("x (4, 10, 1)"), y = d.labelled("y (4, 1)");
  REQUIRE(x.size() == 1);
  REQUIRE(y.size() == 1);
  CHECK(d.attribute(x[0], "shape") == "parallelogram");
  const auto reads = [&](const std::string& from) {
    return std::count_if(d.edges.begin(), d.edges.end(),
                         [&](const auto& e) { return e.first == from; });
  };
  CHECK(reads(x[0]) >= 1);
  CHECK(reads(y[0]) >= 1);
  // Without inputs, neither is drawn (the data needs no gradient of its own).
  CHECK(parse(dot_of(lesson.loss, {})).labelled("x (").empty());

  // Module mode: the data are nodes there too, their edges labelled with shapes, and not
  // listed among a layer's parameters.
  const std::string modules = lesson.dot({.modules = true});
  const Drawing m = parse(modules);
  REQUIRE(m.labelled("x (4, 10, 1)").size() == 1);
  CHECK(tg_test::contains(modules, m.labelled("x (4, 10, 1)")[0] + " -> "));
  CHECK_FALSE(tg_test::contains(modules, "\\nx [4,10,1]"));
}

TEST_CASE("write_dot refuses an input that does not require grad, naming it") {
  tg::manual_seed(1);
  tg::Tensor w = tg::rand({3}).requires_grad_(true);
  const tg::Tensor x = tg::rand({3});
  const tg::Tensor loss = tg::sum(w * x);
  CHECK_THROWS_WITH_AS(dot_of(loss, {.inputs = {{"x", x}}}),
                       doctest::Contains("input 'x' (shape [3]) does not require grad"),
                       tg::ValueError);
}

TEST_CASE("a loss call is a name scope: cluster_scopes boxes it as MSE, and Dense as its layer") {
  const Lesson lesson;
  CHECK(lesson.loss.impl().autograd->producer->scope() == "MSE");
  const Drawing d = parse(lesson.dot({.cluster_scopes = true}));
  std::vector<std::string> root;
  for (const auto& [id, attrs] : d.nodes) {
    if (tg_test::contains(attrs, "peripheries=2")) root.push_back(id);
  }
  REQUIRE(root.size() == 1);
  CHECK(d.cluster_of.at(root[0]) == "MSE");
  // The MSE box holds the whole loss: the difference, its square and the mean.
  std::size_t in_mse = 0;
  for (const auto& [id, cluster] : d.cluster_of) in_mse += cluster == "MSE";
  CHECK(in_mse >= 3);
  const std::vector<std::string> dense = d.labelled("addmm\\n[4,1]");
  REQUIRE(dense.size() == 1);
  CHECK(d.cluster_of.at(dense[0]) == "Sequential/1:Dense");
  // y enters the MSE box; without cluster_scopes nothing is boxed by scope.
  const std::string y = d.labelled("y (4, 1)").at(0);
  CHECK(std::any_of(d.edges.begin(), d.edges.end(), [&](const auto& e) {
    return e.first == y && d.cluster_of.at(e.second) == "MSE";
  }));
  CHECK_FALSE(tg_test::contains(lesson.dot({}), "cluster_scope_"));
  // In module mode the loss is one node named after it.
  CHECK(parse(lesson.dot({.modules = true})).labelled("MSE\\n").size() == 1);
}

TEST_CASE("ExpandGatesGuard: LSTM and GRU gates drawn as sigmoid, tanh, mul, add ops") {
  const std::string fused = Lesson().dot({});
  CHECK(tg_test::contains(fused, "label=\"lstm_gates"));
  const Drawing d = parse(Lesson(/*expand_gates=*/true).dot({}));
  CHECK(d.labelled("lstm_gates").empty());
  // Per step: three sigmoid gates, the candidate's and the cell's tanh.
  CHECK(d.labelled("sigmoid\\n[4,4]").size() == 3 * 10);
  CHECK(d.labelled("tanh\\n[4,4]").size() == 2 * 10);
  CHECK(d.labelled("mul\\n[4,4]").size() >= 3 * 10);
  CHECK(d.labelled("add\\n[4,4]").size() >= 10);
  CHECK_FALSE(tg::ExpandGatesGuard::enabled());  // closed with its scope

  tg::manual_seed(6);
  tg::nn::GRU gru(1, 3);
  const tg::ExpandGatesGuard expanded;
  const tg::Tensor loss = tg::sum(gru(tg::rand({2, 4, 1})));
  const Drawing g = parse(dot_of(loss, {}));
  CHECK(g.labelled("gru_gates").empty());
  CHECK(g.labelled("sigmoid\\n[2,3]").size() == 2 * 4);
  CHECK(g.labelled("tanh\\n[2,3]").size() == 4);
}

TEST_CASE("gradient colours: norms a decade apart get different fills; the legend names the norm") {
  tg::Tensor a = tg::tensor({1.0}).requires_grad_(true);
  tg::Tensor b = tg::tensor({1.0}).requires_grad_(true);
  const tg::Tensor loss = a + 10.0 * b;  // dL/da = 1, dL/db = 10
  const std::string dot = dot_of(loss, {.show_grads = true, .names = {{"a", a}, {"b", b}}});
  const Drawing d = parse(dot);
  const std::string fill_a = d.attribute(d.labelled("a\\n").at(0), "fillcolor");
  const std::string fill_b = d.attribute(d.labelled("b\\n").at(0), "fillcolor");
  CHECK(fill_a != fill_b);
  // The scale spans the norms drawn: the smallest at viridis's dark end, the largest at its
  // yellow end (labels in white on the dark half).
  CHECK(fill_a == "#440154");
  CHECK(fill_b == "#fde725");
  CHECK(d.attribute(d.labelled("a\\n").at(0), "fontcolor") == "white");
  CHECK(tg_test::contains(dot, "‖∂L/∂node‖₂ (Frobenius), log scale\\nshown: 1 … 10 (1.0 decades)"));
  CHECK(tg_test::contains(dot, "legend_grad0 [fillcolor=\"#fde725\", label=\"|grad| 10\"]"));
  CHECK(tg_test::contains(dot,
                          "legend_grad4 [fillcolor=\"#440154\", fontcolor=\"white\", "
                          "label=\"|grad| 1\"]"));
}

TEST_CASE("gradient colours separate the nodes of a real model: many distinct fills") {
  const Lesson lesson;
  const Drawing d = parse(lesson.dot({.show_grads = true}));
  std::set<std::string> fills;
  for (const auto& [id, attrs] : d.nodes) fills.insert(d.attribute(id, "fillcolor"));
  CHECK(fills.size() >= 20);
}
