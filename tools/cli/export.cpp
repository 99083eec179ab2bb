// `tapegrad export`: a weights file in another framework's names and layouts.
//
//   tapegrad export out/model.safetensors --to torch -o m.safetensors
//
// writes the model's tensors as a torch state_dict names and lays them out
// (nn::export_torch), and keeps in the file's metadata what a loader needs beside them: the
// model config (the layers, their sizes and options) and what train recorded about its data
// (data.scaler_min, data.scaler_max, data.window, ...), plus "format": "pt" as torch's own
// safetensors files have. tools/export/load_torch.py builds the torch model from such a file
// and predicts.
#include "command.hpp"

#include <iostream>
#include <map>
#include <memory>
#include <string>

#include <fmt/format.h>

#include <tapegrad/tapegrad.hpp>

#include "common.hpp"

namespace tapegrad::cli {
namespace {

struct ExportConfig {
  std::string file, to, output;
};

// The source's metadata (its config and data entries) for the torch file.
std::map<std::string, std::string> torch_metadata(const nn::ModelFileInfo& info) {
  std::map<std::string, std::string> metadata = info.metadata;
  metadata["format"] = "pt";
  return metadata;
}

int run_export(const ExportConfig& c) {
  const nn::ModelFileInfo info = nn::read_model_info(c.file);
  if (info.is_checkpoint) {
    throw_error<ValueError>(
        "export: '{}' is a checkpoint; export the weights file train writes beside it "
        "(model.safetensors in its --out-dir)",
        c.file);
  }
  if (!info.has_config) {
    throw_error<ValueError>(
        "export: '{}' is not a tapegrad weights file (it holds no model config; tapegrad train "
        "and nn::save write one)",
        c.file);
  }
  const std::shared_ptr<nn::Module> model = nn::load_model(c.file);
  nn::export_torch(*model, c.output, torch_metadata(info));
  std::cout << fmt::format("Model: {}\nWrote {} (PyTorch names and layouts, {} tensors)\n",
                           info.summary, c.output, load_safetensors(c.output).size());
  return 0;
}

}  // namespace

Command add_export_command(CLI::App& app) {
  auto c = std::make_shared<ExportConfig>();
  CLI::App* cmd =
      app.add_subcommand("export", "Write a weights file in PyTorch's names and layouts");
  cmd->add_option("file", c->file, "Weights file written by train (nn::save)")
      ->required()
      ->check(CLI::Validator(CLI::ExistingFile).description(""))
      ->type_name("FILE");
  cmd->add_option("--to", c->to, "Framework to export to")
      ->required()
      ->check(CLI::IsMember({"torch"}).description(""))
      ->type_name("torch");
  add_output_option(*cmd, c->output, "The exported safetensors file", {.required = true});
  cmd->footer(
      "The file holds a torch state_dict (load_state_dict) of nn.RNN/LSTM/GRU layers with\n"
      "batch_first=True and nn.Linear, and in its metadata the model config and train's scaler\n"
      "and window; tools/export/load_torch.py builds the torch model from it and predicts.\n"
      "Errors give one line on stderr and exit code 2.");
  return {cmd, [c] { return run_export(*c); }};
}

}  // namespace tapegrad::cli
