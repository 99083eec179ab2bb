// nn::Bidirectional: parity with torch's bidirectional=True (fixtures torch_bi*.json /
// .safetensors from tests/fixtures/generate_torch_interop.py), the merge modes, shapes and
// states, gradients in f64, save/load_model, and the errors.
#include <doctest/doctest.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fixture.hpp>
#include <nn/nn_test_util.hpp>
#include <test_util.hpp>

using namespace tg_test;
namespace nn = tg::nn;

namespace {

std::string fixture_path(const std::string& file) {
  return std::string(TAPEGRAD_TEST_DATA_DIR) + "/" + file;
}

// The layer of a fixture (torch's tanh RNN is a SimpleRNN), with tapegrad's own init.
std::shared_ptr<nn::RNN> layer_of(const std::string& kind, int64_t in, int64_t units,
                                  nn::RNNOptions opts, tg::DType dtype = tg::f32) {
  if (kind == "LSTM") return std::make_shared<nn::LSTM>(in, units, opts, dtype);
  if (kind == "GRU") return std::make_shared<nn::GRU>(in, units, opts, dtype);
  REQUIRE(kind == "RNN");
  return std::make_shared<nn::SimpleRNN>(in, units, opts, dtype);
}

// x (B, T, ·) with its time axis reversed, written out step by step.
tg::Tensor reversed_steps(const tg::Tensor& x) {
  std::vector<tg::Tensor> steps;
  for (int64_t t = x.shape()[1] - 1; t >= 0; --t) steps.push_back(tg::select(x, 1, t));
  return tg::stack(steps, 1);
}

// A cell without config(): Bidirectional cannot copy a layer over it.
struct ScaledTanhCell : nn::Cell {
  ScaledTanhCell(int64_t in, int64_t units)
      : w(register_parameter("kernel", nn::init::glorot_uniform({in, units}))) {}
  int64_t units() const override { return w.shape()[1]; }
  nn::State step(const tg::Tensor& x, const nn::State& s) override {
    return {tg::tanh(tg::matmul(x, w) + 0.5 * s[0])};
  }
  std::string type_name() const override { return "ScaledTanhCell"; }
  tg::Tensor w;
};

const nn::RNNOptions kSequencesAndState{.return_sequences = true, .return_state = true};

}  // namespace

TEST_CASE("Bidirectional matches torch bidirectional=True (RNN, LSTM, GRU): outputs, states") {
  for (const std::string stem : {"torch_birnn", "torch_bilstm", "torch_bigru"}) {
    CAPTURE(stem);
    const nlohmann::json fx = load_fixture(stem + ".json");
    const std::string kind = fx.at("layer");
    const int64_t in = fx.at("input_size"), units = fx.at("hidden_size");
    auto bi = std::make_shared<nn::Bidirectional>(layer_of(kind, in, units, kSequencesAndState));
    nn::Sequential model{bi};  // named like the torch module: child "0"
    nn::import_torch(model, fixture_path(stem + ".safetensors"));

    const tg::Tensor x = fixture_tensor(fx.at("inputs").at("x"), tg::f32);
    const nlohmann::json& want = fx.at("outputs");
    const nn::BidirectionalOutput out = bi->run(x);
    const double output_error =
        max_abs_diff(out.output, fixture_tensor(want.at("output"), tg::f32));
    double state_error = std::max(
        max_abs_diff(out.forward_state[0], fixture_tensor(want.at("forward_h"), tg::f32)),
        max_abs_diff(out.backward_state[0], fixture_tensor(want.at("backward_h"), tg::f32)));
    if (kind == "LSTM") {
      state_error = std::max(
          {state_error,
           max_abs_diff(out.forward_state[1], fixture_tensor(want.at("forward_c"), tg::f32)),
           max_abs_diff(out.backward_state[1], fixture_tensor(want.at("backward_c"), tg::f32))});
    }
    MESSAGE(stem << ": max abs error, output " << output_error << ", final states " << state_error);
    CHECK(output_error <= 1e-5);
    CHECK(state_error <= 1e-5);
    // forward(x) is the same output; with return_state the states are kept, forward's first.
    CHECK(max_abs_diff(model(x), out.output) == 0.0);
    const nn::State kept = bi->last_state();
    REQUIRE(kept.size() == 2 * out.forward_state.size());
    CHECK(max_abs_diff(kept.back(), out.backward_state.back()) == 0.0);

    // Exported, the file holds torch's names, and imports back bit for bit. With
    // TAPEGRAD_TORCH_EXPORT_DIR set it is kept there for generate_torch_interop.py
    // --check-export, which loads it into torch with strict=True.
    ScratchDir dir("tapegrad-bidi");
    nn::export_torch(model, dir / "out.safetensors");
    if (const char* keep_dir = std::getenv("TAPEGRAD_TORCH_EXPORT_DIR")) {
      nn::export_torch(model, std::string(keep_dir) + "/" + stem + ".safetensors");
    }
    const auto exported = tg::load_safetensors(dir / "out.safetensors");
    const auto original = tg::load_safetensors(fixture_path(stem + ".safetensors"));
    std::vector<std::string> exported_names, original_names;
    for (const auto& [name, t] : exported) exported_names.push_back(name);
    for (const auto& [name, t] : original) original_names.push_back(name);
    CHECK(exported_names == original_names);  // 0.weight_ih_l0_reverse, ...
    nn::Sequential again{nn::Bidirectional(layer_of(kind, in, units, kSequencesAndState))};
    nn::import_torch(again, dir / "out.safetensors");
    CHECK(max_abs_diff(again(x), out.output) == 0.0);
  }
}

TEST_CASE("Bidirectional: the backward layer is a fresh copy with go_backwards flipped") {
  tg::manual_seed(1);
  auto lstm = std::make_shared<nn::LSTM>(3, 4, nn::RNNOptions{.return_sequences = true});
  nn::Bidirectional bi(lstm);
  CHECK(&bi.forward_layer() == lstm.get());
  CHECK(bi.backward_layer().type_name() == "LSTM");
  CHECK(bi.backward_layer().options().go_backwards);
  CHECK(bi.backward_layer().options().return_sequences);
  CHECK(bi.backward_layer().cell().units() == 4);
  const auto names = bi.named_parameters();
  REQUIRE(names.size() == 6);
  CHECK(names[0].first == "forward_layer.cell.kernel");
  CHECK(names[3].first == "backward_layer.cell.kernel");
  CHECK(max_abs_diff(names[0].second, names[3].second) > 0.0);  // weights of its own
  CHECK(bi.config() == nn::ModuleConfig{{"merge", std::string("concat")}});

  // f64 layers give an f64 copy.
  nn::Bidirectional wide(layer_of("GRU", 2, 3, {}, tg::f64));
  CHECK(wide.backward_layer().dtype() == tg::f64);
}

TEST_CASE("Bidirectional merge modes: concat, sum, mul, ave of the aligned directions") {
  tg::manual_seed(2);
  const tg::Tensor x = tg::uniform({2, 5, 3}, -1.0, 1.0);
  for (const bool sequences : {true, false}) {
    CAPTURE(sequences);
    auto gru = std::make_shared<nn::GRU>(3, 4, nn::RNNOptions{.return_sequences = sequences});
    nn::Bidirectional concat(gru);
    const tg::Tensor f = concat.forward_layer().run(x).output;
    const tg::Tensor b_read = concat.backward_layer().run(x).output;
    const tg::Tensor b = sequences ? reversed_steps(b_read) : b_read;
    const tg::Tensor y = concat(x);
    CHECK(y.shape() == (sequences ? tg::Shape{2, 5, 8} : tg::Shape{2, 8}));
    CHECK(max_abs_diff(y, tg::concat({f, b}, -1)) == 0.0);

    // The other modes over the same two layers.
    auto fwd = std::static_pointer_cast<nn::RNN>(concat.children()[0].second);
    auto bwd = std::static_pointer_cast<nn::RNN>(concat.children()[1].second);
    const std::vector<std::pair<nn::MergeMode, tg::Tensor>> modes{
        {nn::MergeMode::sum, f + b},
        {nn::MergeMode::mul, f * b},
        {nn::MergeMode::ave, (f + b) / 2.0}};
    for (const auto& [mode, expected] : modes) {
      CAPTURE(nn::to_string(mode));
      nn::Bidirectional merged(fwd, bwd, {.merge = mode});
      const tg::Tensor z = merged(x);
      CHECK(z.shape() == f.shape());
      CHECK(max_abs_diff(z, expected) <= 1e-7);
    }
  }
}

TEST_CASE("Bidirectional return_sequences / return_state: shapes, alignment, initial state") {
  tg::manual_seed(3);
  const tg::Tensor x = tg::uniform({3, 6, 2}, -1.0, 1.0);
  nn::Bidirectional bi(std::make_shared<nn::LSTM>(2, 4, kSequencesAndState));
  const nn::BidirectionalOutput out = bi.run(x);
  CHECK(out.output.shape() == tg::Shape{3, 6, 8});
  REQUIRE(out.forward_state.size() == 2);  // {h, c}
  REQUIRE(out.backward_state.size() == 2);
  CHECK(out.forward_state[1].shape() == tg::Shape{3, 4});
  // Step t of both directions lines up: the forward h_T is at the last step, the backward
  // one (which read the sequence from the end) at step 0, as in torch.
  CHECK(max_abs_diff(tg::slice(tg::select(out.output, 1, 5), 1, 0, 4), out.forward_state[0]) ==
        0.0);
  CHECK(max_abs_diff(tg::slice(tg::select(out.output, 1, 0), 1, 4, 8), out.backward_state[0]) ==
        0.0);
  const nn::State kept = bi.last_state();
  REQUIRE(kept.size() == 4);  // h_f, c_f, h_b, c_b (Keras's order)
  CHECK(max_abs_diff(kept[2], out.backward_state[0]) == 0.0);

  // An initial state lists the forward layer's tensors, then the backward layer's.
  const nn::State initial{tg::uniform({3, 4}, -1, 1), tg::uniform({3, 4}, -1, 1),
                          tg::uniform({3, 4}, -1, 1), tg::uniform({3, 4}, -1, 1)};
  const nn::BidirectionalOutput started = bi.run(x, initial);
  const tg::Tensor f = bi.forward_layer().run(x, {initial[0], initial[1]}).output;
  const tg::Tensor b = bi.backward_layer().run(x, {initial[2], initial[3]}).output;
  CHECK(max_abs_diff(started.output, tg::concat({f, reversed_steps(b)}, -1)) == 0.0);
  CHECK(max_abs_diff(started.output, out.output) > 0.0);
  CHECK_THROWS_WITH_AS((void)bi.run(x, {initial[0], initial[1]}),
                       "Bidirectional: the initial state has 2 tensors, expected 2 (forward layer) "
                       "+ 2 (backward layer)",
                       tg::ShapeError);

  // Without return_state nothing is kept; without return_sequences the output is (B, 2u).
  nn::Bidirectional last(std::make_shared<nn::SimpleRNN>(2, 4));
  CHECK(last(x).shape() == tg::Shape{3, 8});
  CHECK(last.last_state().empty());
}

TEST_CASE("Bidirectional gradients (inputs and every parameter of both layers), f64") {
  tg::manual_seed(4);
  for (const std::string kind : {"RNN", "LSTM", "GRU"}) {
    for (const nn::MergeMode mode :
         {nn::MergeMode::concat, nn::MergeMode::sum, nn::MergeMode::mul, nn::MergeMode::ave}) {
      CAPTURE(kind);
      CAPTURE(nn::to_string(mode));
      nn::Bidirectional bi(layer_of(kind, 2, 3, {.return_sequences = true}, tg::f64),
                           {.merge = mode});
      check_gradients(bi, uniform_f64({2, 3, 2}), /*first_order_only=*/true);
    }
  }
  // Second order too, and the last-step output.
  nn::Bidirectional bi(layer_of("LSTM", 2, 3, {}, tg::f64));
  check_gradients(bi, uniform_f64({2, 3, 2}));
}

TEST_CASE("Bidirectional save / load_model round trip") {
  tg::manual_seed(5);
  ScratchDir dir("tapegrad-bidi");
  nn::Sequential model{
      nn::Bidirectional(std::make_shared<nn::GRU>(3, 4, nn::RNNOptions{.return_sequences = true}),
                        {.merge = nn::MergeMode::sum}),
      nn::Bidirectional(std::make_shared<nn::LSTM>(4, 2)), nn::Dense(4, 1)};
  const tg::Tensor x = tg::uniform({2, 5, 3}, -1.0, 1.0);
  nn::save(model, dir / "m.safetensors");
  CHECK(nn::read_model_info(dir / "m.safetensors").summary ==
        "Bidirectional(GRU(4)) -> Bidirectional(LSTM(2)) -> Dense(1)");
  const std::shared_ptr<nn::Module> loaded = nn::load_model(dir / "m.safetensors");
  CHECK(max_abs_diff((*loaded)(x), model(x)) == 0.0);
  const auto& first = dynamic_cast<const nn::Bidirectional&>(
      (*std::static_pointer_cast<nn::Sequential>(loaded))[0]);
  CHECK(first.options().merge == nn::MergeMode::sum);
  CHECK(first.backward_layer().options().go_backwards);
  CHECK(first.forward_layer().options().return_sequences);
}

TEST_CASE("load_model refuses a Bidirectional config that makes no pair") {
  tg::manual_seed(8);
  ScratchDir dir("tapegrad-bidi");
  nn::Bidirectional bi(std::make_shared<nn::SimpleRNN>(2, 3));
  nn::save(bi, dir / "m.safetensors");
  std::map<std::string, std::string> metadata;
  const auto tensors = tg::load_safetensors(dir / "m.safetensors", &metadata);
  const nlohmann::json doc = nlohmann::json::parse(metadata.at(nn::kModelConfigKey));
  const auto load_edited = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json edited = doc;
    edit(edited["model"]);
    metadata[nn::kModelConfigKey] = edited.dump();
    tg::save_safetensors(dir / "bad.safetensors", tensors, metadata);
    return nn::load_model(dir / "bad.safetensors");
  };
  CHECK_THROWS_WITH_AS(load_edited([](nlohmann::json& m) { m["config"]["merge"] = "max"; }),
                       doctest::Contains("the model (Bidirectional) config 'merge' must be one of "
                                         "concat, sum, mul, ave, got 'max'"),
                       tg::IOError);
  CHECK_THROWS_WITH_AS(
      load_edited([](nlohmann::json& m) { m["children"][1]["config"]["go_backwards"] = false; }),
      doctest::Contains("the model (Bidirectional) holds two layers that make no pair "
                        "(Bidirectional: both layers have go_backwards=false"),
      tg::IOError);
  CHECK_THROWS_WITH_AS(load_edited([](nlohmann::json& m) { m["children"].erase(1); }),
                       doctest::Contains("must have two children, 'forward_layer' and "
                                         "'backward_layer'"),
                       tg::IOError);
}

TEST_CASE("Bidirectional errors name the layers and the way out") {
  auto custom = std::make_shared<nn::RNN>(std::make_shared<ScaledTanhCell>(2, 3));
  CHECK_THROWS_WITH_AS(nn::Bidirectional{custom},
                       doctest::Contains("Bidirectional: cannot build the backward layer as a copy "
                                         "of RNN (clone_model: module 'cell' (ScaledTanhCell) has "
                                         "no config"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(
      nn::Bidirectional{custom},
      doctest::Contains("pass it yourself: Bidirectional(forward, backward, opts)"),
      tg::ValueError);
  // ... which works: Keras's backward_layer.
  auto custom_back = std::make_shared<nn::RNN>(std::make_shared<ScaledTanhCell>(2, 3),
                                               nn::RNNOptions{.go_backwards = true});
  nn::Bidirectional by_hand(custom, custom_back);
  CHECK(by_hand(tg::uniform({2, 4, 2}, -1, 1)).shape() == tg::Shape{2, 6});

  auto lstm = std::make_shared<nn::LSTM>(2, 3);
  CHECK_THROWS_WITH_AS(nn::Bidirectional(lstm, std::make_shared<nn::LSTM>(2, 3)),
                       "Bidirectional: both layers have go_backwards=false; the backward layer "
                       "must read the sequence the other way (set its go_backwards to true)",
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(
      nn::Bidirectional(lstm,
                        std::make_shared<nn::LSTM>(
                            2, 3, nn::RNNOptions{.return_sequences = true, .go_backwards = true})),
      "Bidirectional: the forward layer (LSTM) has return_sequences=false, return_state=false, "
      "the backward layer (LSTM) return_sequences=true, return_state=false; they must agree",
      tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::Bidirectional(lstm, lstm), doctest::Contains("the same object"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::Bidirectional(nullptr), "Bidirectional: the forward layer is null",
                       tg::ValueError);
  auto narrow = std::make_shared<nn::LSTM>(2, 5, nn::RNNOptions{.go_backwards = true});
  CHECK_THROWS_WITH_AS(nn::Bidirectional(lstm, narrow, {.merge = nn::MergeMode::ave}),
                       "Bidirectional: merge ave needs layers of equal units, got 3 (forward) and "
                       "5 (backward); use merge concat or equal units",
                       tg::ValueError);
  // concat takes them, but no torch layer holds two sizes.
  nn::Bidirectional uneven(lstm, narrow);
  ScratchDir dir("tapegrad-bidi");
  CHECK_THROWS_WITH_AS(nn::export_torch(uneven, dir / "t.safetensors"),
                       doctest::Contains("export_torch: the two layers of the top module "
                                         "(LSTMCell, 3 units and LSTMCell, 5 units) differ"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS((void)nn::Bidirectional(lstm)(tg::uniform({2, 4}, 0, 1)),
                       doctest::Contains("expected input (batch, time, features)"), tg::ShapeError);
}

TEST_CASE("clone_model: a fresh module of the same configuration, with overrides") {
  tg::manual_seed(6);
  nn::GRU gru(3, 4, {.return_sequences = true}, tg::f64);
  const std::shared_ptr<nn::Module> copy = nn::clone_model(gru, {{"stateful", true}});
  CHECK(copy->type_name() == "GRU");
  const auto& rnn = dynamic_cast<const nn::RNN&>(*copy);
  CHECK(rnn.options().stateful);
  CHECK(rnn.options().return_sequences);
  CHECK(copy->dtype() == tg::f64);
  CHECK(max_abs_diff(copy->parameters()[0], gru.parameters()[0]) > 0.0);
  CHECK_THROWS_WITH_AS((void)nn::clone_model(gru, {{"go_forwards", true}}),
                       "clone_model: GRU has no config entry 'go_forwards' to override",
                       tg::ValueError);
  CHECK_THROWS_WITH_AS((void)nn::clone_model(gru, {{"stateful", int64_t{1}}}),
                       doctest::Contains("config 'stateful' must be true or false"),
                       tg::ValueError);
}

TEST_CASE("export_torch: torch's plain tensors are the direction that reads in order") {
  tg::manual_seed(7);
  // Keras allows the pair the other way round: a forward_layer that reads backwards.
  auto reads_back = std::make_shared<nn::GRU>(2, 3, nn::RNNOptions{.go_backwards = true});
  auto reads_ahead = std::make_shared<nn::GRU>(2, 3);
  nn::Bidirectional bi(reads_back, reads_ahead);
  ScratchDir dir("tapegrad-bidi");
  nn::export_torch(bi, dir / "t.safetensors");
  const auto torch = tg::load_safetensors(dir / "t.safetensors");
  const auto& ahead = static_cast<const nn::GatedCell&>(reads_ahead->cell());
  const auto& back = static_cast<const nn::GatedCell&>(reads_back->cell());
  // GRU's first two gate blocks swap places in torch's order; the third (h -> n) stays.
  const auto third_block = [](const tg::Tensor& kernel) { return tg::slice(kernel, 1, 6, 9); };
  CHECK(max_abs_diff(tg::slice(torch.at("weight_ih_l0"), 0, 6, 9),
                     tg::transpose(third_block(ahead.kernel), 0, 1)) == 0.0);
  CHECK(max_abs_diff(tg::slice(torch.at("weight_ih_l0_reverse"), 0, 6, 9),
                     tg::transpose(third_block(back.kernel), 0, 1)) == 0.0);
  nn::Bidirectional same_way(std::make_shared<nn::GRU>(2, 3),
                             std::make_shared<nn::GRU>(2, 3, nn::RNNOptions{.go_backwards = true}));
  nn::import_torch(same_way, dir / "t.safetensors");
  const tg::Tensor x = tg::uniform({2, 4, 2}, -1.0, 1.0);
  // Imported into the usual pair, it computes the same (the directions were matched by what
  // they read, not by their names).
  CHECK(max_abs_diff(tg::slice(same_way(x), 1, 0, 3), tg::slice(bi(x), 1, 3, 6)) <= 1e-7);
}
