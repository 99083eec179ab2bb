// `tapegrad dot`, run as a user runs it: the DOT it writes (folding, module mode, the same
// text for the same seed), an SVG with the title, and one-line usage errors with exit 2.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

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

void check_usage_error(const ScratchDir& dir, const std::string& args, const std::string& part) {
  const Result r = run(dir, args);
  CHECK_MESSAGE(r.code == 2, args);
  CHECK_MESSAGE(lines_of(r.err).size() == 1, r.err);
  CHECK_MESSAGE(contains(r.err, "tapegrad dot: error:"), r.err);
  CHECK_MESSAGE(contains(r.err, part), r.err);
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

TEST_CASE("tapegrad dot: bad flags give one line and exit 2") {
  ScratchDir dir("tapegrad-cli-dot");
  const std::string out = dir / "graph";
  check_usage_error(dir, "dot -o '" + out + ".jpg'", "supported: .dot .svg .png .pdf");
  check_usage_error(dir, "dot -o '" + out + "'", "supported: .dot .svg .png .pdf");
  check_usage_error(dir, "dot --fold=-1 -o '" + out + ".dot'", "--fold");
  check_usage_error(dir, "dot --steps 0 -o '" + out + ".dot'", "--steps");
  check_usage_error(dir, "dot --cell tree -o '" + out + ".dot'", "--cell");
  check_usage_error(dir, "dot --units 64,0 -o '" + out + ".dot'", "--units");
  check_usage_error(dir, "dot --seed -5 -o '" + out + ".dot'", "--seed");
  check_usage_error(dir, "dot", "--output");
  CHECK_FALSE(std::filesystem::exists(out + ".dot"));  // a refused run writes nothing
}

#endif
