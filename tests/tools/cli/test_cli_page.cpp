// The interactive pages in a real browser: headless Chromium loads the page from its file
// with the fragment #test, which makes the page move its slider, hover a node (or a point)
// and zoom; the test reads what the page then shows from the DOM Chromium dumps, and takes a
// screenshot. Chromium is a test dependency (tools/install-deps.sh); TAPEGRAD_CHROMIUM
// names another browser. Every run of it is bounded by `timeout`.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_util.hpp"

using tg_test::contains;
using tg_test::quoted;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;

#ifdef TAPEGRAD_CLI

namespace {

std::string chromium() {
  const char* program = std::getenv("TAPEGRAD_CHROMIUM");
  return program && *program ? program : "chromium";
}

// Runs the browser on `page`#test with `what` (--dump-dom, or --screenshot=...), its own
// profile in `dir`, stopped after 120 s. Returns what it printed on stdout.
std::string browse(const ScratchDir& dir, const std::string& page, const std::string& what) {
  const std::string out = dir / "browser.out", err = dir / "browser.err";
  const std::string cmd =
      "timeout -k 5 120 " + quoted(chromium()) +
      " --headless=new --no-sandbox --disable-gpu --no-first-run --hide-scrollbars"
      " --user-data-dir=" +
      quoted(dir / "profile") + " --window-size=1200,800 --virtual-time-budget=5000 " + what + " " +
      quoted("file://" + page + "#test") + " >" + quoted(out) + " 2>" + quoted(err) + " </dev/null";
  const int status = std::system(cmd.c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  INFO("browser: ", cmd, "\n", read_file(err));
  REQUIRE_MESSAGE(code != 127, "no browser '", chromium(),
                  "': install chromium (tools/install-deps.sh) or name one in TAPEGRAD_CHROMIUM");
  REQUIRE(code == 0);
  return read_file(out);
}

// What the page's self-check wrote into <pre id="test-result">.
nlohmann::json self_check(const std::string& dom) {
  const std::string open = "<pre id=\"test-result\">";
  const std::size_t start = dom.find(open);
  REQUIRE_MESSAGE(start != std::string::npos, dom.substr(0, 300));
  const std::size_t from = start + open.size();
  std::string text = dom.substr(from, dom.find("</pre>", from) - from);
  // --dump-dom writes the text as HTML: the JSON's quotes stay, '&', '<' and '>' are escaped.
  for (const auto& [entity, c] : std::map<std::string, std::string>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&amp;", "&"}}) {
    for (std::size_t at = text.find(entity); at != std::string::npos; at = text.find(entity, at)) {
      text.replace(at, entity.size(), c);
      at += c.size();
    }
  }
  REQUIRE_MESSAGE(!text.empty(), "the page's script did not run its check");
  return nlohmann::json::parse(text);
}

std::map<std::string, std::string> card_of(const nlohmann::json& check) {
  std::map<std::string, std::string> card;
  for (const auto& row : check["card"]) card[row[0]] = row[1];
  return card;
}

// A screenshot of the page after its check: a png of the window's size.
void screenshot(const ScratchDir& dir, const std::string& page, const std::string& png) {
  browse(dir, page, "--screenshot=" + quoted(png));
  const std::string bytes = read_file(png);
  REQUIRE(bytes.size() > 10000);  // a drawing, not a blank page
  CHECK(bytes.substr(1, 3) == "PNG");
  // Where a reader can find it to look at: TAPEGRAD_SCREENSHOT_DIR, when set, keeps a copy.
  if (const char* keep = std::getenv("TAPEGRAD_SCREENSHOT_DIR"); keep && *keep) {
    std::filesystem::copy_file(png,
                               std::filesystem::path(keep) / std::filesystem::path(png).filename(),
                               std::filesystem::copy_options::overwrite_existing);
  }
}

}  // namespace

TEST_CASE(
    "tapegrad dot -o graph.html: in a browser the slider unfolds a step and a node shows its "
    "card") {
  ScratchDir dir("cli-page");
  const std::string page = dir / "graph.html";
  const Result r = tg_test::run(dir, "dot --units 4,3 --steps 6 -o " + quoted(page), 120);
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "Wrote " + page));

  const nlohmann::json check = self_check(browse(dir, page, "--dump-dom"));
  CAPTURE(check.dump());
  CHECK(check["mode"] == "graph");
  CHECK(check["views"] == 3);  // folds keeping 2, 4 and 6 steps
  CHECK(check["step"] == 5);
  CHECK(check["step_label"] == "step 5 of 6");
  CHECK(check["visible_views"] == 1);
  CHECK(check["view"] == 0);          // step 5 is the last: the graph folded to both ends
  CHECK(check["chosen_boxes"] == 2);  // step 5 framed in each of the two layers
  CHECK(check["card_visible"] == true);
  const auto card = card_of(check);
  CHECK(card.contains("op"));
  CHECK(card.contains("shape"));
  CHECK(card.at("step") == "5");
  CHECK(card.contains("|grad|"));
  CHECK(card.at("|grad|") != "none");
  CHECK(check["zoomed_in"] == true);

  screenshot(dir, page, dir / "graph.png");
}

TEST_CASE("tapegrad gradflow -o flow.html: in a browser a point shows cell, step and |dL/dh_t|") {
  ScratchDir dir("cli-page");
  const std::string page = dir / "flow.html";
  const Result r =
      tg_test::run(dir, "gradflow --units 8 --steps 12 --batch 4 -o " + quoted(page), 120);
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CHECK(std::filesystem::exists(dir / "flow.csv"));

  const nlohmann::json check = self_check(browse(dir, page, "--dump-dom"));
  CAPTURE(check.dump());
  CHECK(check["mode"] == "chart");
  CHECK(check["targets"].get<int>() >= 3 * 12);
  CHECK(check["card_visible"] == true);
  const auto card = card_of(check);
  CHECK(card.contains("cell"));
  CHECK(card.contains("step"));
  CHECK(card.contains("|dL/dh_t|"));
  CHECK(check["zoomed_in"] == true);

  screenshot(dir, page, dir / "flow.png");
}

#endif
