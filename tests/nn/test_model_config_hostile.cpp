// Hostile model configs, the JSON text a weights file carries for nn::load_model and
// nn::read_model_info: a value nested 200,000 levels deep, megabyte strings, tens of thousands
// of modules, sizes that the file's tensors do not hold. Each is refused with a short
// tg::Error, without deep recursion, without building a document or a model out of
// proportion to the file.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;
namespace nn = tapegrad::nn;

using tg_test::contains;
using tg_test::message_of;
using tg_test::ScratchDir;

namespace {

// A message short enough for one line on a terminal, whatever the file holds.
constexpr std::size_t kShortMessage = 400;

// The tensors of `model` with `config` as the model config, at `path`.
void write_with_config(const std::string& path, const nn::Module& model,
                       const std::string& config) {
  std::map<std::string, tg::Tensor> tensors;
  for (const auto& [name, p] : model.named_parameters()) tensors.emplace(name, p);
  tg::save_safetensors(path, tensors, {{nn::kModelConfigKey, config}});
}

// `text` with its only occurrence of `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(text.find(from, at + 1) == std::string::npos);
  return text.replace(at, from.size(), to);
}

nn::Sequential small_model() {
  tg::manual_seed(3);
  return nn::Sequential{nn::SimpleRNN(1, 4), nn::Dense(4, 1)};
}

// The message load_model throws for the file, which must be a short IOError.
std::string load_model_error(const std::string& path) {
  const std::string message = message_of<tg::IOError>([&] { (void)nn::load_model(path); });
  CHECK(message.size() < kShortMessage);
  return message;
}

}  // namespace

TEST_CASE("a config value nested 200,000 levels deep is refused by its depth, without recursion") {
  ScratchDir dir("tapegrad-hostile");
  const nn::Sequential model = small_model();
  const std::string path = dir / "deep.safetensors";
  constexpr int kDepth = 200000;
  const std::string deep = std::string(kDepth, '[') + std::string(kDepth, ']');
  write_with_config(
      path, model,
      replaced(nn::model_config_json(model), R"("dropout":0.0)", R"("dropout":)" + deep));
  CHECK(contains(load_model_error(path), "is nested deeper than 136 levels"));
  CHECK_THROWS_WITH_AS((void)nn::read_model_info(path),
                       doctest::Contains("is nested deeper than 136 levels"), tg::IOError);
}

TEST_CASE("a config value of the wrong kind is described by its kind, a string quoted and cut") {
  ScratchDir dir("tapegrad-hostile");
  const nn::Sequential model = small_model();
  const std::string path = dir / "bad.safetensors";
  const std::string config = nn::model_config_json(model);

  write_with_config(path, model, replaced(config, R"("dropout":0.0)", R"("dropout":[[0.5]])"));
  CHECK(contains(load_model_error(path),
                 "module '0.cell' (SimpleRNNCell) config 'dropout' must be a number in [0, 1), "
                 "got an array"));
  write_with_config(path, model,
                    replaced(config, R"("go_backwards":false)", R"("go_backwards":{"a":[1,2]})"));
  CHECK(contains(load_model_error(path),
                 "config 'go_backwards' must be true or false, got an "
                 "object"));
  const std::string megabyte(1 << 20, 'x');
  write_with_config(
      path, model,
      replaced(config, R"("activation":"linear")", R"("activation":")" + megabyte + '"'));
  CHECK(contains(load_model_error(path), "got '" + std::string(64, 'x') + "'... (+1048512 bytes)"));
}

TEST_CASE("a config's names are shown cut and escaped, in messages and in the summary") {
  ScratchDir dir("tapegrad-hostile");
  const nn::Sequential model = small_model();
  const std::string path = dir / "names.safetensors";
  const std::string config = nn::model_config_json(model);

  // 50 MB in the issue; one is enough to show that nothing grows with it.
  const std::string long_name(1 << 20, 'A');
  write_with_config(path, model, replaced(config, R"("Dense")", '"' + long_name + '"'));
  CHECK(contains(load_model_error(path), "module '1' ('" + std::string(64, 'A') + "'..."));
  const nn::ModelFileInfo info = nn::read_model_info(path);
  CHECK(info.summary.size() < 200);
  CHECK(contains(info.summary, "SimpleRNN(4) -> '" + std::string(64, 'A') + "'... (+"));

  // An escape sequence in a class name reaches no terminal.
  write_with_config(path, model, replaced(config, R"("Dense")", R"("\u001b[2J")"));
  CHECK(contains(load_model_error(path), R"(module '1' ('\x1b[2J'))"));
  CHECK(nn::read_model_info(path).summary == R"(SimpleRNN(4) -> '\x1b[2J'(1))");
}

TEST_CASE("a config declaring more modules or values than any model has is refused as parsed") {
  ScratchDir dir("tapegrad-hostile");
  const nn::Sequential model = small_model();
  const std::string path = dir / "many.safetensors";

  // The issue's file held 10^6 Dropout children (80 MB): 37 s and 733 MB in `tapegrad info`.
  std::string children;
  for (int i = 0; i <= 10000; ++i) {
    if (i > 0) children += ',';
    children += R"({"name": ")";
    children += std::to_string(i);
    children += R"(", "class_name": "Dropout", "config": {"rate": 0.0}})";
  }
  write_with_config(path, model,
                    R"({"format_version": 1, "model": {"class_name": "Sequential", "config": {},
                         "children": [)" +
                        children + "]}}");
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS((void)nn::read_model_info(path),
                       doctest::Contains("declares more than 10000 modules"), tg::IOError);
  MESSAGE(
      "10,001 modules refused in "
      << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count()
      << " ms");
  CHECK(contains(load_model_error(path), "declares more than 10000 modules"));

  // Values anywhere count, known fields or not.
  std::string zeros = "0";
  for (int i = 0; i < 640000; ++i) zeros += ",0";
  write_with_config(path, model,
                    replaced(nn::model_config_json(model), R"("format_version":1)",
                             R"("format_version":1,"notes":[)" + zeros + "]"));
  CHECK(contains(load_model_error(path), "holds more than 640000 JSON values"));
}

TEST_CASE("load_model checks the file's tensors against the config before it builds anything") {
  ScratchDir dir("tapegrad-hostile");
  const nn::Sequential model = small_model();
  const std::string path = dir / "units.safetensors";
  // The fuzzer's file: units=511 is within what the file could hold with the slack, so the
  // model was built, its 511 x 511 orthogonal kernel initialized (1.4 s, 10 s under ASan),
  // before nn::load found that the tensors do not fit.
  write_with_config(path, model,
                    replaced(nn::model_config_json(model), R"("units":4,"zero_output_for_mask")",
                             R"("units":511,"zero_output_for_mask")"));
  const std::string generator = tg::default_generator().state();
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(
      (void)nn::load_model(path),
      doctest::Contains("tensor '0.cell.kernel' has shape [1,4], the model's parameter "
                        "'0.cell.kernel' has shape [1,511]"),
      tg::ShapeError);
  MESSAGE(
      "refused in "
      << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count()
      << " ms");
  // Every initializer draws from the default generator: untouched, no parameter was made.
  CHECK(tg::default_generator().state() == generator);

  // A missing or an extra tensor, the same.
  std::map<std::string, tg::Tensor> tensors = tg::load_safetensors(dir / "units.safetensors");
  tensors.erase("1.bias");
  tg::save_safetensors(path, tensors, {{nn::kModelConfigKey, nn::model_config_json(model)}});
  CHECK_THROWS_WITH_AS((void)nn::load_model(path), doctest::Contains("has no tensor '1.bias'"),
                       tg::IOError);
  CHECK(tg::default_generator().state() == generator);
}
