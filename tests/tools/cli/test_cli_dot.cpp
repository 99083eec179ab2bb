// `tapegrad dot`, run as a user runs it: the DOT it writes (folding, module mode, the same
// text for the same seed), an SVG with the title, and one-line usage errors with exit 2.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/tapegrad.hpp>

#include "cli_util.hpp"

using tg_test::contains;
using tg_test::lines_of;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;

#ifndef TAPEGRAD_CLI

TEST_CASE("tapegrad dot: the program is not built (TAPEGRAD_BUILD_TOOLS=OFF), nothing to test") {
  MESSAGE("the tapegrad program is not part of this build");
}

#else

using tg_test::run;

namespace {

// The labels of the node statements of a DOT text, the legend left out.
std::vector<std::string> node_labels(const std::string& dot) {
  static const std::regex node(R"re(^\s*[a-z]\w* \[.*label="([^"]*)".*\];$)re");
  std::vector<std::string> labels;
  bool in_legend = false;
  for (const std::string& line : lines_of(dot)) {
    if (contains(line, "subgraph cluster_legend")) in_legend = true;
    std::smatch m;
    if (!in_legend && std::regex_match(line, m, node)) labels.push_back(m[1]);
  }
  return labels;
}

std::size_t labels_with(const std::vector<std::string>& labels, const std::string& part) {
  std::size_t n = 0;
  for (const std::string& label : labels) n += contains(label, part) ? 1 : 0;
  return n;
}

// `tapegrad dot <flags> -o <dir>/<name>`: the text written, after checking the run went well.
std::string dot_text(const ScratchDir& dir, const std::string& flags, const std::string& name) {
  const std::string path = dir / name;
  const Result r = run(dir, "dot " + flags + " -o '" + path + "'");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "Wrote " + path));
  return read_file(path);
}

void check_dot_refuses(const ScratchDir& dir, const std::string& args, const std::string& part) {
  CAPTURE(args);
  tg_test::check_usage_error(run(dir, args), "tapegrad dot: error:", part);
}

}  // namespace

TEST_CASE(
    "tapegrad dot: --fold 2 draws fewer nodes, same seed the same text, --modules a node "
    "per layer") {
  ScratchDir dir("tapegrad-cli-dot");
  const std::string unfolded = dot_text(dir, "--seed 3", "unfolded.dot");
  const std::string folded = dot_text(dir, "--seed 3 --fold 2", "folded.dot");
  const std::vector<std::string> all = node_labels(unfolded), kept = node_labels(folded);
  CHECK(all.size() > 2 * 10 * 3);  // two layers of 10 unrolled steps, 3 ops each
  CHECK(kept.size() < all.size() / 2);
  CHECK(labels_with(kept, "... 8 steps ...") == 2);  // one fold per layer
  CHECK(labels_with(all, "... ") == 0);

  CHECK(dot_text(dir, "--seed 3", "again.dot") == unfolded);
  CHECK(dot_text(dir, "--seed 4", "other.dot") != unfolded);  // the title holds the loss

  const std::vector<std::string> layers =
      node_labels(dot_text(dir, "--cell gru --units 16,8,4 --modules", "modules.dot"));
  CHECK(labels_with(layers, "GRU") == 3);
  CHECK(labels_with(layers, "Dense") == 1);
  CHECK(labels_with(layers, "10 steps") == 3);
}

TEST_CASE("tapegrad dot -o graph.svg renders an SVG titled with the model and the loss") {
  ScratchDir dir("tapegrad-cli-dot");
  const std::string svg = dot_text(dir, "--cell lstm --units 8 --steps 3 --grads", "graph.svg");
  CHECK(contains(svg, "<svg"));
  // Graphviz writes the title's "->" as "&#45;&gt;"; the loss value is the title's second line.
  CHECK(contains(svg, ">LSTM(8) &#45;&gt; Dense(1), batch 4, 3 steps, MSE</text>"));
  CHECK(contains(svg, ">loss 0.1909</text>"));
}

TEST_CASE("tapegrad dot --weights --data: a trained model on the first windows of a series") {
  ScratchDir dir("tapegrad-cli-dot");
  const std::string airline = std::string(TAPEGRAD_TEST_DATA_DIR) + "/airline-passengers.csv";
  Result r = run(dir, "train --cell lstm --units 3 --data '" + airline +
                          "' --window 6 --epochs 1 --verbose 0 --out-dir '" + dir / "run" + "'");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string weights = dir / "run/model.safetensors";
  const std::string dot = dot_text(
      dir, "--weights '" + weights + "' --data '" + airline + "' --batch 3 --values", "g.dot");
  const std::vector<std::string> labels = node_labels(dot);
  // The window is the one train recorded (6), the batch the first 3 windows.
  CHECK(contains(dot,
                 "LSTM(3) -> Dense(1), batch 3, 6 steps, MSE, trained (model.safetensors), "
                 "data airline-passengers.csv"));
  CHECK(labels_with(labels, "y (3, 1)") == 1);
  // x holds the first three windows scaled by the scaler train kept in the file.
  const tapegrad::nn::ModelFileInfo info = tapegrad::nn::read_model_info(weights);
  const double lo = std::stod(info.metadata.at("data.scaler_min"));
  const double hi = std::stod(info.metadata.at("data.scaler_max"));
  const std::vector<double> series =
      tapegrad::data::read_csv_column(airline, "passengers", tapegrad::f64).to_vector<double>();
  double sum = 0;
  for (int i = 0; i < 3; ++i) {
    for (int t = 0; t < 6; ++t) sum += (series[i + t] - lo) / (hi - lo);
  }
  CHECK(labels_with(labels, fmt::format("x (3, 6, 1)\\nmean {:.3g}", sum / 18)) == 1);
  // The loss and the Dense layer are boxed by their name scopes.
  CHECK(contains(dot, "label=\"MSE\";"));
  CHECK(contains(dot, "label=\"Sequential/1:Dense\";"));

  // Without --data: the random batch, through the trained model.
  const std::string random = dot_text(dir, "--weights '" + weights + "' --steps 3", "r.dot");
  CHECK(labels_with(node_labels(random), "x (4, 3, 1)") == 1);
  CHECK(contains(random, "batch 4, 3 steps, MSE, trained (model.safetensors)\\nloss "));
}

TEST_CASE("tapegrad dot --expand-gates draws the LSTM and GRU gates as ops") {
  ScratchDir dir("tapegrad-cli-dot");
  const std::vector<std::string> fused =
      node_labels(dot_text(dir, "--cell lstm --units 4 --steps 2", "fused.dot"));
  CHECK(labels_with(fused, "lstm_gates") == 2);
  CHECK(labels_with(fused, "sigmoid") == 0);
  const std::vector<std::string> lstm =
      node_labels(dot_text(dir, "--cell lstm --units 4 --steps 2 --expand-gates", "lstm.dot"));
  CHECK(labels_with(lstm, "lstm_gates") == 0);
  CHECK(labels_with(lstm, "sigmoid\\n[4,4]") == 3 * 2);
  CHECK(labels_with(lstm, "tanh\\n[4,4]") == 2 * 2);
  const std::vector<std::string> gru =
      node_labels(dot_text(dir, "--cell gru --units 4 --steps 2 --expand-gates", "gru.dot"));
  CHECK(labels_with(gru, "gru_gates") == 0);
  CHECK(labels_with(gru, "sigmoid\\n[4,4]") == 2 * 2);
}

TEST_CASE("tapegrad dot --grads: x and y drawn, colours spread, the legend names norm and range") {
  ScratchDir dir("tapegrad-cli-dot");
  const std::string svg = dot_text(dir, "--cell lstm --units 8 --steps 3 --grads", "g.svg");
  CHECK(contains(svg, ">x (4, 3, 1)</text>"));
  CHECK(contains(svg, ">y (4, 1)</text>"));
  CHECK(contains(svg, ">‖∂L/∂node‖₂ (Frobenius), log scale</text>"));
  static const std::regex range(R"(>shown: [0-9.e+-]+ … [0-9.e+-]+ \([0-9.]+ decades\)</text>)");
  CHECK(std::regex_search(svg, range));
  static const std::regex fill(R"re(<polygon fill="(#[0-9a-f]{6})")re");
  std::set<std::string> fills;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), fill); it != std::sregex_iterator();
       ++it) {
    fills.insert((*it)[1]);
  }
  CHECK(fills.size() >= 10);
}

TEST_CASE("tapegrad dot: bad flags give one line and exit 2") {
  ScratchDir dir("tapegrad-cli-dot");
  const std::string out = dir / "graph";
  check_dot_refuses(dir, "dot -o '" + out + ".jpg'", "supported: .dot .svg .png .pdf");
  check_dot_refuses(dir, "dot -o '" + out + "'", "supported: .dot .svg .png .pdf");
  check_dot_refuses(dir, "dot --fold=-1 -o '" + out + ".dot'", "--fold");
  check_dot_refuses(dir, "dot --steps 0 -o '" + out + ".dot'", "--steps");
  check_dot_refuses(dir, "dot --cell tree -o '" + out + ".dot'", "--cell");
  check_dot_refuses(dir, "dot --units 64,0 -o '" + out + ".dot'", "--units");
  check_dot_refuses(dir, "dot --seed -5 -o '" + out + ".dot'", "--seed");
  check_dot_refuses(dir, "dot", "--output");
  check_dot_refuses(dir, "dot --column 0 -o '" + out + ".dot'", "--data");
  check_dot_refuses(dir, "dot --weights '" + out + ".none' -o '" + out + ".dot'", "--weights");
  CHECK_FALSE(std::filesystem::exists(out + ".dot"));  // a refused run writes nothing
}

#endif
