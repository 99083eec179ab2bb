// `tapegrad bench`: the reference benchmarks' flags and their one JSON line.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_util.hpp"

using tg_test::contains;
using tg_test::lines_of;
using tg_test::Result;
using tg_test::ScratchDir;

#ifndef TAPEGRAD_CLI

TEST_CASE("tapegrad bench: the program is not built, nothing to test") {
  MESSAGE("the tapegrad program is not part of this build");
}

#else

using tg_test::run;

namespace {

const std::string kTiny = "bench --hidden 4,3 --seq 5 --features 2 --samples 16 --epochs 2";

nlohmann::json json_of(const Result& r) {
  const auto lines = lines_of(r.out);
  REQUIRE_MESSAGE(lines.size() == 1, r.out);
  return nlohmann::json::parse(lines.front());
}

}  // namespace

TEST_CASE("tapegrad bench: one JSON line with the references' keys and sane values") {
  ScratchDir dir("tapegrad-cli-bench");
  const Result r = run(dir, kTiny + " --batch 8");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const nlohmann::json j = json_of(r);
  for (const char* key :
       {"impl",       "cell",        "hidden",          "seq",          "features",
        "samples",    "batch",       "epochs",          "threads",      "blas_threads",
        "seed",       "params",      "epoch_ms_median", "epoch_ms_min", "train_s_total",
        "final_loss", "peak_rss_mb", "base_rss_mb",     "torch",        "torch_threads",
        "blas"}) {
    CAPTURE(key);
    CHECK(j.contains(key));
  }
  CHECK(j["impl"] == "tapegrad");
  CHECK(j["cell"] == "rnn");
  CHECK(j["hidden"] == nlohmann::json::array({4, 3}));
  CHECK(j["seq"] == 5);
  CHECK(j["features"] == 2);
  CHECK(j["samples"] == 16);
  CHECK(j["batch"] == 8);
  CHECK(j["epochs"] == 2);
  CHECK(j["threads"] == 1);
  CHECK(j["blas_threads"] == 1);  // defaults to --threads
  CHECK(j["seed"] == 0);
  // SimpleRNN(4) on 2 features: 2*4 + 4*4 + 4; SimpleRNN(3): 4*3 + 3*3 + 3; Dense(1): 3 + 1.
  CHECK(j["params"] == 28 + 24 + 4);
  const double median = j["epoch_ms_median"], fastest = j["epoch_ms_min"];
  CHECK(fastest > 0);
  CHECK(fastest <= median);
  CHECK(j["train_s_total"].get<double>() * 1e3 >= median);  // two epochs, each >= the min
  const double loss = j["final_loss"];
  CHECK(std::isfinite(loss));
  CHECK(loss > 0);
  CHECK(j["base_rss_mb"].get<double>() > 0);
  CHECK(j["peak_rss_mb"].get<double>() >= j["base_rss_mb"].get<double>());
  CHECK(contains(j["blas"].get<std::string>(), "threads="));
  CHECK(j["torch_threads"] == 1);
}

TEST_CASE("tapegrad bench: the defaults are the reference workload") {
  ScratchDir dir("tapegrad-cli-bench");
  const Result r = run(dir, "bench");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const nlohmann::json j = json_of(r);
  CHECK(j["cell"] == "rnn");
  CHECK(j["hidden"] == nlohmann::json::array({64, 32}));
  CHECK(j["seq"] == 10);
  CHECK(j["features"] == 1);
  CHECK(j["samples"] == 100);
  CHECK(j["batch"] == 32);
  CHECK(j["epochs"] == 100);
  CHECK(j["params"] == 7361);  // as in Keras
  // The references end near 0.039 (their RNG draws other data); U[0,1) targets have
  // variance 1/12 = 0.083, which a model that learned nothing would not beat.
  CHECK(j["final_loss"].get<double>() > 0.005);
  CHECK(j["final_loss"].get<double>() < 0.083);
}

TEST_CASE("tapegrad bench: the seed fixes data, weights and batches; every cell runs") {
  ScratchDir dir("tapegrad-cli-bench");
  const nlohmann::json a = json_of(run(dir, kTiny + " --seed 3"));
  const nlohmann::json b = json_of(run(dir, kTiny + " --seed 3"));
  const nlohmann::json c = json_of(run(dir, kTiny + " --seed 4"));
  CHECK(a["final_loss"] == b["final_loss"]);
  CHECK(a["final_loss"] != c["final_loss"]);
  for (const std::string cell : {"lstm", "gru"}) {
    CAPTURE(cell);
    const Result r = run(dir, kTiny + " --cell " + cell + " --threads 2 --blas-threads 1");
    REQUIRE_MESSAGE(r.code == 0, r.err);
    const nlohmann::json j = json_of(r);
    CHECK(j["cell"] == cell);
    CHECK(j["threads"] == 2);
    CHECK(j["blas_threads"] == 1);
    CHECK(contains(j["blas"].get<std::string>(), "threads=1"));
  }
}

TEST_CASE(
    "tapegrad bench alone: 1 rank, samples per second of the median epoch, no communication") {
  ScratchDir dir("tapegrad-cli-bench");
  const Result r = run(
      dir, kTiny + " --batch 8 --first-bucket-kb 64 --bucket-kb 512 --any-order --no-comm-thread");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const nlohmann::json j = json_of(r);
  CHECK(j["ranks"] == 1);
  // epoch_ms_median is printed to 3 decimals: its rounding, relative to a tiny epoch, bounds
  // the agreement.
  const double epoch_ms = j["epoch_ms_median"].get<double>();
  CHECK(j["samples_per_s"].get<double>() ==
        doctest::Approx(16 / (epoch_ms * 1e-3)).epsilon(1e-3 + 5e-4 / epoch_ms));
  CHECK(j["first_bucket_kb"] == 64);
  CHECK(j["bucket_kb"] == 512);
  CHECK(j["sum_order"] == "any");
  CHECK(j["comm_thread"] == false);
  CHECK(j["buckets"] == 0);
  CHECK(j["comm_ms_per_step"] == 0);
  CHECK(j["exposed_ms_per_step"] == 0);
  CHECK(j["exposed_comm_share"] == 0);
}

TEST_CASE("tapegrad bench --infer: one JSON line of predict and forecast-step figures") {
  ScratchDir dir("tapegrad-cli-bench");
  const Result r = run(dir, kTiny + " --batch 8 --infer --repeats 3");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const nlohmann::json j = json_of(r);
  for (const char* key : {"impl",
                          "cell",
                          "hidden",
                          "seq",
                          "features",
                          "samples",
                          "batch",
                          "repeats",
                          "threads",
                          "blas_threads",
                          "seed",
                          "params",
                          "predict_ms_median",
                          "predict_ms_min",
                          "predict_samples_per_s",
                          "step_us_median",
                          "step_us_min",
                          "steps_per_s",
                          "step_vs_predict_max_abs_diff",
                          "peak_rss_mb",
                          "base_rss_mb",
                          "torch",
                          "torch_threads",
                          "blas"}) {
    CAPTURE(key);
    CHECK(j.contains(key));
  }
  CHECK(j["impl"] == "tapegrad");
  CHECK(j["samples"] == 16);
  CHECK(j["batch"] == 8);
  CHECK(j["repeats"] == 3);
  CHECK_FALSE(j.contains("epoch_ms_median"));  // nothing trained
  const double predict_ms = j["predict_ms_median"], step_us = j["step_us_median"];
  CHECK(j["predict_ms_min"].get<double>() > 0);
  CHECK(j["predict_ms_min"].get<double>() <= predict_ms);
  CHECK(j["step_us_min"].get<double>() > 0);
  CHECK(j["step_us_min"].get<double>() <= step_us);
  CHECK(j["predict_samples_per_s"].get<double>() > 0);
  CHECK(j["steps_per_s"].get<double>() > 0);
  CHECK(j["step_vs_predict_max_abs_diff"].get<double>() < 1e-5);
  tg_test::check_usage_error(run(dir, "bench --infer --repeats 0"),
                             "tapegrad bench: error:", "--repeats");
}

TEST_CASE("tapegrad bench: a bad flag is one line on stderr naming it, exit code 2") {
  ScratchDir dir("tapegrad-cli-bench");
  const std::vector<std::pair<std::string, std::string> > cases{
      {"--cell cnn", "--cell"},         {"--hidden 64,,32", "--hidden"},
      {"--hidden 0", "--hidden"},       {"--epochs 0", "--epochs"},
      {"--samples -5", "--samples"},    {"--batch x", "--batch"},
      {"--threads 0", "--threads"},     {"--blas-threads -1", "--blas-threads"},
      {"--seed -1", "--seed"},          {"--units 8", "--units"},
      {"--bucket-kb 0", "--bucket-kb"}, {"--first-bucket-kb x", "--first-bucket-kb"}};
  for (const auto& [args, named] : cases) {
    CAPTURE(args);
    tg_test::check_usage_error(run(dir, "bench " + args), "tapegrad bench: error:", named);
  }
}

#endif
