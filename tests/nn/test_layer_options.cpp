// The cell options on the layers: SimpleRNN, LSTM and GRU take their cell's options
// (dropout, recurrent_dropout, activation, unit_forget_bias, dtype) as their last argument,
// as Keras's layers do, next to the (in, units, RNNOptions, DType) form outside code uses. The
// layer is then the RNN over the cell built with those options, bit for bit, and load_model,
// clone_model and Bidirectional keep the options.
#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include <nn/nn_test_util.hpp>
#include <test_util.hpp>

using namespace tg_test;
namespace nn = tapegrad::nn;

namespace {

const nn::GatedCell& cell_of(const nn::RNN& layer) {
  return dynamic_cast<const nn::GatedCell&>(layer.cell());
}

void check_rates(const nn::RNN& layer, double dropout, double recurrent_dropout) {
  CHECK(cell_of(layer).dropout() == dropout);
  CHECK(cell_of(layer).recurrent_dropout() == recurrent_dropout);
}

// A layer kind: the layer with cell options, and the same cell under the generic RNN.
struct LayerKind {
  std::string name;
  std::function<std::shared_ptr<nn::RNN>(double dropout, double recurrent)> layer;
  std::function<std::shared_ptr<nn::RNN>(double dropout, double recurrent)> rnn_over_cell;
};

constexpr int64_t kIn = 3, kUnits = 5;

std::vector<LayerKind> layer_kinds() {
  const nn::RNNOptions seq{.return_sequences = true};
  return {
      {"SimpleRNN",
       [=](double d, double r) {
         return std::make_shared<nn::SimpleRNN>(
             kIn, kUnits, seq, nn::SimpleRNNCellOptions{.dropout = d, .recurrent_dropout = r});
       },
       [=](double d, double r) {
         return std::make_shared<nn::RNN>(
             std::make_shared<nn::SimpleRNNCell>(
                 kIn, kUnits, nn::SimpleRNNCellOptions{.dropout = d, .recurrent_dropout = r}),
             seq);
       }},
      {"LSTM",
       [=](double d, double r) {
         return std::make_shared<nn::LSTM>(
             kIn, kUnits, seq, nn::LSTMCellOptions{.dropout = d, .recurrent_dropout = r});
       },
       [=](double d, double r) {
         return std::make_shared<nn::RNN>(
             std::make_shared<nn::LSTMCell>(
                 kIn, kUnits, nn::LSTMCellOptions{.dropout = d, .recurrent_dropout = r}),
             seq);
       }},
      {"GRU",
       [=](double d, double r) {
         return std::make_shared<nn::GRU>(kIn, kUnits, seq,
                                          nn::GRUCellOptions{.dropout = d, .recurrent_dropout = r});
       },
       [=](double d, double r) {
         return std::make_shared<nn::RNN>(
             std::make_shared<nn::GRUCell>(
                 kIn, kUnits, nn::GRUCellOptions{.dropout = d, .recurrent_dropout = r}),
             seq);
       }},
  };
}

// The layer's output on x with the dropout masks drawn from `seed`.
tg::Tensor output_from_seed(nn::Module& layer, const tg::Tensor& x, uint64_t seed) {
  tg::manual_seed(seed);
  return layer(x);
}

}  // namespace

TEST_CASE("the layers' constructors: RNN options and cell options or a dtype (overloads)") {
  // The forms outside code uses, unchanged.
  nn::SimpleRNN a(1, 64, {.return_sequences = true});
  CHECK(a.options().return_sequences);
  CHECK(a.dtype() == tg::f32);
  nn::SimpleRNN b(1, 64, {}, tg::f64);
  CHECK(b.dtype() == tg::f64);
  CHECK_FALSE(b.options().return_sequences);
  check_rates(b, 0, 0);

  // Designated initializers pick the overload: cell options, or the dtype.
  nn::LSTM c(8, 16, {.return_sequences = true}, {.dropout = 0.2});
  CHECK(c.options().return_sequences);
  CHECK(c.dtype() == tg::f32);
  check_rates(c, 0.2, 0);
  nn::LSTM d(8, 16, {}, tg::f64);
  CHECK(d.dtype() == tg::f64);
  check_rates(d, 0, 0);
  nn::GRU e(8, 16, {.go_backwards = true}, {.dtype = tg::f64, .recurrent_dropout = 0.3});
  CHECK(e.options().go_backwards);
  CHECK(e.dtype() == tg::f64);
  check_rates(e, 0, 0.3);
  nn::LSTM f(8, 16);
  CHECK(f.dtype() == tg::f32);
  check_rates(f, 0, 0);

  // The options that are not rates reach the cell too.
  nn::SimpleRNN relu(2, 4, {}, {.activation = nn::Activation::relu});
  CHECK(dynamic_cast<const nn::SimpleRNNCell&>(relu.cell()).activation() == nn::Activation::relu);
  nn::LSTM no_forget_bias(2, 4, {}, {.unit_forget_bias = false});
  CHECK(tg::kernel::max(tg::abs(cell_of(no_forget_bias).bias), {}, false).item() == 0);
  nn::LSTM forget_bias(2, 4, {}, {.dropout = 0.1});
  CHECK(tg::kernel::max(tg::abs(cell_of(forget_bias).bias), {}, false).item() == 1);

  static_assert(std::is_constructible_v<nn::GRU, int, int, nn::RNNOptions, tg::DType>);
  static_assert(std::is_constructible_v<nn::GRU, int, int, nn::RNNOptions, nn::GRUCellOptions>);
  static_assert(!std::is_constructible_v<nn::GRU, int, int, nn::RNNOptions, nn::LSTMCellOptions>);
}

TEST_CASE("a bad rate or size given to a layer is a ValueError naming the cell or the layer") {
  CHECK_THROWS_WITH_AS(nn::LSTM(3, 4, {}, {.dropout = 1.5}),
                       doctest::Contains("LSTMCell: dropout must be in [0, 1), got 1.5"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::GRU(3, 4, {}, {.recurrent_dropout = -0.5}),
                       doctest::Contains("GRUCell: recurrent_dropout must be in [0, 1), got -0.5"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::SimpleRNN(0, 4, {}, {.dropout = 0.5}),
                       doctest::Contains("SimpleRNN: in_features must be positive, got 0"),
                       tg::ValueError);
}

TEST_CASE("dropout set on a layer: the RNN over the same cell bit for bit, train() only") {
  const tg::Tensor x = [] {
    tg::manual_seed(1);
    return tg::randn({6, 4, kIn});
  }();
  for (const LayerKind& kind : layer_kinds()) {
    CAPTURE(kind.name);
    tg::manual_seed(2);
    const std::shared_ptr<nn::RNN> layer = kind.layer(0.4, 0.3);
    tg::manual_seed(2);
    const std::shared_ptr<nn::RNN> generic = kind.rnn_over_cell(0.4, 0.3);
    tg::manual_seed(2);
    const std::shared_ptr<nn::RNN> plain = kind.layer(0, 0);
    CHECK(layer->type_name() == kind.name);
    check_rates(*layer, 0.4, 0.3);
    const tg::NamedTensors p = layer->named_parameters(), q = generic->named_parameters();
    REQUIRE(p.size() == q.size());
    for (std::size_t i = 0; i < p.size(); ++i) CHECK(max_abs_diff(p[i].second, q[i].second) == 0);

    // train(): the same masks from the same seed, the same numbers as the generic form.
    const tg::Tensor dropped = output_from_seed(*layer, x, 7);
    CHECK(max_abs_diff(output_from_seed(*layer, x, 7), dropped) == 0);
    CHECK(max_abs_diff(output_from_seed(*generic, x, 7), dropped) == 0);
    CHECK(max_abs_diff(output_from_seed(*layer, x, 8), dropped) > 0);  // other seed, other masks
    CHECK(max_abs_diff(output_from_seed(*plain, x, 7), dropped) > 1e-3);

    // eval(): nothing dropped, whatever the seed: the layer without dropout.
    layer->eval();
    plain->eval();
    CHECK(max_abs_diff(output_from_seed(*layer, x, 7), output_from_seed(*plain, x, 9)) == 0);
    CHECK(max_abs_diff(output_from_seed(*layer, x, 8), output_from_seed(*layer, x, 7)) == 0);
  }
}

TEST_CASE("load_model and clone_model keep the cell options of SimpleRNN, LSTM and GRU") {
  tg::manual_seed(3);
  nn::Sequential model{
      nn::SimpleRNN(2, 4, {.return_sequences = true},
                    {.activation = nn::Activation::relu, .dropout = 0.3}),
      nn::LSTM(4, 3, {.return_sequences = true},
               {.unit_forget_bias = false, .dropout = 0.25, .recurrent_dropout = 0.5}),
      nn::GRU(3, 2, {}, {.recurrent_dropout = 0.1}), nn::Dense(2, 1)};
  ScratchDir dir("tapegrad-layer-options");
  const std::string path = dir / "m.safetensors";
  nn::save(model, path);
  const std::shared_ptr<nn::Module> loaded = nn::load_model(path);
  const std::shared_ptr<nn::Module> cloned = nn::clone_model(model);
  const tg::Tensor x = tg::rand({5, 6, 2});
  for (const auto& copy : {loaded, cloned}) {
    CHECK(nn::model_config_json(*copy) == nn::model_config_json(model));
    auto& s = dynamic_cast<nn::Sequential&>(*copy);
    const auto& simple = dynamic_cast<const nn::SimpleRNN&>(*s.children()[0].second);
    const auto& lstm = dynamic_cast<const nn::LSTM&>(*s.children()[1].second);
    const auto& gru = dynamic_cast<const nn::GRU&>(*s.children()[2].second);
    check_rates(simple, 0.3, 0);
    CHECK(dynamic_cast<const nn::SimpleRNNCell&>(simple.cell()).activation() ==
          nn::Activation::relu);
    check_rates(lstm, 0.25, 0.5);
    check_rates(gru, 0, 0.1);
  }
  // The loaded model has the weights too: in train() mode it drops exactly as the original.
  CHECK(max_abs_diff(output_from_seed(*loaded, x, 4), output_from_seed(model, x, 4)) == 0);
  // unit_forget_bias=false is kept: the clone's fresh LSTM bias starts at zero.
  const auto& s = dynamic_cast<nn::Sequential&>(*cloned);
  const auto& lstm = dynamic_cast<const nn::LSTM&>(*s.children()[1].second);
  CHECK(tg::kernel::max(tg::abs(cell_of(lstm).bias), {}, false).item() == 0);
}

TEST_CASE("Bidirectional's backward copy of a layer keeps its cell options") {
  tg::manual_seed(5);
  auto lstm =
      std::make_shared<nn::LSTM>(3, 4, nn::RNNOptions{.return_sequences = true},
                                 nn::LSTMCellOptions{.dropout = 0.2, .recurrent_dropout = 0.4});
  nn::Bidirectional bi(lstm);
  CHECK(bi.backward_layer().type_name() == "LSTM");
  CHECK(bi.backward_layer().options().go_backwards);
  check_rates(bi.backward_layer(), 0.2, 0.4);

  auto simple = std::make_shared<nn::SimpleRNN>(
      3, 4, nn::RNNOptions{}, nn::SimpleRNNCellOptions{.activation = nn::Activation::sigmoid});
  nn::Bidirectional bi_simple(simple, {.merge = nn::MergeMode::sum});
  CHECK(dynamic_cast<const nn::SimpleRNNCell&>(bi_simple.backward_layer().cell()).activation() ==
        nn::Activation::sigmoid);

  // Saved and loaded, both directions keep them.
  ScratchDir dir("tapegrad-layer-options");
  nn::save(bi, dir / "bi.safetensors");
  const auto loaded =
      std::dynamic_pointer_cast<nn::Bidirectional>(nn::load_model(dir / "bi.safetensors"));
  REQUIRE(loaded);
  check_rates(loaded->forward_layer(), 0.2, 0.4);
  check_rates(loaded->backward_layer(), 0.2, 0.4);
}

TEST_CASE("load_model reads a layer's cell options from its child 'cell', and checks it") {
  ScratchDir dir("tapegrad-layer-options");
  nn::Sequential model{nn::LSTM(2, 3, {}, {.dropout = 0.5}), nn::Dense(3, 1)};
  const std::string path = dir / "m.safetensors", bad = dir / "bad.safetensors";
  nn::save(model, path);
  std::map<std::string, std::string> metadata;
  const auto tensors = tg::load_safetensors(path, &metadata);
  const nlohmann::json doc = nlohmann::json::parse(metadata.at(nn::kModelConfigKey));
  auto rewritten = [&](const std::function<void(nlohmann::json & layer)>& edit) {
    nlohmann::json d = doc;
    edit(d["model"]["children"][0]);
    std::map<std::string, std::string> m = metadata;
    m[nn::kModelConfigKey] = d.dump();
    tg::save_safetensors(bad, tensors, m);
    return bad;
  };

  const auto changed = std::dynamic_pointer_cast<nn::Sequential>(nn::load_model(
      rewritten([](nlohmann::json& l) { l["children"][0]["config"]["dropout"] = 0.125; })));
  check_rates(dynamic_cast<const nn::LSTM&>(*changed->children()[0].second), 0.125, 0);

  CHECK_THROWS_WITH_AS(
      (void)nn::load_model(
          rewritten([](nlohmann::json& l) { l["children"][0]["config"]["dropout"] = 1; })),
      doctest::Contains("module '0.cell' (LSTMCell) config 'dropout' must be a number in [0, 1)"),
      tg::IOError);
  CHECK_THROWS_WITH_AS(
      (void)nn::load_model(
          rewritten([](nlohmann::json& l) { l["children"][0]["class_name"] = "GRUCell"; })),
      doctest::Contains("module '0.cell' (GRUCell) is not the cell of a LSTM layer (LSTMCell)"),
      tg::IOError);
  CHECK_THROWS_WITH_AS(
      (void)nn::load_model(rewritten([](nlohmann::json& l) { l.erase("children"); })),
      doctest::Contains("module '0' (LSTM) must have one child, 'cell'"), tg::IOError);
}
