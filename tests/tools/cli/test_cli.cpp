// The tapegrad program, run as a user runs it: exit codes, the files it writes, one-line
// errors, and --checkpoint/--resume continuing a run bit for bit. TAPEGRAD_CLI (the path of
// the built program) comes from tests/CMakeLists.txt when tools are built; without it the
// cases here have nothing to run and say so.
#include <doctest/doctest.h>

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
using tg_test::write_file;

namespace {

tg::nn::Sequential reference_model() {
  return tg::nn::Sequential{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
                            tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
}

}  // namespace

#ifndef TAPEGRAD_CLI

TEST_CASE("tapegrad program: not built (TAPEGRAD_BUILD_TOOLS=OFF), nothing to test") {
  MESSAGE("the tapegrad program is not part of this build");
}

#else

using tg_test::run;

TEST_CASE("tapegrad --help and train --help exit 0 and describe the flags") {
  ScratchDir dir("tapegrad-cli");
  Result r = run(dir, "--help");
  CHECK(r.code == 0);
  CHECK(contains(r.out, "train"));
  CHECK(contains(r.out, "info"));
  r = run(dir, "train --help");
  CHECK(r.code == 0);
  for (const char* flag :
       {"--cell", "--units", "--optimizer", "--lr", "--clip-norm", "--clip-value", "--epochs",
        "--batch-size", "--data", "--window", "--column", "--validation-split", "--seed",
        "--threads", "--verbose", "--checkpoint", "--resume", "--out-dir"}) {
    CHECK_MESSAGE(contains(r.out, flag), flag);
  }
}

TEST_CASE("tapegrad train --epochs 2 writes loss.csv with 2 rows and loadable weights") {
  ScratchDir dir("tapegrad-cli");
  const Result r = run(dir, "train --epochs 2 --verbose 1 --out-dir '" + dir / "out" + "'");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.err.empty());
  CHECK(contains(r.out, "Epoch 2/2"));
  CHECK(contains(r.out, "Final loss:"));
  const auto rows = lines_of(read_file(dir / "out/loss.csv"));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == "epoch,loss,val_loss,lr");  // nn::CSVLogger's, epochs from 0 as Keras
  CHECK(rows[1].rfind("0,", 0) == 0);
  CHECK(rows[2].rfind("1,", 0) == 0);
  tg::nn::Sequential model = reference_model();
  tg::nn::load(model, dir / "out/model.safetensors");
  // The printed final loss is the last row's.
  const double last = std::stod(rows[2].substr(2));
  CHECK(last > 0);
  CHECK(last < 1);
}

TEST_CASE("bad flags and bad files: one line on stderr and exit code 2") {
  ScratchDir dir("tapegrad-cli");
  const std::string out = " --out-dir '" + dir / "out" + "'";
  for (const std::string& args : std::vector<std::string>{
           "", "train --bogus", "train --cell cnn", "train --units 0", "train --units 64,x",
           "train --optimizer lbfgs", "train --lr -1", "train --epochs x", "train --verbose 3",
           "train --clip-norm 1 --clip-value 1", "train --window 5", "train --validation-split 1",
           "train --data '" + dir / "missing.csv" + "'",
           "train --resume '" + dir / "missing.ckpt" + "'",
           "info --weights '" + dir / "none" + "'"}) {
    CAPTURE(args);
    tg_test::check_usage_error(run(dir, args + (args.rfind("train", 0) == 0 ? out : "")), "error");
  }
  const Result r = run(dir, "train --data '" + dir / "missing.csv" + "'" + out);
  CHECK(contains(r.err, "missing.csv"));
  // A file that is not a CSV series.
  write_file(dir / "bad.csv", "a,b\n1,x\n");
  CHECK(run(dir, "train --data '" + dir / "bad.csv" + "'" + out).code == 2);
}

TEST_CASE("--checkpoint then --resume continues the epoch count, bit for bit") {
  ScratchDir dir("tapegrad-cli");
  const std::string common = " --threads 1 --verbose 2 --batch-size 16";
  Result r = run(dir, "train --epochs 4" + common + " --out-dir '" + dir / "straight" + "'");
  REQUIRE_MESSAGE(r.code == 0, r.err);

  const std::string ckpt = dir / "run/ckpt.safetensors";
  r = run(dir, "train --epochs 2" + common + " --checkpoint '" + ckpt + "' --out-dir '" +
                   dir / "run" + "'");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(tg::nn::read_checkpoint_info(ckpt).epoch == 2);
  CHECK(lines_of(read_file(dir / "run/loss.csv")).size() == 3);

  r = run(dir, "train --epochs 4" + common + " --resume '" + ckpt + "' --checkpoint '" + ckpt +
                   "' --out-dir '" + dir / "run" + "'");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.out, "Epoch 3/4"));
  CHECK(contains(r.out, "Epoch 4/4"));
  CHECK_FALSE(contains(r.out, "Epoch 1/"));
  CHECK(tg::nn::read_checkpoint_info(ckpt).epoch == 4);
  const auto rows = lines_of(read_file(dir / "run/loss.csv"));
  REQUIRE(rows.size() == 5);
  CHECK(rows[3].rfind("2,", 0) == 0);
  CHECK(rows[4].rfind("3,", 0) == 0);

  // The same weights and the same curve as the run straight through.
  CHECK(read_file(dir / "run/model.safetensors") == read_file(dir / "straight/model.safetensors"));
  CHECK(read_file(dir / "run/loss.csv") == read_file(dir / "straight/loss.csv"));

  // A checkpoint of another model is refused, on one line, before any training.
  r = run(dir, "train --epochs 6 --units 16 --resume '" + ckpt + "' --out-dir '" + dir / "x" + "'");
  CHECK(r.code == 2);
  CHECK(lines_of(r.err).size() == 1);
  CHECK(contains(r.err, "--units"));
}

TEST_CASE("forecasting a CSV series with validation; other cells and optimizers") {
  ScratchDir dir("tapegrad-cli");
  const std::string csv = std::string(TAPEGRAD_TEST_DATA_DIR) + "/airline-passengers.csv";
  Result r = run(dir, "train --data '" + csv +
                          "' --window 12 --validation-split 0.2 --cell lstm --units 8 "
                          "--optimizer rmsprop --clip-norm 1 --epochs 2 --verbose 0 --out-dir '" +
                          dir / "a" + "'");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto rows = lines_of(read_file(dir / "a/loss.csv"));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == "epoch,loss,val_loss,lr");
  CHECK_FALSE(contains(rows[1], "NA"));
  r = run(dir, "train --data '" + csv +
                   "' --column passengers --window 6 --cell gru --units 8,4 --optimizer sgd "
                   "--lr 0.05 --clip-value 0.5 --epochs 1 --verbose 0 --out-dir '" +
                   dir / "b" + "'");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(lines_of(read_file(dir / "b/loss.csv")).size() == 2);
  r = run(dir, "train --optimizer gd --epochs 2 --verbose 0 --out-dir '" + dir / "c" + "'");
  CHECK(r.code == 0);
  r = run(dir,
          "train --optimizer adamw --units 4 --epochs 1 --verbose 0 --out-dir '" + dir / "d" + "'");
  CHECK(r.code == 0);
}

TEST_CASE("tapegrad info prints the parameters and their count") {
  ScratchDir dir("tapegrad-cli");
  Result r = run(dir, "info");
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "0.cell.kernel"));
  CHECK(contains(r.out, "2.bias"));
  CHECK(contains(r.out, "Total: 7361 parameters"));
  tg::nn::Sequential model = reference_model();
  tg::nn::save(model, dir / "w.safetensors");
  r = run(dir, "info --weights '" + dir / "w.safetensors" + "'");
  CHECK(r.code == 0);
  r = run(dir, "info --units 8 --weights '" + dir / "w.safetensors" + "'");
  CHECK(r.code == 2);
  CHECK(lines_of(r.err).size() == 1);
}

// A checkpoint whose optimizer step was inf resumed to "Final loss: -nan"
// with exit code 0.
TEST_CASE("--resume refuses a checkpoint whose numbers are not what the format says") {
  ScratchDir dir("tapegrad-cli");
  const std::string ckpt = dir / "ckpt.safetensors";
  const std::string flags = " --units 4 --threads 1 --verbose 0 --out-dir '" + dir / "run" + "'";
  Result r = run(dir, "train --epochs 1 --checkpoint '" + ckpt + "'" + flags);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  std::map<std::string, std::string> metadata;
  const std::map<std::string, tg::Tensor> good = tg::load_safetensors(ckpt, &metadata);

  std::map<std::string, tg::Tensor> tensors = good;
  tensors["optimizer.step"] = tg::scalar_tensor(INFINITY, tg::f64);
  tg::save_safetensors(ckpt, tensors, metadata);
  r = run(dir, "train --epochs 3 --resume '" + ckpt + "'" + flags);
  CHECK(r.code == 2);
  CHECK(lines_of(r.err).size() == 1);
  CHECK(contains(r.err, "'" + ckpt + "'"));
  CHECK(contains(r.err, "entry 'step' must be a whole number in [0, 2^53], got inf"));
  CHECK_FALSE(contains(r.out, "Final loss"));

  // An epoch count the run cannot have reached (it sized the loss curve: 2^31 rows).
  std::map<std::string, std::string> far_epoch = metadata;
  far_epoch["epoch"] = "2147483647";
  tg::save_safetensors(ckpt, good, far_epoch);
  r = run(dir, "train --epochs 3 --resume '" + ckpt + "'" + flags);
  CHECK(r.code == 2);
  CHECK(contains(r.err, "is at epoch 2147483647, past --epochs 3"));
}

#endif

// loss.csv is appended to, not rewritten: the checkpoint no longer carries the
// history, and --resume continues the log it finds, dropping rows past the checkpoint.
TEST_CASE("--resume continues loss.csv from the checkpoint's epoch, or warns without it") {
  ScratchDir dir("tapegrad-cli");
  const std::string ckpt = dir / "ckpt.safetensors";
  const std::string common = " --units 4 --threads 1 --verbose 0";
  const std::string flags = common + " --out-dir '" + dir / "run" + "'";
  REQUIRE(run(dir, "train --epochs 3" + common + " --out-dir '" + dir / "straight" + "'").code ==
          0);
  Result r = run(dir, "train --epochs 2 --checkpoint '" + ckpt + "'" + flags);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  std::map<std::string, std::string> metadata;
  (void)tg::load_safetensors(ckpt, &metadata);
  for (const auto& [key, value] : metadata) CHECK(key.find("history") == std::string::npos);

  // A row past the checkpoint (a run killed between its log row and its checkpoint).
  const std::string csv = dir / "run/loss.csv";
  const std::string two_epochs = read_file(csv);
  write_file(csv, two_epochs + "2,9,NA,9\n");
  r = run(dir, "train --epochs 3 --resume '" + ckpt + "'" + flags);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.err.empty());
  CHECK(read_file(csv) == read_file(dir / "straight/loss.csv"));

  // A log that is not one: the run goes on, says so, and its earlier epochs read NA.
  write_file(csv, "epoch,loss,val_loss,lr\n0,0.5abc,NA,0.001\n");
  r = run(dir, "train --epochs 3 --resume '" + ckpt + "'" + flags);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(contains(r.err, "tapegrad: warning: read_csv_log: '" + csv +
                            "':2: '0.5abc' is not a "
                            "number or NA; the loss of epochs before 2 reads NA"));
  const auto rows = lines_of(read_file(csv));
  REQUIRE(rows.size() == 4);
  CHECK(rows[1] == "0,nan,NA,nan");
  CHECK(rows[3].rfind("2,", 0) == 0);
}
