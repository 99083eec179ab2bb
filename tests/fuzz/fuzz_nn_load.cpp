// libFuzzer target: tg::nn::load of arbitrary bytes into the reference model, and
// tg::nn::load_model of the same bytes.
//
// nn::load promises to validate the whole file before it changes anything: when it throws,
// every parameter must still hold its bits from before; when it succeeds, every parameter
// holds exactly the bits of the file's tensor of that name. load_model (which reads the
// model config in the file's metadata, an untrusted JSON text) may only refuse with a
// tg::Error; a model it rebuilds holds exactly the file's tensors.
#include <cstdint>
#include <memory>

#include "fuzz_models.hpp"
#include "fuzz_support.hpp"

namespace tg = tapegrad;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::InputFile file;
  static tg::nn::Sequential model = fuzz::reference_model();
  const std::string& path = file.write(data, size);
  const fuzz::Snapshot before = fuzz::snapshot(model.named_parameters());
  fuzz::run_one([&] {
    try {
      tg::nn::load(model, path);
    } catch (const tg::Error&) {
      fuzz::check_unchanged(before, fuzz::snapshot(model.named_parameters()),
                            "the model's parameters after a failed nn::load");
      throw;
    }
    fuzz::check_unchanged(fuzz::snapshot(tg::load_safetensors(path)),
                          fuzz::snapshot(model.named_parameters()),
                          "the model's parameters after nn::load, against the file");
  });
  fuzz::run_one([&] {
    const std::shared_ptr<tg::nn::Module> rebuilt = tg::nn::load_model(path);
    fuzz::check_unchanged(fuzz::snapshot(tg::load_safetensors(path)),
                          fuzz::snapshot(rebuilt->named_parameters()),
                          "the parameters of the model nn::load_model rebuilt, against the file");
  });
  return 0;
}
