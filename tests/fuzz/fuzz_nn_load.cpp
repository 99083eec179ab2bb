// libFuzzer target: tg::nn::load of arbitrary bytes into the reference model.
//
// nn::load promises to validate the whole file before it changes anything: when it throws,
// every parameter must still hold its bits from before; when it succeeds, every parameter
// holds exactly the bits of the file's tensor of that name.
#include <cstdint>

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
  return 0;
}
