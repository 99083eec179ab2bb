// The registry of built-in modules and option names (nn/registry.hpp): every module it lists
// is rebuilt from its own config, and the messages on a name it does not hold list exactly
// its names, so what is built and what is said to be built cannot drift apart.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;
namespace nn = tapegrad::nn;

using tg_test::message_of;
using tg_test::ScratchDir;

namespace {

// One module of each built-in type, by its type name, with options away from the defaults
// so that a round trip that dropped one would show.
std::map<std::string, std::shared_ptr<nn::Module>> samples() {
  using std::make_shared;
  return {
      {"Sequential", make_shared<nn::Sequential>(nn::Dense(3, 2), nn::Dropout(0.25))},
      {"Dense", make_shared<nn::Dense>(
                    3, 2,
                    nn::DenseOptions{
                        .activation = nn::Activation::relu, .use_bias = false, .dtype = tg::f64})},
      {"RNN", make_shared<nn::RNN>(
                  make_shared<nn::LSTMCell>(3, 4, nn::LSTMCellOptions{.unit_forget_bias = false}),
                  nn::RNNOptions{.return_sequences = true, .checkpoint_every = 2})},
      {"SimpleRNN",
       make_shared<nn::SimpleRNN>(
           3, 4, nn::RNNOptions{.go_backwards = true, .tbptt = 3},
           nn::SimpleRNNCellOptions{.activation = nn::Activation::relu, .dropout = 0.1})},
      {"LSTM",
       make_shared<nn::LSTM>(3, 4, nn::RNNOptions{.return_state = true},
                             nn::LSTMCellOptions{.dtype = tg::f64, .recurrent_dropout = 0.2})},
      {"GRU",
       make_shared<nn::GRU>(3, 4, nn::RNNOptions{.stateful = true, .zero_output_for_mask = true},
                            nn::GRUCellOptions{.dropout = 0.3})},
      {"SimpleRNNCell", make_shared<nn::SimpleRNNCell>(
                            3, 4, nn::SimpleRNNCellOptions{.activation = nn::Activation::sigmoid})},
      {"LSTMCell", make_shared<nn::LSTMCell>(3, 4, nn::LSTMCellOptions{.unit_forget_bias = false})},
      {"GRUCell", make_shared<nn::GRUCell>(3, 4, nn::GRUCellOptions{.dtype = tg::f64})},
      {"Bidirectional", make_shared<nn::Bidirectional>(
                            make_shared<nn::GRU>(3, 4, nn::RNNOptions{.return_sequences = true}),
                            nn::BidirectionalOptions{.merge = nn::MergeMode::ave})},
      {"Dropout", make_shared<nn::Dropout>(0.5)},
  };
}

// A user's module with a config but of a type no registry row builds.
struct Transformer : nn::Module {
  Transformer() : w(register_parameter("w", tg::ones({1}))) {}
  std::string type_name() const override { return "Transformer"; }
  std::optional<nn::ModuleConfig> config() const override { return nn::ModuleConfig{}; }
  tg::Tensor w;
};

// The list a message gives between `before` and `after`, split at ", ".
std::vector<std::string> listed(const std::string& message, const std::string& before,
                                const std::string& after) {
  const auto begin = message.find(before);
  REQUIRE_MESSAGE(begin != std::string::npos, message);
  const auto first = begin + before.size();
  const auto end = message.find(after, first);
  REQUIRE_MESSAGE(end != std::string::npos, message);
  std::vector<std::string> names;
  std::string rest = message.substr(first, end - first);
  for (auto comma = rest.find(", "); comma != std::string::npos; comma = rest.find(", ")) {
    names.push_back(rest.substr(0, comma));
    rest.erase(0, comma + 2);
  }
  names.push_back(rest);
  return names;
}

template <class E>
std::vector<std::string> table_names(std::span<const nn::NamedValue<E>> table) {
  std::vector<std::string> names;
  for (const auto& entry : table) names.emplace_back(entry.name);
  return names;
}

}  // namespace

TEST_CASE("registry: the built-in modules are listed once each, Dropout among them") {
  const std::vector<std::string> names = nn::built_in_module_names();
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
  CHECK(std::find(names.begin(), names.end(), "Dropout") != names.end());
  // Every registered name has a sample in this test, and nothing else does: a new row in
  // the registry fails here until its round trip is tested below.
  std::vector<std::string> sampled;
  for (const auto& [name, module] : samples()) sampled.push_back(name);
  CHECK(sorted == sampled);
}

TEST_CASE("registry: every built-in module is rebuilt from its config, config unchanged") {
  ScratchDir dir("tapegrad-registry");
  const auto modules = samples();
  for (const std::string& name : nn::built_in_module_names()) {
    CAPTURE(name);
    const nn::Module& module = *modules.at(name);
    CHECK(module.type_name() == name);
    REQUIRE(module.config().has_value());
    // clone_model builds from the configs of the tree (build -> config() -> build) ...
    const std::shared_ptr<nn::Module> copy = nn::clone_model(module);
    CHECK(copy->type_name() == name);
    CHECK(copy->config() == module.config());
    CHECK(nn::model_config_json(*copy) == nn::model_config_json(module));
    // ... and load_model from the config a file holds.
    const std::string path = dir / (name + ".safetensors");
    nn::save(module, path);
    const std::shared_ptr<nn::Module> loaded = nn::load_model(path);
    CHECK(nn::model_config_json(*loaded) == nn::model_config_json(module));
  }
}

TEST_CASE("registry: a module of another type is refused, the message listing the registry") {
  ScratchDir dir("tapegrad-registry");
  const std::vector<std::string> names = nn::built_in_module_names();
  const std::string cloned =
      message_of<tg::ValueError>([] { (void)nn::clone_model(Transformer()); });
  CHECK(listed(cloned, "is not a module clone_model can build (it builds ", "): ") == names);

  const std::string path = dir / "m.safetensors";
  nn::save(nn::Sequential{nn::Dense(2, 1), Transformer()}, path);
  const std::string loaded = message_of<tg::IOError>([&] { (void)nn::load_model(path); });
  CHECK(tg_test::contains(loaded, "module '1' (Transformer)"));
  CHECK(listed(loaded, "is not a module load_model can build (it builds ", "): ") == names);
}

TEST_CASE("registry: every activation and merge mode round-trips by its one name") {
  const auto activations = nn::activations();
  for (std::size_t i = 0; i < activations.size(); ++i) {
    const auto& [name, activation] = activations[i];
    CAPTURE(name);
    CHECK(static_cast<std::size_t>(activation) == i);  // in the enum's order, none missing
    CHECK(nn::to_string(activation) == name);
    CHECK(nn::find_named(activations, name) == activation);
    const nn::Dense dense(2, 3, {.activation = activation});
    CHECK(nn::clone_model(dense)->config() == dense.config());
    const nn::SimpleRNNCell cell(2, 3, {.activation = activation});
    CHECK(nn::clone_model(cell)->config() == cell.config());
  }
  const auto merges = nn::merge_modes();
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const auto& [name, merge] = merges[i];
    CAPTURE(name);
    CHECK(static_cast<std::size_t>(merge) == i);
    CHECK(nn::to_string(merge) == name);
    const nn::Bidirectional layer(std::make_shared<nn::SimpleRNN>(2, 3), {.merge = merge});
    CHECK(nn::clone_model(layer)->config() == layer.config());
  }
  CHECK_FALSE(nn::find_named(activations, "gelu").has_value());
  CHECK(nn::names_of(activations) == "linear, tanh, sigmoid, relu, softmax");
}

TEST_CASE("registry: an unknown activation or merge mode is refused, listing the table") {
  const std::string activation = message_of<tg::ValueError>([] {
    (void)nn::clone_model(nn::Dense(2, 3), {{"activation", std::string("gelu")}});
  });
  CHECK(listed(activation, "config 'activation' must be one of ", ", got 'gelu'") ==
        table_names(nn::activations()));
  const std::string merge = message_of<tg::ValueError>([] {
    (void)nn::clone_model(nn::Bidirectional(std::make_shared<nn::SimpleRNN>(2, 3)),
                          {{"merge", std::string("max")}});
  });
  CHECK(listed(merge, "config 'merge' must be one of ", ", got 'max'") ==
        table_names(nn::merge_modes()));
}
