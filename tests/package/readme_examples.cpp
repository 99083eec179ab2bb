// The README's code blocks ("Using the library" to "Choosing the hidden size"), each in a
// function, compiled by the package test with -Wall -Wextra -Werror: the examples users copy
// first must build cleanly under the warnings they use. Only compiled, not run.
#include <fmt/core.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

void train_the_reference_model() {
  tg::manual_seed(0);
  tg::Tensor X = tg::rand({100, 10, 1});  // (batch, time, features)
  tg::Tensor y = tg::rand({100, 1});
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 64, {.return_sequences = true}),
                           tg::nn::SimpleRNN(64, 32), tg::nn::Dense(32, 1)};
  tg::nn::MSE loss_fn;
  tg::optim::Adam opt(model.named_parameters(), {.lr = 1e-3});  // Keras defaults, eps 1e-7
  tg::nn::History h = tg::nn::fit(model, loss_fn, opt, X, y, {.epochs = 100, .batch_size = 32});
  tg::nn::fit(model, loss_fn, opt, X, y, {.epochs = 150, .initial_epoch = 100});

  for (auto [xb, yb] : tg::data::batches(X, y, {.batch_size = 32, .shuffle = true})) {
    tg::Tensor loss = loss_fn(model(xb), yb);
    opt.zero_grad();
    loss.backward();
    tg::optim::clip_grad_norm(model.parameters(), 1.0);
    opt.step();
  }
  tg::nn::save(model, "model.safetensors");

  tg::Tensor loss = loss_fn(model(X), y);
  tg::tools::render(loss, "graph.svg", {.show_grads = true, .names = model.named_parameters()});
  tg::tools::render(loss, "folded.png", {.max_steps = 2});
  tg::tools::render(loss, "layers.svg", {.modules = true});
  tg::Tensor x = X.detach().clone().requires_grad_(true),
             t = y.detach().clone().requires_grad_(true);
  tg::tools::render(loss_fn(model(x), t), "lesson.svg",
                    {.inputs = {{"x", x}, {"y", t}}, .cluster_scopes = true});
  tg::tools::print_gradient_flow(loss, std::cout);
  tg::Tape::current().print(std::cout);

  model.summary({10, 1});
  std::string table = tg::nn::summary(model, {10, 1});
  std::cout << model << '\n';
  (void)table;

  tg::nn::save(model, "model.safetensors", {{"note", "free-form metadata"}});
  std::shared_ptr<tg::nn::Module> m = tg::nn::load_model("model.safetensors");
  std::cout << tg::nn::read_model_info("model.safetensors").summary << '\n';
  std::cout << (*m)(X) << '\n';
  (void)h;
}

struct MinimalCell : tg::nn::Cell {
  MinimalCell(int64_t in, int64_t units)
      : w(register_parameter("kernel", tg::nn::init::glorot_uniform({in, units}))),
        u(register_parameter("recurrent_kernel", tg::nn::init::orthogonal({units, units}))) {}
  int64_t units() const override { return u.shape()[0]; }
  tg::nn::State step(const tg::Tensor& x, const tg::nn::State& s) override {
    return {tg::tanh(tg::matmul(x, w) + tg::matmul(s[0], u))};
  }
  tg::Tensor w, u;
};

struct FastCell : MinimalCell {
  using MinimalCell::MinimalCell;
  bool has_input_projection() const override { return true; }
  tg::Tensor project_inputs(const tg::Tensor& x) override { return tg::matmul(x, w); }
  tg::nn::State step_projected(const tg::Tensor& p, const tg::nn::State& s) override {
    return {tg::tanh(tg::addmm(p, s[0], u))};  // step(x, s) == step_projected(x w, s)
  }
};

void check_a_new_cell() {
  tg::nn::RNN layer(std::make_shared<MinimalCell>(8, 16), {.return_sequences = true});
  auto report = tg::nn::gradcheck(layer, {tg::randn({2, 5, 8})});
  std::cout << report.ok << report.message << '\n';
  tg::nn::RNN fast(std::make_shared<FastCell>(8, 16), {.return_sequences = true});
}

void run_a_layer_both_ways() {
  auto lstm = std::make_shared<tg::nn::LSTM>(8, 16, tg::nn::RNNOptions{.return_sequences = true});
  tg::nn::Bidirectional bi(lstm, {.merge = tg::nn::MergeMode::concat});
  tg::nn::BidirectionalOutput both = bi.run(tg::randn({2, 5, 8}));  // output (2, 5, 32)
  (void)both;
}

void regularize_with_dropout() {
  tg::nn::Sequential reg{
      tg::nn::LSTM(1, 32, {}, {.dropout = 0.2, .recurrent_dropout = 0.2}),  // Keras's
      tg::nn::Dropout(0.5), tg::nn::Dense(32, 1)};  // LSTM(32, dropout=0.2, recurrent_dropout=0.2)
  // the same layer over its cell: tg::nn::RNN(std::make_shared<tg::nn::LSTMCell>(1, 32,
  //     tg::nn::LSTMCellOptions{.dropout = 0.2, .recurrent_dropout = 0.2}))
  std::cout << reg(tg::rand({4, 10, 1})) << '\n';
}

void mask_padded_sequences() {
  tg::data::PaddedSequences batch = tg::data::pad_sequences(
      {tg::rand({7, 1}), tg::rand({3, 1}), tg::rand({5, 1})}, {.padding = "post"});
  tg::nn::LSTM lstm(1, 16, {.return_sequences = true});
  tg::Tensor out = lstm.run(batch.values, {}, batch.mask).output;  // (3, 7, 16)
  std::cout << out.shape() << '\n';
}

void weight_and_mask_the_loss() {
  tg::data::PaddedSequences batch = tg::data::pad_sequences(
      {tg::rand({7, 1}), tg::rand({3, 1}), tg::rand({5, 1})}, {.padding = "post"});
  tg::nn::Sequential tagger{tg::nn::LSTM(1, 16, {.return_sequences = true}), tg::nn::Dense(16, 1)};
  tg::Tensor y_steps = tg::rand({3, 7, 1});    // one target per step
  tg::Tensor w = tg::tensor({1.f, 2.f, 0.f});  // per sample: normal, double, ignored
  tg::nn::MSE mse;
  tg::optim::Adam adam(tagger.parameters(), {.lr = 1e-3});
  tg::nn::fit(tagger, mse, adam, batch.values, y_steps,
              {.epochs = 20, .mask = batch.mask, .sample_weight = w});
  double masked = tg::nn::evaluate(tagger, mse, batch.values, y_steps, 32, batch.mask, w);
  tg::Tensor l = mse(tagger(batch.values, batch.mask), y_steps, w, batch.mask);
  std::cout << masked << l << '\n';
}

void checkpoint_a_long_sequence() {
  tg::nn::LSTM long_lstm(8, 64, {.checkpoint_every = 100});
  tg::Tensor h_T = long_lstm(tg::randn({8, 10000, 8}));  // ~1/50 of the memory for backward
  (void)h_T;
}

void choose_the_hidden_size(const tg::Tensor& X, const tg::Tensor& y) {
  std::vector<tg::nn::Candidate> grid;
  for (int64_t u : {4, 8, 16, 32}) {
    grid.push_back({.name = fmt::format("units={}", u), .complexity = double(u), .make_model = [u] {
                      return std::make_shared<tg::nn::Sequential>(tg::nn::SimpleRNN(1, u),
                                                                  tg::nn::Dense(u, 1));
                    }});
  }
  tg::nn::CVOptions opts{.folds = 4,
                         .split = tg::nn::SplitKind::time,
                         .fit = {.epochs = 200, .verbose = 0},
                         .jobs = 2};
  tg::nn::GridSearchResult r = tg::nn::grid_search(grid, X, y, opts);
  std::cout << r.table();
}

int main() {
  // Compiled, not run: the calls above train for minutes and write files.
  (void)&train_the_reference_model;
  (void)&check_a_new_cell;
  (void)&run_a_layer_both_ways;
  (void)&choose_the_hidden_size;
  (void)&regularize_with_dropout;
  (void)&mask_padded_sequences;
  (void)&weight_and_mask_the_loss;
  (void)&checkpoint_a_long_sequence;
}
