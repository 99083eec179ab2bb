// The main job's files: loss.csv grows by appended rows, so a run killed at any
// moment leaves a valid CSV of its finished epochs, and the atomic writes (checkpoint,
// weights) leave no temporary behind once the next run has written its files.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli_util.hpp"

using tg_test::lines_of;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;

#ifdef TAPEGRAD_CLI

namespace {

// A CSVLogger file a killed run may leave: the header, then whole rows of epochs 0, 1, ...
void check_valid_log_prefix(const std::string& text) {
  const std::vector<std::string> rows = lines_of(text);
  REQUIRE_FALSE(rows.empty());
  CHECK(rows[0] == "epoch,loss,val_loss,lr");
  CHECK((text.empty() || text.back() == '\n'));  // no half-written row
  for (std::size_t i = 1; i < rows.size(); ++i) {
    CAPTURE(rows[i]);
    CHECK(rows[i].rfind(fmt::format("{},", i - 1), 0) == 0);
    CHECK(std::count(rows[i].begin(), rows[i].end(), ',') == 3);
  }
}

bool is_temporary(const std::string& name) {
  return name.find(".tmp") != std::string::npos;
}

}  // namespace

TEST_CASE("20 kills at random moments leave valid logs, and the next run no temporary") {
  ScratchDir dir("tapegrad-cli-logs");
  // Every epoch rewrites the checkpoint atomically: the kills land inside those writes often.
  const std::string flags = " --units 4,2 --samples 32 --threads 1 --verbose 0 --checkpoint '" +
                            dir / "out/ckpt.safetensors" + "' --out-dir '" + dir / "out" + "'";
  std::mt19937 rng(24);
  std::uniform_int_distribution<int> delay_ms(80, 400);
  int killed = 0;
  for (int round = 0; round < 20; ++round) {
    const std::string cmd = fmt::format("timeout -s KILL {:.3f} '{}' train --epochs 1000000{}",
                                        delay_ms(rng) / 1000.0, TAPEGRAD_CLI, flags);
    const int status = std::system((cmd + " >/dev/null 2>&1 </dev/null").c_str());
    killed += WIFEXITED(status) && WEXITSTATUS(status) == 128 + 9 ? 1 : 0;
    if (std::filesystem::exists(dir / "out/loss.csv"))
      check_valid_log_prefix(read_file(dir / "out/loss.csv"));
  }
  CHECK(killed == 20);

  const Result r = run(dir, "train --epochs 2" + flags);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir.path / "out")) {
    if (is_temporary(e.path().filename())) left.push_back(e.path().filename());
  }
  CHECK_MESSAGE(left.empty(), fmt::format("left behind: {}", fmt::join(left, " ")));
  CHECK(lines_of(read_file(dir / "out/loss.csv")).size() == 3);
}

#endif
