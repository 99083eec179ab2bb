// The interactive pages: one self-contained file (no external URL), one drawing per fold the
// slider needs, a card per node read from the tape, a card per point of the gradient flow.
// tests/tools/cli/test_cli_page.cpp runs them in a browser.
#include <doctest/doctest.h>

#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include <tapegrad/tapegrad.hpp>
#include <tapegrad/tools/viz/html.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;

namespace {

struct Rnn {
  tg::nn::Sequential model;
  tg::Tensor loss;
  Rnn() : model(build()) { loss = tg::mean(tg::square(model(tg::rand({2, 6, 1})) - 0.5)); }
  static tg::nn::Sequential build() {
    tg::manual_seed(3);
    return tg::nn::Sequential{tg::nn::SimpleRNN(1, 4), tg::nn::Dense(4, 1)};
  }
};

// The JSON the page's script reads.
nlohmann::json page_data(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"page-data\">";
  const std::size_t start = html.find(open);
  REQUIRE(start != std::string::npos);
  const std::size_t from = start + open.size();
  return nlohmann::json::parse(html.substr(from, html.find("</script>", from) - from));
}

// Every "http" in the page is an XML namespace (xmlns="http://www.w3.org/..."), which a
// browser never fetches; nothing is loaded from elsewhere.
void check_self_contained(const std::string& html) {
  static const std::regex url(R"((\w+(:\w+)?)=["']?https?://)");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), url); it != std::sregex_iterator();
       ++it) {
    CHECK_MESSAGE((*it)[1].str().rfind("xmlns", 0) == 0, it->str());
  }
  for (const char* fetch :
       {"<link", "@import", "url(http", "<iframe", "fetch(", "XMLHttpRequest"}) {
    CHECK_MESSAGE(!tg_test::contains(html, fetch), fetch);
  }
}

}  // namespace

TEST_CASE("write_graph_page: the folded graph, a drawing per fold, a card per node") {
  Rnn net;
  tg_test::ScratchDir dir("page");
  tg::tools::write_graph_page(net.loss, dir / "graph.html",
                              {.names = net.model.named_parameters(), .title = "rnn <6 steps>"});
  CHECK(dir.listing() == std::vector<std::string>{"graph.html"});
  const std::string html = tg_test::read_file(dir / "graph.html");
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(tg_test::contains(html, "<title>rnn &lt;6 steps&gt;</title>"));
  check_self_contained(html);
  // 6 steps: folds keep 2, 4, 6 steps (positions 0 and 5, 1 and 4, 2 and 3).
  CHECK(tg_test::contains(html, "type=\"range\" min=\"0\" max=\"5\""));
  const nlohmann::json data = page_data(html);
  CHECK(data["mode"] == "graph");
  CHECK(data["slider"]["view_of"] == nlohmann::json::array({0, 1, 2, 2, 1, 0}));
  CHECK(data["slider"]["labels"][5] == "step 5 of 6");
  std::size_t views = 0;
  for (std::size_t at = html.find("<div class=\"view\""); at != std::string::npos;
       at = html.find("<div class=\"view\"", at + 1)) {
    ++views;
  }
  CHECK(views == 3);
  CHECK(!tg_test::contains(html, "<?xml"));  // the SVG inline, without its prolog
  // A record's card: op, shape, its step, values where kept, gradient norm.
  const nlohmann::json& cards = data["cards"];
  bool stepped_tanh = false;
  for (const auto& [id, rows] : cards.items()) {
    std::map<std::string, std::string> card;
    for (const auto& row : rows) card[row[0]] = row[1];
    CHECK(card.contains("shape"));
    CHECK(card.contains("|grad|"));
    if (id[0] == 'l') CHECK(card.contains("parameter"));
    if (card["op"] == "tanh" && card.contains("step")) {
      stepped_tanh = true;
      CHECK(card.contains("mean"));  // tanh saves its output for backward
      CHECK(card["|grad|"] != "none");
    }
  }
  CHECK(stepped_tanh);
  CHECK(cards.contains("r0"));
  CHECK(cards["l0"][0][0] == "parameter");
  CHECK(tg_test::contains(cards.dump(), "[\"parameter\",\"0.cell.kernel\"]"));
}

TEST_CASE("write_gradient_flow_page: the chart inline and a card per point") {
  Rnn net;
  const auto flow = tg::tools::gradient_flow_report(net.loss, {});
  tg_test::ScratchDir dir("page");
  tg::tools::write_gradient_flow_page(flow, dir / "flow.html",
                                      {.title = "flow", .subtitle = "sub"});
  const std::string html = tg_test::read_file(dir / "flow.html");
  check_self_contained(html);
  CHECK(tg_test::contains(html, "gnuplot_plot_1"));
  CHECK(tg_test::contains(html, "<text>sub</text>"));
  const nlohmann::json data = page_data(html);
  CHECK(data["mode"] == "chart");
  CHECK(data["slider"].is_null());
  REQUIRE(data["cards"].contains("p1_5"));
  const nlohmann::json& last = data["cards"]["p1_5"];
  CHECK(last[0] == nlohmann::json::array({"cell", "Sequential/0:SimpleRNN"}));
  CHECK(last[1] == nlohmann::json::array({"step", "5"}));
  CHECK(last[2][0] == "|dL/dh_t|");
  CHECK(!data["cards"].contains("p1_6"));
}
