// `tapegrad train`'s training flags: --early-stopping (the best weights saved), --loss,
// --lr-schedule (by absolute epoch, so --resume continues it), --samples/--seq, what the
// scaler did with a validation split, and --verbose 0 printing nothing.
#include <doctest/doctest.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include "cli_util.hpp"

namespace tg = tapegrad;

using tg_test::contains;
using tg_test::lines_of;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;

#ifndef TAPEGRAD_CLI

TEST_CASE("tapegrad train flags: the program is not built, nothing to test") {
  MESSAGE("the tapegrad program is not part of this build");
}

#else

using tg_test::run;

namespace {

std::string airline() {
  return std::string(TAPEGRAD_TEST_DATA_DIR) + "/airline-passengers.csv";
}

std::string out_dir(const ScratchDir& dir, const std::string& name) {
  return " --out-dir '" + dir / name + "'";
}

// Column `index` of loss.csv's data rows.
std::vector<std::string> csv_column(const std::string& path, std::size_t index) {
  std::vector<std::string> out;
  const auto rows = lines_of(read_file(path));
  for (std::size_t i = 1; i < rows.size(); ++i) {
    std::vector<std::string> fields;
    std::string field;
    std::istringstream in(rows[i]);
    while (std::getline(in, field, ',')) fields.push_back(field);
    out.push_back(fields.at(index));
  }
  return out;
}

int number_after(const std::string& text, const std::string& pattern) {
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(text, m, std::regex(pattern + "([0-9]+)")), text);
  return std::stoi(m[1]);
}

void check_same_tensors(const std::string& a, const std::string& b) {
  const auto x = tg::load_safetensors(a), y = tg::load_safetensors(b);
  REQUIRE(x.size() == y.size());
  for (const auto& [name, t] : x) {
    CAPTURE(name);
    CHECK(t.to_vector<float>() == y.at(name).to_vector<float>());
  }
}

}  // namespace

TEST_CASE("train --help documents the new flags and the schedules' parameters") {
  ScratchDir dir("tapegrad-cli-flags");
  const Result r = run(dir, "train --help");
  REQUIRE(r.code == 0);
  for (const char* text :
       {"--early-stopping", "PATIENCE", "--loss", "mse|mae|huber", "--lr-schedule",
        "none|step|exponential|cosine|plateau", "--lr-step-size", "--lr-gamma", "--lr-patience",
        "--lr-min", "--samples", "--seq", "epoch,loss,val_loss,lr"}) {
    CHECK_MESSAGE(contains(r.out, text), text);
  }
}

TEST_CASE("--early-stopping says where it stopped and saves the best epoch's weights") {
  ScratchDir dir("tapegrad-cli-flags");
  const std::string data = " --data '" + airline() +
                           "' --window 12 --validation-split 0.2 --units 8 --lr 0.01 "
                           "--threads 1 --verbose 2";
  const Result r = run(dir, "train --epochs 300 --early-stopping 3" + data + out_dir(dir, "es"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const int stopped = number_after(r.out, "Early stopping at epoch ");
  CHECK(contains(r.out, "val_loss did not improve for 3 epochs"));
  const int best = number_after(r.out, "Restored the weights of epoch ");
  CHECK(stopped < 300);
  CHECK(best == stopped - 3);
  CHECK(lines_of(read_file(dir / "es/loss.csv")).size() == static_cast<std::size_t>(stopped) + 1);
  // The saved weights are those of the end of epoch `best`: a run of `best` epochs.
  const Result plain =
      run(dir, "train --epochs " + std::to_string(best) + data + out_dir(dir, "plain"));
  REQUIRE_MESSAGE(plain.code == 0, plain.err);
  check_same_tensors(dir / "es/model.safetensors", dir / "plain/model.safetensors");

  // Without validation it watches the training loss.
  const Result no_val =
      run(dir, "train --epochs 2 --early-stopping 5 --units 4" + out_dir(dir, "nv"));
  REQUIRE_MESSAGE(no_val.code == 0, no_val.err);
  CHECK(contains(no_val.out, "Restored the weights of epoch"));
  CHECK(contains(no_val.out, "(loss "));
}

// "Final loss" gave the last epoch's loss while the file held the best
// epoch's weights, and "epoch 8" (counted from 1) was loss.csv's row "epoch 7".
TEST_CASE("--early-stopping: Final loss is the saved epoch's, named as loss.csv names it") {
  ScratchDir dir("tapegrad-cli-flags");
  const Result r =
      run(dir, "train --epochs 300 --early-stopping 3 --data '" + airline() +
                   "' --window 12 --validation-split 0.2 --units 8 --lr 0.01 --threads 1 "
                   "--verbose 2" +
                   out_dir(dir, "es"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const int best = number_after(r.out, "Restored the weights of epoch ");
  const std::string row = std::to_string(best - 1);
  CHECK(contains(r.out, "; loss.csv epoch " + row + "), the best"));
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(r.out, m,
                                    std::regex("Final loss: ([^,]+), val_loss: (\\S+) of epoch " +
                                               std::to_string(best) + " \\(loss.csv epoch " + row +
                                               "\\), whose weights are saved")),
                  r.out);
  const std::string csv = dir / "es/loss.csv";
  const auto header = lines_of(read_file(csv)).at(0);
  CHECK(header.rfind("epoch,loss,val_loss", 0) == 0);
  CHECK(csv_column(csv, 0).at(static_cast<std::size_t>(best - 1)) == row);
  const double loss = std::stod(csv_column(csv, 1).at(static_cast<std::size_t>(best - 1)));
  const double val_loss = std::stod(csv_column(csv, 2).at(static_cast<std::size_t>(best - 1)));
  CHECK(std::stod(m[1]) == doctest::Approx(loss).epsilon(1e-5));
  CHECK(std::stod(m[2]) == doctest::Approx(val_loss).epsilon(1e-5));
  // The last epoch's (what it printed before) is another loss.
  CHECK(std::stod(csv_column(csv, 2).back()) != doctest::Approx(val_loss).epsilon(1e-5));
}

TEST_CASE("--loss mae|huber trains with that loss, and --resume refuses another") {
  ScratchDir dir("tapegrad-cli-flags");
  const std::string flags = " --epochs 2 --units 4 --threads 1";
  Result r = run(dir, "train --loss mae" + flags + out_dir(dir, "mae"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "loss MAE"));
  r = run(dir, "train --loss huber" + flags + out_dir(dir, "huber"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "loss Huber"));
  r = run(dir, "train" + flags + out_dir(dir, "mse"));
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "loss MSE"));
  CHECK(csv_column(dir / "mae/loss.csv", 1) != csv_column(dir / "mse/loss.csv", 1));
  CHECK(csv_column(dir / "huber/loss.csv", 1) != csv_column(dir / "mse/loss.csv", 1));

  const std::string ckpt = dir / "c.ckpt";
  REQUIRE(run(dir, "train --loss mae" + flags + " --checkpoint '" + ckpt + "'" + out_dir(dir, "a"))
              .code == 0);
  r = run(dir, "train --epochs 4 --units 4 --resume '" + ckpt + "'" + out_dir(dir, "b"));
  CHECK(r.code == 2);
  CHECK(lines_of(r.err).size() == 1);
  CHECK(contains(r.err, "was made with --loss mae, this run has --loss mse"));
}

TEST_CASE("--lr-schedule sets the lr per epoch; loss.csv's lr column shows it") {
  ScratchDir dir("tapegrad-cli-flags");
  const std::string flags = " --epochs 4 --units 4 --verbose 0 --lr 0.01";
  REQUIRE(run(dir, "train --lr-schedule step --lr-step-size 2" + flags + out_dir(dir, "s")).code ==
          0);
  CHECK(csv_column(dir / "s/loss.csv", 3) ==
        std::vector<std::string>{"0.01", "0.01", "0.001", "0.001"});
  REQUIRE(
      run(dir, "train --lr-schedule exponential --lr-gamma 0.5" + flags + out_dir(dir, "e")).code ==
      0);
  CHECK(csv_column(dir / "e/loss.csv", 3) ==
        std::vector<std::string>{"0.01", "0.005", "0.0025", "0.00125"});
  // Cosine over the whole run: lr_at(e) = lr_min + (lr - lr_min) (1 + cos(pi e / 4)) / 2.
  REQUIRE(run(dir, "train --lr-schedule cosine --lr-min 0.002" + flags + out_dir(dir, "c")).code ==
          0);
  const auto cosine = csv_column(dir / "c/loss.csv", 3);
  REQUIRE(cosine.size() == 4);
  CHECK(std::stod(cosine[0]) == 0.01);
  CHECK(std::stod(cosine[2]) == doctest::Approx(0.006));
  // Plateau with patience 0 and a gamma: never an lr above the last, never below --lr-min.
  REQUIRE(run(dir, "train --lr-schedule plateau --lr-patience 0 --lr-gamma 0.5 --lr-min 0.004" +
                       flags + out_dir(dir, "p"))
              .code == 0);
  double previous = 1;
  for (const std::string& lr : csv_column(dir / "p/loss.csv", 3)) {
    CHECK(std::stod(lr) <= previous);
    CHECK(std::stod(lr) >= 0.004);
    previous = std::stod(lr);
  }
}

TEST_CASE("--resume continues an lr schedule where the run was, bit for bit") {
  ScratchDir dir("tapegrad-cli-flags");
  const std::string flags =
      " --units 4 --threads 1 --verbose 0 --lr-schedule step --lr-step-size 1 --lr-gamma 0.5 "
      "--validation-split 0.2";
  const std::string ckpt = dir / "run.ckpt";
  REQUIRE(run(dir, "train --epochs 5" + flags + out_dir(dir, "straight")).code == 0);
  REQUIRE(
      run(dir, "train --epochs 2 --checkpoint '" + ckpt + "'" + flags + out_dir(dir, "run")).code ==
      0);
  const Result r =
      run(dir, "train --epochs 5 --resume '" + ckpt + "'" + flags + out_dir(dir, "run"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(read_file(dir / "run/loss.csv") == read_file(dir / "straight/loss.csv"));
  CHECK(read_file(dir / "run/model.safetensors") == read_file(dir / "straight/model.safetensors"));
  CHECK(csv_column(dir / "run/loss.csv", 3).back() == "6.25e-05");
}

TEST_CASE("--samples and --seq size the random data; --data excludes them") {
  ScratchDir dir("tapegrad-cli-flags");
  Result r = run(dir, "train --samples 40 --seq 5 --epochs 1 --units 4" + out_dir(dir, "a"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "Data: 40 random sequences of 5 steps"));
  CHECK(contains(r.out, "2/2 ["));  // 40 samples, batches of 32
  r = run(dir, "train --epochs 1 --units 4" + out_dir(dir, "b"));
  CHECK(contains(r.out, "Data: 100 random sequences of 10 steps"));
}

TEST_CASE("with a validation split the data line says the scale is the training part's") {
  ScratchDir dir("tapegrad-cli-flags");
  const std::string flags = " --data '" + airline() + "' --window 12 --epochs 1 --units 4";
  Result r = run(dir, "train --validation-split 0.2" + flags + out_dir(dir, "v"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "min-max scaled by the training part's [104, "));
  CHECK(contains(r.out, "(the validation part may leave [0, 1])"));
  CHECK_FALSE(contains(r.out, "scaled to [0,1]"));
  r = run(dir, "train" + flags + out_dir(dir, "n"));
  CHECK(contains(r.out, "scaled to [0, 1] from [104, 622]"));
}

TEST_CASE("--verbose 0 prints nothing at all, resuming and stopping early included") {
  ScratchDir dir("tapegrad-cli-flags");
  const std::string ckpt = dir / "q.ckpt";
  const std::string flags = " --units 4 --verbose 0 --validation-split 0.2 --early-stopping 1";
  for (const std::string& args :
       {"train --epochs 2 --checkpoint '" + ckpt + "'" + flags + out_dir(dir, "q"),
        "train --epochs 4 --resume '" + ckpt + "' --plot '" + dir / "q.svg" + "'" + flags +
            out_dir(dir, "q")}) {
    CAPTURE(args);
    const Result r = run(dir, args);
    CHECK(r.code == 0);
    CHECK(r.out.empty());
    CHECK(r.err.empty());
  }
}

TEST_CASE("bad values of the new flags: one line on stderr, exit code 2") {
  ScratchDir dir("tapegrad-cli-flags");
  for (const std::string& args :
       std::vector<std::string>{"--loss hinge", "--lr-schedule linear", "--lr-gamma 0.5",
                                "--lr-schedule step "
                                "--lr-gamma 1.5",
                                "--lr-schedule step --lr-step-size 0", "--early-stopping -1",
                                "--early-stopping x", "--samples 0", "--seq 0",
                                "--samples 10 --data x.csv", "--lr-schedule cosine --lr-min -1"}) {
    CAPTURE(args);
    tg_test::check_usage_error(run(dir, "train " + args + out_dir(dir, "bad")), "error");
  }
}

#endif
