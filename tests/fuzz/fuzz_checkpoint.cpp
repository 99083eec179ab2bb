// libFuzzer target: resuming from an arbitrary checkpoint, as `tapegrad train --resume`
// does: read_checkpoint_info, an optimizer of the kind the checkpoint names, then
// tg::nn::load_checkpoint into the model and that optimizer.
//
// load_checkpoint promises to validate everything before it changes anything: when it
// throws, the parameters, the optimizer's state and the default generator are exactly as
// before. When it succeeds, parameters and optimizer hold what the file holds. Model and optimizer
// are rebuilt (and trained one step, so the optimizer has state to lose) for every input, so a
// finding never depends on the inputs before it.
#include <cstdint>

#include "fuzz_models.hpp"
#include "fuzz_support.hpp"

namespace {

namespace tg = tapegrad;

// The optimizer state that load_checkpoint may only change when it succeeds.
fuzz::Snapshot optimizer_snapshot(const tg::optim::Optimizer& opt) {
  return fuzz::snapshot(opt.state_dict());
}

// The tensors of a checkpoint whose names start with `prefix`, without it
// ("model.0.cell.kernel" -> "0.cell.kernel").
std::map<std::string, tg::Tensor> part(const std::string& path, const std::string& prefix) {
  std::map<std::string, tg::Tensor> out;
  for (const auto& [name, t] : tg::load_safetensors(path)) {
    if (name.starts_with(prefix)) out.emplace(name.substr(prefix.size()), t);
  }
  return out;
}

// After a successful load the optimizer holds the file's state: the same slot bits, and the
// same step and lr (as numbers: the file may store them in f32 or as a [1] tensor).
void check_optimizer_holds(const std::map<std::string, tg::Tensor>& file,
                           const tg::optim::Optimizer& opt) {
  tg::optim::StateDict state = opt.state_dict();
  for (const char* scalar : {"step", "lr"}) {
    if (state.at(scalar).item() != file.at(scalar).item()) {
      fuzz::finding(std::string("load_checkpoint accepted optimizer.") + scalar + " = " +
                    std::to_string(file.at(scalar).item()) + " but the optimizer holds " +
                    std::to_string(state.at(scalar).item()));
    }
    state.erase(scalar);
  }
  std::map<std::string, tg::Tensor> slots = file;
  slots.erase("step");
  slots.erase("lr");
  fuzz::check_unchanged(fuzz::snapshot(slots), fuzz::snapshot(state),
                        "the optimizer's slots after load_checkpoint, against the file");
}

void resume(const std::string& path) {
  const tg::nn::CheckpointInfo info = tg::nn::read_checkpoint_info(path);
  const auto kind = info.extra.find("optimizer");
  tg::nn::Sequential model = fuzz::checkpoint_model();
  const auto opt = fuzz::make_optimizer(kind == info.extra.end() ? "adam" : kind->second, model);
  fuzz::train_one_step(model, *opt);

  const fuzz::Snapshot params = fuzz::snapshot(model.named_parameters());
  const fuzz::Snapshot state = optimizer_snapshot(*opt);
  const std::string rng = tg::default_generator().state();
  try {
    tg::nn::load_checkpoint(path, model, *opt);
  } catch (const tg::Error&) {
    fuzz::check_unchanged(params, fuzz::snapshot(model.named_parameters()),
                          "the model's parameters after a failed load_checkpoint");
    fuzz::check_unchanged(state, optimizer_snapshot(*opt),
                          "the optimizer state after a failed load_checkpoint");
    if (tg::default_generator().state() != rng) {
      fuzz::finding("a failed load_checkpoint changed the default generator");
    }
    throw;
  }
  fuzz::check_unchanged(fuzz::snapshot(part(path, "model.")),
                        fuzz::snapshot(model.named_parameters()),
                        "the model's parameters after load_checkpoint, against the file");
  check_optimizer_holds(part(path, "optimizer."), *opt);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::InputFile file;
  const std::string& path = file.write(data, size);
  fuzz::run_one([&] { resume(path); });
  return 0;
}
