// libFuzzer target: the model_config JSON text of a weights file, around valid tensors.
//
// The first byte picks one of fuzz::config_models(); the rest is the config text, which the
// harness writes into the metadata of a file holding that model's tensors. (nn_load mutates
// whole files, so most of its inputs die in the safetensors header before the config is
// read.) read_model_info and load_model may only refuse with a tg::Error. A model load_model
// rebuilds holds exactly the file's tensors and must then work: forward in train and eval
// mode, with and without a mask, backward, predict, and clone_model, whose copy has the
// same parameters (names, shapes, dtypes) and runs too.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_models.hpp"
#include "fuzz_support.hpp"

namespace {

namespace tg = tapegrad;
namespace nn = tapegrad::nn;

struct TensorSet {
  std::map<std::string, tg::Tensor> tensors;
  int64_t input_features;
};

std::vector<TensorSet> tensor_sets() {
  std::vector<TensorSet> out;
  for (const fuzz::ConfigModel& m : fuzz::config_models()) {
    const tg::NamedTensors params = m.model->named_parameters();
    out.push_back({{params.begin(), params.end()}, m.input_features});
  }
  return out;
}

// Names, dtypes and shapes of the parameters: what clone_model must keep.
std::vector<std::string> layout_of(const nn::Module& model) {
  std::vector<std::string> out;
  for (const auto& [name, p] : model.named_parameters()) {
    out.push_back(fmt::format("{} {} {}", name, p.dtype(), p.shape()));
  }
  return out;
}

// Forward in both modes with a mask (the second sample two steps short) and without,
// backward through the training pass.
void run_forward_backward(nn::Module& model, const tg::Tensor& x) {
  const tg::Tensor mask =
      tg::from_vector(std::vector<float>{1, 1, 1, 1, 0, 0}, {2, 3}).to(model.dtype());
  model.train();
  tg::sum(model(x, mask)).backward();
  model.eval();
  (void)model(x, mask);
  (void)model(x);
}

void exercise(nn::Module& model, const TensorSet& set) {
  fuzz::check_unchanged(fuzz::snapshot(set.tensors), fuzz::snapshot(model.named_parameters()),
                        "the parameters of the model nn::load_model rebuilt, against the file");
  const tg::Tensor x = tg::rand({2, 3, set.input_features}).to(model.dtype());
  fuzz::run_one([&] { run_forward_backward(model, x); });
  fuzz::run_one([&] { (void)nn::predict(model, x); });
  fuzz::run_one([&] {
    const std::shared_ptr<nn::Module> copy = nn::clone_model(model);
    if (layout_of(*copy) != layout_of(model)) {
      fuzz::finding("clone_model made a model with other parameters than the original's");
    }
    run_forward_backward(*copy, x);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<TensorSet> sets = tensor_sets();
  static const std::string path = fuzz::scratch_path("model_config.safetensors");
  if (size == 0) return 0;
  const TensorSet& set = sets[data[0] % sets.size()];
  const std::string config(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    tg::save_safetensors(path, set.tensors, {{nn::kModelConfigKey, config}});
  } catch (const tg::ValueError&) {
    return 0;  // not UTF-8: a safetensors header cannot hold it
  }
  fuzz::run_one([&] { (void)nn::read_model_info(path); });
  fuzz::run_one([&] {
    const std::shared_ptr<nn::Module> model = nn::load_model(path);
    exercise(*model, set);
  });
  return 0;
}
