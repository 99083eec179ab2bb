// The lesson of the vanishing gradient as an experiment: on the adding problem
// (tg::data::adding_problem), train SimpleRNN, LSTM and GRU at several sequence lengths with
// the same budget and see where each stops learning; and the opposite failure, the
// exploding gradient, with and without clipping.
//
//   tg::tools::AddingResult r = tg::tools::run_adding({.cells = {"rnn", "lstm"}, .seeds = 3});
//   tg::tools::write_adding_csv(r, "adding.csv");
//   tg::tools::write_adding_chart(r, "adding.svg");
//   tg::tools::ClippingResult c = tg::tools::run_clipping({.clip_norm = 1.0});
//   tg::tools::write_clipping_chart(c, "clipping.svg");
//
// Every (cell, length, seed) is one task: a model RNN(cell, units) -> Dense(1) trained by Adam
// for `epochs` on train_size fresh sequences and scored on test_size others after every
// epoch. All cells see the same data at a given (length, seed), and each task's weights and
// batch order come from its own seed (tg::nn::run_seeded_tasks), so the numbers are the same
// for any number of jobs. For the longest length and the first seed, |dL/dh_t| of the
// recurrent layer is measured on the first probe_size test sequences before and after
// training (tg::tools::gradient_flow_report).
//
// The clipping comparison trains one model twice from the same weights and data with plain
// SGD at a learning rate where the gradient explodes: once as it is, once with the global
// gradient norm clipped to clip_norm (Pascanu et al. 2013). SGD, because Adam divides each
// step by the gradient's own scale and so hides an explosion that SGD turns into a step.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad/tools/viz/chart.hpp>
#include <tapegrad/tools/viz/graph.hpp>

namespace tapegrad::tools {

// "SimpleRNN", "LSTM", "GRU" for "rnn", "lstm", "gru"; throws ValueError for another name.
std::string cell_title(const std::string& cell);

struct AddingOptions {
  std::vector<std::string> cells = {"rnn", "lstm", "gru"};
  std::vector<int64_t> steps = {10, 50, 100, 200};  // each even and >= 4
  int64_t units = 32;
  int epochs = 12;
  int seeds = 3;           // runs per cell and length
  std::uint64_t seed = 0;  // of the data, the initial weights and the batch order
  int64_t train_size = 2000;
  int64_t test_size = 500;
  int64_t batch_size = 32;
  double lr = 1e-2;                 // Adam's
  std::optional<double> clip_norm;  // Adam's global_clipnorm; none: no clipping
  double target_mse = 0.01;         // "learned": the first epoch whose test MSE is below
  int64_t probe_size = 32;          // test sequences the gradient flow is measured on
  int jobs = 0;                     // threads; 0: one per core
};

struct AddingRun {
  std::string cell = {};  // as given ("rnn")
  int64_t steps = 0;
  int seed = 0;  // 0 ... seeds - 1
  double test_mse = 0;
  std::optional<int> epochs_to_target = {};  // 1-based; none: never reached
  std::vector<double> test_mse_by_epoch = {};
};

struct AddingResult {
  std::vector<AddingRun> runs;  // by cell (as given), then length (as given), then seed
  // |dL/dh_t| at the longest length (seed 0), one layer per cell named by its title.
  GradientFlow flow_start, flow_end;
  int64_t longest = 0;
};

// Throws ValueError naming the option for an unknown cell, a length that is odd or below 4,
// or a count below 1; then runs every task.
AddingResult run_adding(const AddingOptions& opts);

// cell,steps,seed,test_mse,epochs_to_0.01 (the target as given; empty when never reached),
// one row per run, written atomically.
void write_adding_csv(const AddingResult& result, double target_mse, const std::string& path);

// Mean, min and max of the test MSE over seeds, for one cell and length.
struct MseSummary {
  double mean = 0, min = 0, max = 0;
  int reached_target = 0;  // seeds whose test MSE went below the target
};
MseSummary summarize(const AddingResult& result, const std::string& cell, int64_t steps);

// Two panels: test MSE against length per cell (log y, mean over seeds with a bar from min to
// max, the mean predictor's 1/6 as a line), and |dL/dh_t| against t at the longest length per
// cell before and after training. `page` gives the size and dpi; the titles are set here.
void write_adding_chart(const AddingResult& result, const std::string& path,
                        LineChartOptions page = {.width = 1500, .height = 560});

struct ClippingOptions {
  int64_t steps = 10;
  int64_t units = 32;
  int epochs = 20;
  std::uint64_t seed = 0;
  int64_t train_size = 500;
  int64_t batch_size = 32;
  double lr = 1.0;         // SGD's: large enough that the gradient explodes
  double clip_norm = 0.3;  // the global gradient norm of the clipped run
};

// The training loss per epoch of a SimpleRNN (relu, which does not saturate) on the adding
// problem, without and with clipping; a loss that turned NaN or infinite ends its curve.
struct ClippingResult {
  std::vector<double> loss_without, loss_with;
  ClippingOptions options;
};
ClippingResult run_clipping(const ClippingOptions& opts);

// epoch,loss_without_clipping,loss_with_clipping (empty after a curve ended), written
// atomically.
void write_clipping_csv(const ClippingResult& result, const std::string& path);
// The two curves on one chart (log y), the point where the unclipped one ended marked.
void write_clipping_chart(const ClippingResult& result, const std::string& path,
                          LineChartOptions chart = {});

}  // namespace tapegrad::tools
