// The reference model's graph dump: folding, module mode, structure and golden DOT files.
//
// Golden files live in tests/fixtures/golden/. After an intended change of the dump, run
// the suite with TAPEGRAD_UPDATE_GOLDEN=1 to rewrite them, and review the diff.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <regex>
#include <sstream>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;

namespace {

// SimpleRNN(1, 64, return_sequences) -> SimpleRNN(64, 32) -> Dense(32, 1), batch 4, 10 steps.
struct ReferenceModel {
  ReferenceModel() {
    tg::manual_seed(0);
    model =
        std::make_unique<tg::nn::Sequential>(tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
                                             tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1));
    loss = tg::nn::MSE()((*model)(tg::rand({4, 10, 1})), tg::rand({4, 1}));
  }
  std::string dot(tg::tools::DotOptions opts) const {
    opts.names = model->named_parameters();
    opts.title = "SimpleRNN(64) -> SimpleRNN(32) -> Dense(1), batch 4, 10 steps";
    std::ostringstream out;
    tg::tools::write_dot(loss, out, opts);
    return out.str();
  }
  std::unique_ptr<tg::nn::Sequential> model;
  tg::Tensor loss;
};

// What a DOT text holds: node statements (id -> attributes) and edges, legend left out.
struct ParsedDot {
  std::map<std::string, std::string> nodes;
  std::vector<std::pair<std::string, std::string>> edges;
  int clusters = 0;
  std::size_t edges_between(const std::string& from, const std::string& to) const {
    return static_cast<std::size_t>(std::count(edges.begin(), edges.end(), std::pair{from, to}));
  }
  std::vector<std::string> nodes_labelled(const std::string& part) const {
    std::vector<std::string> ids;
    for (const auto& [id, attrs] : nodes) {
      if (attrs.find(part) != std::string::npos) ids.push_back(id);
    }
    return ids;
  }
};

ParsedDot parse_dot(const std::string& dot) {
  ParsedDot p;
  static const std::regex node(R"(^\s*([a-z]\w*) \[(.*)\];$)");
  static const std::regex edge(R"(^\s*(\w+) -> (\w+)( \[.*\])?;$)");
  std::istringstream in(dot);
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (line.find("subgraph cluster_") != std::string::npos && !tg_test::contains(line, "legend")) {
      ++p.clusters;
    }
    if (line.find("legend_") != std::string::npos) continue;  // the legend's samples
    if (std::regex_match(line, m, edge)) {
      p.edges.emplace_back(m[1], m[2]);
    } else if (std::regex_match(line, m, node) && m[1] != "node" && m[1] != "edge") {
      p.nodes[m[1]] = m[2];
    }
  }
  return p;
}

void check_golden(const std::string& name, const std::string& dot) {
  const std::string path = std::string(TAPEGRAD_TEST_DATA_DIR) + "/golden/" + name;
  if (std::getenv("TAPEGRAD_UPDATE_GOLDEN") != nullptr) tg_test::write_file(path, dot);
  CAPTURE(path);
  CHECK(tg_test::read_file(path) == dot);
}

}  // namespace

TEST_CASE("reference model, unfolded: every step of both layers, in boxes, same text each run") {
  const ReferenceModel ref;
  const std::string dot = ref.dot({});
  const ParsedDot p = parse_dot(dot);
  CHECK(p.clusters == 2 + 20);  // two layer calls, ten steps each
  CHECK(p.nodes_labelled("... ").empty());
  CHECK(p.nodes_labelled("0.cell.recurrent_kernel\\n[64,64]").size() == 1);
  CHECK(p.nodes_labelled("peripheries=2").size() == 1);  // the loss
  CHECK(tg_test::contains(dot,
                          "label=\"SimpleRNN(64) -> SimpleRNN(32) -> Dense(1), batch 4, "
                          "10 steps\\nloss "));
  CHECK(ReferenceModel().dot({}) == dot);
  check_golden("reference_unfolded.dot", dot);
}

TEST_CASE("reference model folded to 2 steps: one fold node per layer carrying the state") {
  const ReferenceModel ref;
  const ParsedDot full = parse_dot(ref.dot({}));
  const std::string dot = ref.dot({.max_steps = 2});
  const ParsedDot p = parse_dot(dot);
  const std::vector<std::string> folds = p.nodes_labelled("... 8 steps ...\\nsteps 1 to 8");
  REQUIRE(folds.size() == 2);
  CHECK(p.clusters == 2 + 4);  // steps 0 and 9 of each layer keep their boxes
  CHECK(p.nodes.size() < full.nodes.size() / 2);
  for (const std::string& fold : folds) {
    int into = 0, out_of = 0;
    for (const auto& [from, to] : p.edges) {
      into += to == fold;
      out_of += from == fold;
      CHECK(from != to);
      if (to == fold || from == fold) CHECK(p.edges_between(from, to) == 1);  // merged
    }
    // In: step 0's state, the recurrent kernel, the input projection (or its slices), ...
    CHECK(into >= 2);
    // Out: into step 9 (and, for the first layer, the stack of all outputs).
    CHECK(out_of >= 1);
  }
  // The first layer's hidden state: step 0's tanh (r4) enters the fold, and step 9's
  // recurrent addmm (r30) reads the fold's last state; the stack of all outputs too (r42).
  CHECK(tg_test::contains(p.nodes.at("r4"), "label=\"tanh\\n[4,64]"));
  CHECK(tg_test::contains(p.nodes.at("r30"), "label=\"addmm\\n[4,64]"));
  CHECK(p.edges_between("r4", "f5") == 1);
  CHECK(p.edges_between("f5", "r30") == 1);
  CHECK(p.edges_between("f5", "r42") == 1);
  // The recurrent kernel of each layer feeds the fold once, and kept steps directly.
  const std::vector<std::string> u = p.nodes_labelled("0.cell.recurrent_kernel");
  REQUIRE(u.size() == 1);
  CHECK(std::count_if(folds.begin(), folds.end(),
                      [&](const std::string& f) { return p.edges_between(u[0], f) == 1; }) == 1);
  check_golden("reference_folded_k2.dot", dot);
}

TEST_CASE("max_steps = k keeps ceil(k/2) early and floor(k/2) late steps; k >= T folds nothing") {
  const ReferenceModel ref;
  const ParsedDot k3 = parse_dot(ref.dot({.max_steps = 3}));
  CHECK(k3.nodes_labelled("... 7 steps ...\\nsteps 2 to 8").size() == 2);
  CHECK(k3.clusters == 2 + 6);
  CHECK(parse_dot(ref.dot({.max_steps = 10})).nodes_labelled("... ").empty());
  CHECK(parse_dot(ref.dot({.max_steps = 9})).nodes_labelled("... 1 step ...").size() == 2);
}

TEST_CASE("reference model in module mode: one node per layer call, edges carry shapes") {
  const ReferenceModel ref;
  const std::string dot = ref.dot({.modules = true});
  const ParsedDot p = parse_dot(dot);
  const auto rnn0 = p.nodes_labelled("Sequential/0:SimpleRNN\\n10 steps");
  const auto rnn1 = p.nodes_labelled("Sequential/1:SimpleRNN\\n10 steps");
  const auto dense = p.nodes_labelled("Sequential/2:Dense");
  REQUIRE(rnn0.size() == 1);
  REQUIRE(rnn1.size() == 1);
  REQUIRE(dense.size() == 1);
  CHECK(tg_test::contains(p.nodes.at(rnn0[0]), "0.cell.kernel [1,64]"));
  CHECK(tg_test::contains(p.nodes.at(rnn0[0]), "-> [4,10,64]"));
  CHECK(tg_test::contains(dot, rnn0[0] + " -> " + rnn1[0] + " [label=\"[4,10,64]\"]"));
  CHECK(tg_test::contains(dot, rnn1[0] + " -> " + dense[0] + " [label=\"[4,32]\"]"));
  CHECK(p.nodes.size() <= 8);  // three layers and the loss's few ops
  check_golden("reference_modules.dot", dot);
}

TEST_CASE("show_values and show_grads: statistics, log-scale colours and a legend") {
  const ReferenceModel ref;
  const std::string dot = ref.dot({.show_grads = true, .max_steps = 2, .show_values = true});
  // tanh keeps its output for backward: its node shows statistics of values within (-1, 1).
  static const std::regex tanh_stats(R"(tanh\\n\[4,64\]\\nmean -?[0-9.e-]+  max\|x\| 0\.[0-9]+)");
  CHECK(std::regex_search(dot, tanh_stats));
  CHECK(tg_test::contains(dot, "|grad| "));
  CHECK(tg_test::contains(dot, "|dL/dh| "));  // the folded steps' range
  // The scale's ends: the smallest norm drawn (viridis's dark end), the largest (its yellow).
  CHECK(tg_test::contains(dot, "legend_grad4 [fillcolor=\"#440154\""));
  CHECK(tg_test::contains(dot, "legend_grad0 [fillcolor=\"#fde725\""));
  for (const tg::Tensor& p : ref.model->parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("render the folded reference model to png") {
  const ReferenceModel ref;
  const tg_test::ScratchDir dir("tapegrad-graph-golden");
  const std::string png = dir / "folded.png";
  tg::tools::render(ref.loss, png,
                    {.names = ref.model->named_parameters(), .max_steps = 2, .title = "reference"});
  CHECK(tg_test::read_file(png).substr(1, 3) == "PNG");
  if (const char* keep = std::getenv("TAPEGRAD_KEEP_PNG")) {
    tg::tools::render(ref.loss, keep,
                      {.show_grads = true,
                       .names = ref.model->named_parameters(),
                       .max_steps = 2,
                       .title = "SimpleRNN(64) -> SimpleRNN(32) -> Dense(1), 10 steps"});
  }
}
