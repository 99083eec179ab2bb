// Checkpointing through time (RNNOptions::checkpoint_every): the forward pass keeps
// every k-th state only and backward recomputes each segment of k steps. The reference for
// every check is the same layer (same weights) with full BPTT: outputs, final states and the
// gradients of the input, the initial state and every parameter must agree within 1e-12 in
// f64, for every cell kind and option; the peak memory must be much lower.
#include <doctest/doctest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nn/mgu_cell.hpp>
#include <nn/nn_test_util.hpp>
#include <test_util.hpp>

using namespace tg_test;

namespace {

namespace nn = tg::nn;

// A cell without an input projection (nn/mgu_cell.hpp), so the step() path is checked too;
// it notes where each recorded step stands on the tape.
struct RecordingMGUCell : MGUCell {
  RecordingMGUCell(int64_t in, int64_t units) : MGUCell(in, units, tg::f64) {}

  nn::State step(const tg::Tensor& x, const nn::State& s) override {
    if (tg::GradMode::enabled()) recorded_steps.push_back(tg::TimeStepScope::current());
    return MGUCell::step(x, s);
  }

  std::vector<tg::TimeStep> recorded_steps;
};

enum class Kind { rnn, lstm, gru, custom };
constexpr Kind kKinds[] = {Kind::rnn, Kind::lstm, Kind::gru, Kind::custom};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::rnn:
      return "SimpleRNN";
    case Kind::lstm:
      return "LSTM";
    case Kind::gru:
      return "GRU";
    case Kind::custom:
      return "MGUCell";
  }
  return "?";
}

constexpr int64_t kBatch = 3, kSteps = 7, kFeatures = 2, kUnits = 3;

std::shared_ptr<nn::RNN> make_layer(Kind kind, nn::RNNOptions opts) {
  switch (kind) {
    case Kind::rnn:
      return std::make_shared<nn::SimpleRNN>(kFeatures, kUnits, opts, tg::f64);
    case Kind::lstm:
      return std::make_shared<nn::LSTM>(kFeatures, kUnits, opts, tg::f64);
    case Kind::gru:
      return std::make_shared<nn::GRU>(kFeatures, kUnits, opts, tg::f64);
    case Kind::custom:
      return std::make_shared<nn::RNN>(std::make_shared<RecordingMGUCell>(kFeatures, kUnits), opts);
  }
  throw std::logic_error("unknown kind");
}

void randomize(nn::Module& m) {
  for (const tg::Tensor& p : m.parameters()) {
    tg::kernel::copy_into(p, tg::uniform(p.shape(), -0.9, 0.9, p.dtype()));
  }
}

void copy_parameters(const nn::Module& from, const nn::Module& to) {
  const auto a = from.parameters();
  const auto b = to.parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) tg::kernel::copy_into(b[i], a[i]);
}

// The layer with full BPTT and its checkpointed twin (same options and weights otherwise).
std::pair<std::shared_ptr<nn::RNN>, std::shared_ptr<nn::RNN>> twins(Kind kind, nn::RNNOptions opts,
                                                                    int64_t every) {
  auto full = make_layer(kind, opts);
  opts.checkpoint_every = every;
  auto checkpointed = make_layer(kind, opts);
  randomize(*full);
  copy_parameters(*full, *checkpointed);
  return {full, checkpointed};
}

// Post-padded lengths 7, 4 and 2: steps 0-1 are valid for all, 2-3 for some, 4-6 for one.
tg::Tensor padding_mask() {
  const std::vector<int64_t> lengths{kSteps, 4, 2};
  std::vector<double> m;
  for (int64_t b = 0; b < kBatch; ++b) {
    for (int64_t t = 0; t < kSteps; ++t) m.push_back(t < lengths[b] ? 1.0 : 0.0);
  }
  return tg::from_vector(m, {kBatch, kSteps}).to(tg::f64);
}

// What one forward + backward gives: the output, the final state and every gradient.
struct Run {
  std::vector<tg::Tensor> values;
  std::vector<tg::Tensor> grads;
};

// A random projection of the output and of the final state as the loss, so every part of
// both gets a gradient of its own.
Run run_once(nn::RNN& layer, const tg::Tensor& x_data, const tg::Tensor& mask) {
  tg::manual_seed(7);  // the same projections for both twins
  const tg::Tensor x = x_data.clone().requires_grad_(true);
  nn::State initial = layer.cell().initial_state(kBatch);
  for (tg::Tensor& s : initial) s = uniform_f64(s.shape()).requires_grad_(true);
  layer.zero_grad();
  const nn::RNNOutput out = layer.run(x, initial, mask);
  tg::Tensor loss = tg::sum(out.output * uniform_f64(out.output.shape()));
  for (const tg::Tensor& s : out.state) loss = loss + tg::sum(s * uniform_f64(s.shape()));
  loss.backward();
  Run r{{out.output}, {x.grad()}};
  for (const tg::Tensor& s : out.state) r.values.push_back(s);
  for (const tg::Tensor& s : initial) r.grads.push_back(s.grad());
  for (const tg::Tensor& p : layer.parameters()) r.grads.push_back(p.grad().clone());
  return r;
}

void check_same(const Run& full, const Run& checkpointed) {
  REQUIRE(full.values.size() == checkpointed.values.size());
  REQUIRE(full.grads.size() == checkpointed.grads.size());
  for (std::size_t i = 0; i < full.values.size(); ++i) {
    CAPTURE(i);
    CHECK(max_abs_diff(full.values[i], checkpointed.values[i]) <= 1e-12);
  }
  for (std::size_t i = 0; i < full.grads.size(); ++i) {
    CAPTURE(i);  // 0: the input, then the initial state, then the parameters
    REQUIRE(checkpointed.grads[i].defined());
    CHECK(max_abs_diff(full.grads[i], checkpointed.grads[i]) <= 1e-12);
  }
}

struct Variant {
  const char* name;
  nn::RNNOptions opts;
  bool masked;
};

const Variant kVariants[] = {
    {"last output", {}, false},
    {"return_sequences", {.return_sequences = true}, false},
    {"go_backwards", {.go_backwards = true}, false},
    {"go_backwards, return_sequences", {.return_sequences = true, .go_backwards = true}, false},
    {"mask", {.return_sequences = true}, true},
    {"mask, last output", {}, true},
    {"mask, go_backwards", {.return_sequences = true, .go_backwards = true}, true},
    {"mask, zero_output_for_mask", {.return_sequences = true, .zero_output_for_mask = true}, true},
    {"tbptt 3", {.return_sequences = true, .tbptt = 3}, false},
    {"tbptt 2, mask, go_backwards",
     {.return_sequences = true, .go_backwards = true, .tbptt = 2},
     true},
};

}  // namespace

TEST_CASE("checkpoint_every: outputs and every gradient equal full BPTT (f64, 1e-12)") {
  const tg::Tensor mask = padding_mask();
  for (const Kind kind : kKinds) {
    for (const Variant& v : kVariants) {
      // 1 and 7 divide T = 7; 2 and 3 do not; 7 and 20 are >= T (one segment).
      for (const int64_t every : {1, 2, 3, 7, 20}) {
        CAPTURE(kind_name(kind));
        CAPTURE(v.name);
        CAPTURE(every);
        tg::manual_seed(11);
        const auto [full, checkpointed] = twins(kind, v.opts, every);
        const tg::Tensor x = uniform_f64({kBatch, kSteps, kFeatures});
        const tg::Tensor m = v.masked ? mask : tg::Tensor{};
        check_same(run_once(*full, x, m), run_once(*checkpointed, x, m));
      }
    }
  }
}

TEST_CASE("checkpoint_every: stateful and return_state behave as with full BPTT") {
  for (const Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    tg::manual_seed(12);
    const auto [full, checkpointed] = twins(kind, {.return_state = true, .stateful = true}, 3);
    const tg::Tensor x1 = uniform_f64({kBatch, kSteps, kFeatures});
    const tg::Tensor x2 = uniform_f64({kBatch, kSteps, kFeatures});
    for (nn::RNN* layer : {full.get(), checkpointed.get()}) (void)(*layer)(x1);
    // The second call starts from the carried (detached) state of the first.
    check_same(run_once(*full, x2, {}), run_once(*checkpointed, x2, {}));
    REQUIRE(full->last_state().size() == checkpointed->last_state().size());
    for (std::size_t i = 0; i < full->last_state().size(); ++i) {
      CHECK(max_abs_diff(full->last_state()[i], checkpointed->last_state()[i]) <= 1e-12);
    }
  }
}

TEST_CASE("checkpoint_every: dropout masks are the forward's, even after the layer ran again") {
  // The layer is called twice before one backward, as a shared layer is: the recompute of
  // the first call's segments must use the first call's masks, not the second's.
  const auto gradients = [](int64_t every) {
    tg::manual_seed(13);
    auto layer = std::make_shared<nn::RNN>(
        std::make_shared<nn::LSTMCell>(
            kFeatures, kUnits,
            nn::LSTMCellOptions{.dtype = tg::f64, .dropout = 0.3, .recurrent_dropout = 0.4}),
        nn::RNNOptions{.return_sequences = true, .checkpoint_every = every});
    randomize(*layer);
    const tg::Tensor x1 = uniform_f64({kBatch, kSteps, kFeatures});
    const tg::Tensor x2 = uniform_f64({kBatch, kSteps, kFeatures});
    const tg::Tensor y1 = (*layer)(x1);
    const tg::Tensor y2 = (*layer)(x2);
    tg::sum(y1 * y1 + 2.0 * y2).backward();
    std::vector<tg::Tensor> g{y1, y2};
    for (const tg::Tensor& p : layer->parameters()) g.push_back(p.grad().clone());
    return g;
  };
  const std::vector<tg::Tensor> full = gradients(0);
  const std::vector<tg::Tensor> checkpointed = gradients(3);
  for (std::size_t i = 0; i < full.size(); ++i) {
    CAPTURE(i);
    CHECK(max_abs_diff(full[i], checkpointed[i]) <= 1e-12);
  }
}

TEST_CASE("checkpoint_every: gradcheck of a checkpointed layer, with and without a mask") {
  tg::manual_seed(14);
  for (const Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    auto layer = make_layer(kind, {.return_sequences = true, .checkpoint_every = 2});
    randomize(*layer);
    // First order only: create_graph through a checkpointed layer is refused (see below).
    check_gradients(*layer, uniform_f64({2, 5, kFeatures}), /*first_order_only=*/true);
  }
  auto layer = make_layer(Kind::gru, {.go_backwards = true, .checkpoint_every = 2});
  randomize(*layer);
  const tg::Tensor mask = padding_mask();
  check_gradients(
      *layer, [&](const std::vector<tg::Tensor>& in) { return layer->run(in[0], {}, mask).output; },
      {uniform_f64({kBatch, kSteps, kFeatures})}, /*first_order_only=*/true);
}

TEST_CASE("checkpoint_every: peak memory of a long sequence is a fraction of full BPTT's") {
  const int64_t steps = 2000;
  const auto peak_bytes = [&](int64_t every) {
    tg::manual_seed(15);
    nn::SimpleRNN layer(4, 16, {.checkpoint_every = every});
    const tg::Tensor x = tg::randn({4, steps, 4});
    const std::size_t before = tg::memory_stats().bytes_in_use;
    tg::reset_peak_memory();
    tg::sum(layer(x)).backward();
    return tg::memory_stats().peak_bytes - before;
  };
  const std::size_t full = peak_bytes(0);
  const std::size_t checkpointed = peak_bytes(50);
  CAPTURE(full);
  CAPTURE(checkpointed);
  CHECK(checkpointed * 8 < full);
}

TEST_CASE("checkpoint_every: the forward keeps one record per segment, not the steps' records") {
  const auto records_kept = [](int64_t every) {
    tg::manual_seed(16);
    nn::LSTM layer(2, 4, {.checkpoint_every = every});
    const std::size_t before = tg::Tape::current().size();
    const tg::Tensor y = layer(tg::randn({2, 100, 2}));
    return tg::Tape::current().size() - before;
  };
  const std::size_t full = records_kept(0);
  const std::size_t checkpointed = records_kept(10);
  CAPTURE(full);
  CAPTURE(checkpointed);
  CHECK(checkpointed * 10 < full);
}

TEST_CASE("checkpoint_every: the recomputed steps are recorded in the layer call and step") {
  tg::manual_seed(17);
  auto cell = std::make_shared<RecordingMGUCell>(kFeatures, kUnits);
  nn::RNN layer(cell, {.go_backwards = true, .checkpoint_every = 3});
  const tg::Tensor x = uniform_f64({kBatch, kSteps, kFeatures}).requires_grad_(true);
  const tg::Tensor y = layer(x);
  REQUIRE(cell->recorded_steps.empty());  // the forward pass records no step
  tg::sum(y).backward();
  // Segments in processing order: times {6,5,4}, {3,2,1}, {0}; backward recomputes the
  // last segment first.
  std::vector<int64_t> indices;
  for (const tg::TimeStep& s : cell->recorded_steps) {
    CHECK(s.in_step());
    CHECK(*s.layer == "RNN");
    CHECK(s.call == cell->recorded_steps[0].call);
    indices.push_back(s.index);
  }
  CHECK(indices == std::vector<int64_t>{0, 3, 2, 1, 6, 5, 4});
}

TEST_CASE("checkpoint_every: retain_graph recomputes again; frozen parameters get no gradient") {
  tg::manual_seed(21);
  const auto [full, checkpointed] = twins(Kind::gru, {.return_sequences = true}, 3);
  for (nn::RNN* layer : {full.get(), checkpointed.get()}) {
    layer->parameters()[0].requires_grad_(false);  // the kernel
  }
  const tg::Tensor x = uniform_f64({kBatch, kSteps, kFeatures});
  const auto twice = [&](nn::RNN& layer) {
    const tg::Tensor loss = tg::sum(layer(x) * layer(x));
    loss.backward(/*retain_graph=*/true);
    loss.backward();
    CHECK_FALSE(layer.parameters()[0].grad().defined());
    return layer.parameters()[1].grad().clone();
  };
  CHECK(max_abs_diff(twice(*full), twice(*checkpointed)) <= 1e-12);
}

TEST_CASE("checkpoint_every: an empty batch gives empty outputs and gradients") {
  for (const Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    auto layer = make_layer(kind, {.return_sequences = true, .checkpoint_every = 2});
    const tg::Tensor x = tg::zeros({0, 5, kFeatures}, tg::f64).requires_grad_(true);
    const tg::Tensor y = (*layer)(x);
    CHECK(y.shape() == tg::Shape{0, 5, kUnits});
    tg::sum(y).backward();
    CHECK(x.grad().shape() == x.shape());
  }
}

TEST_CASE("checkpoint_every: errors") {
  CHECK_THROWS_WITH_AS(nn::SimpleRNN(2, 3, {.checkpoint_every = -1}),
                       "RNN: checkpoint_every must be >= 0 (0: off), got -1", tg::ValueError);

  tg::manual_seed(18);
  nn::LSTM layer(2, 3, {.checkpoint_every = 2}, tg::f64);
  const tg::Tensor x = uniform_f64({2, 5, 2}).requires_grad_(true);
  const tg::Tensor y = tg::sum(layer(x));
  CHECK_THROWS_WITH_AS(tg::grad({y}, {x}, {.create_graph = true}),
                       doctest::Contains("LSTM: create_graph is not supported through a layer "
                                         "with checkpoint_every = 2 (the backward of steps 4..4"),
                       tg::AutogradError);
}

TEST_CASE("checkpoint_every: graph dumps and the gradient-flow report read a checkpointed layer") {
  tg::manual_seed(20);
  nn::LSTM layer(kFeatures, kUnits, {.return_sequences = true, .checkpoint_every = 3}, tg::f64);
  const tg::Tensor x = uniform_f64({kBatch, kSteps, kFeatures});
  const tg::Tensor loss = tg::sum(layer(x));
  std::ostringstream dot;
  tg::tools::write_dot(loss, dot);
  CHECK(contains(dot.str(), "rnn_checkpoint"));
  // The report runs a backward pass that keeps the graph (segments recompute in it) and
  // sees one record per segment, at the segment's last step.
  std::vector<int64_t> steps;
  for (const tg::tools::StepGradient& s : tg::tools::gradient_flow(loss)) steps.push_back(s.step);
  CHECK(steps == std::vector<int64_t>{2, 5, 6});
  loss.backward();  // the graph is intact
  for (const tg::Tensor& p : layer.parameters()) CHECK(p.grad().defined());
}

// A cell that also reads a tensor it did not register, as a hypernetwork's cell might.
struct GainCell : RecordingMGUCell {
  GainCell(tg::Tensor gain) : RecordingMGUCell(kFeatures, kUnits), gain(std::move(gain)) {}
  nn::State step(const tg::Tensor& x, const nn::State& s) override {
    return RecordingMGUCell::step(x * gain, s);
  }
  tg::Tensor gain;
};

TEST_CASE("checkpoint_every: a cell reading an unregistered tensor that requires grad") {
  tg::manual_seed(19);
  const tg::Tensor leaf = uniform_f64({kFeatures}).requires_grad_(true);
  const tg::Tensor x = uniform_f64({kBatch, kSteps, kFeatures});
  for (const tg::Tensor& gain : {leaf, leaf * 2.0}) {  // a leaf, and an op's output
    nn::RNN layer(std::make_shared<GainCell>(gain), {.checkpoint_every = 3});
    const tg::Tensor y = tg::sum(layer(x));
    CHECK_THROWS_WITH_AS(y.backward(),
                         doctest::Contains("RNN: with checkpoint_every = 3, the cell's mul at "
                                           "time step 6 reads a tensor of shape [2] that "
                                           "requires grad but is neither"),
                         tg::AutogradError);
    // Full BPTT routes the gradient to it.
    nn::RNN full(std::make_shared<GainCell>(gain));
    tg::sum(full(x)).backward();
    CHECK(leaf.grad().defined());
  }
}

TEST_CASE("checkpoint_every: load_model round-trips the option") {
  ScratchDir dir("tapegrad-checkpoint");
  const std::string path = dir / "m.safetensors";
  nn::Sequential model{nn::GRU(2, 3, {.return_sequences = true, .checkpoint_every = 25}),
                       nn::LSTM(3, 2, {.tbptt = 4, .checkpoint_every = 8})};
  nn::save(model, path);
  CHECK(contains(nn::read_model_info(path).metadata.at(nn::kModelConfigKey),
                 "\"checkpoint_every\":25"));
  const std::shared_ptr<nn::Module> copy = nn::load_model(path);
  CHECK(nn::model_config_json(*copy) == nn::model_config_json(model));
  const auto& layers = copy->children();
  REQUIRE(layers.size() == 2);
  CHECK(dynamic_cast<const nn::RNN&>(*layers[0].second).options().checkpoint_every == 25);
  CHECK(dynamic_cast<const nn::RNN&>(*layers[1].second).options().checkpoint_every == 8);
  CHECK(dynamic_cast<const nn::RNN&>(*layers[1].second).options().tbptt == 4);
}

TEST_CASE("checkpoint_every: a fully masked batch fails backward as full BPTT does") {
  // Every step masked: the output is the initial state, which no parameter or input reaches.
  // Full BPTT records nothing that requires grad, so backward throws; the checkpointed layer
  // must agree instead of "succeeding" with x.grad undefined.
  const tg::Tensor mask = tg::zeros({kBatch, kSteps}, tg::f64);
  for (const Kind kind : kKinds) {
    for (const bool return_sequences : {false, true}) {
      CAPTURE(kind_name(kind));
      CAPTURE(return_sequences);
      auto [full, checkpointed] = twins(kind, {.return_sequences = return_sequences}, 3);
      for (nn::RNN* layer : {full.get(), checkpointed.get()}) {
        const tg::Tensor x = uniform_f64({kBatch, kSteps, kFeatures}).requires_grad_(true);
        const tg::Tensor y = layer->run(x, {}, mask).output;
        CHECK(max_abs_diff(y, tg::zeros_like(y)) == 0.0);
        CHECK_FALSE(y.requires_grad());
        CHECK_THROWS_AS(tg::sum(y).backward(), tg::AutogradError);
      }
    }
  }
}
