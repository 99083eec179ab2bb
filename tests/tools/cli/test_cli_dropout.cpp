// `tapegrad train --dropout R --recurrent-dropout R` (Keras's names): the rates of
// every recurrent layer, active while training and kept in model.safetensors's config.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include <tapegrad/tapegrad.hpp>

#include "cli_util.hpp"

namespace tg = tapegrad;

using tg_test::contains;
using tg_test::lines_of;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;

#ifndef TAPEGRAD_CLI

TEST_CASE("tapegrad train --dropout: the program is not built, nothing to test") {
  MESSAGE("the tapegrad program is not part of this build");
}

#else

using tg_test::run;

namespace {

const tg::nn::GatedCell& cell_of(const tg::nn::Module& layer) {
  return dynamic_cast<const tg::nn::GatedCell&>(dynamic_cast<const tg::nn::RNN&>(layer).cell());
}

}  // namespace

TEST_CASE("tapegrad train --dropout --recurrent-dropout: every recurrent layer, saved") {
  ScratchDir dir("tapegrad-cli-dropout");
  const std::string flags = " --cell lstm --units 6,4 --epochs 3 --seed 1";
  const Result r = run(dir, "train" + flags + " --dropout 0.25 --recurrent-dropout 0.125" +
                                " --verbose 2 --out-dir '" + dir / "drop" + "'");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "Model: lstm x 2 (6,4) (dropout 0.25, recurrent_dropout 0.125)"));

  const auto model = tg::nn::load_model(dir / "drop/model.safetensors");
  const auto& children = model->children();
  REQUIRE(children.size() == 3);
  for (std::size_t i = 0; i < 2; ++i) {
    CAPTURE(i);
    CHECK(children[i].second->type_name() == "LSTM");
    CHECK(cell_of(*children[i].second).dropout() == 0.25);
    CHECK(cell_of(*children[i].second).recurrent_dropout() == 0.125);
  }

  // The same seed without the flags: the same initial weights, other losses (dropout acted).
  REQUIRE(run(dir, "train" + flags + " --verbose 0 --out-dir '" + dir / "plain" + "'").code == 0);
  const std::string dropped = read_file(dir / "drop/loss.csv");
  const std::string plain = read_file(dir / "plain/loss.csv");
  CHECK(lines_of(dropped).size() == lines_of(plain).size());
  CHECK(dropped != plain);
  const auto plain_model = tg::nn::load_model(dir / "plain/model.safetensors");
  CHECK(cell_of(*plain_model->children()[0].second).dropout() == 0);
}

TEST_CASE("train --help documents --dropout and --recurrent-dropout") {
  ScratchDir dir("tapegrad-cli-dropout");
  const Result r = run(dir, "train --help");
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "--dropout R"));
  CHECK(contains(r.out, "--recurrent-dropout R"));
}

TEST_CASE("tapegrad train: a dropout rate outside [0, 1) is a one-line usage error") {
  ScratchDir dir("tapegrad-cli-dropout");
  for (const char* args : {"--dropout 1", "--recurrent-dropout -0.1", "--dropout x"}) {
    CAPTURE(args);
    tg_test::check_usage_error(
        run(dir, std::string("train --epochs 1 ") + args + " --out-dir '" + dir / "bad" + "'"),
        "dropout", "[0, 1)");
  }
}

#endif
