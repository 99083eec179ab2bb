// `tapegrad info`: what a model holds.
//
//   tapegrad info out/model.safetensors     any weights file or checkpoint, by itself: the
//                                           model its config describes, each tensor's name,
//                                           shape and dtype, the parameter count, and for a
//                                           checkpoint the epoch and the optimizer; for a
//                                           weights file, model.summary()'s layer table
//   tapegrad info --cell gru --units 64,32 [--weights w.safetensors]
//                                           the model `train` builds from these flags (with
//                                           --weights, those weights loaded into it
//                                           first), and its model.summary() table
#include "command.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/tapegrad.hpp>

#include "common.hpp"

namespace tapegrad::cli {
namespace {

struct InfoConfig {
  std::string file;  // positional: describe this file by itself
  ModelConfig model;
  std::string weights;
};

struct Row {
  std::string name, shape, dtype;
  int64_t count = 0;
};

// name, shape, (dtype,) count columns, aligned.
void print_rows(const std::vector<Row>& rows, bool with_dtype) {
  std::size_t name_width = 4, shape_width = 5;
  for (const Row& r : rows) {
    name_width = std::max(name_width, r.name.size());
    shape_width = std::max(shape_width, r.shape.size());
  }
  const auto line = [&](const std::string& name, const std::string& shape, const std::string& dtype,
                        const std::string& count) {
    std::cout << fmt::format("  {:<{}}  {:<{}}  ", name, name_width, shape, shape_width)
              << (with_dtype ? fmt::format("{:<5}  ", dtype) : "") << fmt::format("{:>9}\n", count);
  };
  line("name", "shape", "dtype", "count");
  for (const Row& r : rows) line(r.name, r.shape, r.dtype, std::to_string(r.count));
}

// The model `train` builds from --cell and --units (the behaviour before FILE existed).
int describe_flags_model(const InfoConfig& c) {
  const auto model = build_model(c.model, 1);
  if (!c.weights.empty()) nn::load(*model, c.weights);
  std::vector<Row> rows;
  int64_t total = 0;
  for (const auto& [name, p] : model->named_parameters()) {
    rows.push_back({name, fmt::format("{}", p.shape()), "", p.numel()});
    total += p.numel();
  }
  std::cout << fmt::format("Sequential: {} x {} ({}) -> Dense(1), input (batch, time, 1)\n",
                           c.model.cell, c.model.units.size(), join_units(c.model.units));
  print_rows(rows, false);
  std::cout << fmt::format("Total: {} parameters", total);
  if (!c.weights.empty()) std::cout << fmt::format(" (loaded from {})", c.weights);
  std::cout << "\n\n" << nn::summary(*model) << std::flush;
  return 0;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// "checkpoint at epoch 5, optimizer adam (lr 0.001, step 20)": the optimizer's name is the
// one `train` records (extra.optimizer); lr and step are the state's own tensors.
std::string checkpoint_line(const std::string& path) {
  const nn::CheckpointInfo info = nn::read_checkpoint_info(path);
  const auto name = info.extra.find("optimizer");
  std::string optimizer = name == info.extra.end() ? "(not recorded)" : name->second;
  const std::map<std::string, Tensor> tensors = load_safetensors(path);
  const auto lr = tensors.find("optimizer.lr"), step = tensors.find("optimizer.step");
  if (lr != tensors.end() && step != tensors.end() && lr->second.numel() == 1 &&
      step->second.numel() == 1) {
    optimizer += fmt::format(" (lr {:g}, step {:.0f})", lr->second.item(), step->second.item());
  }
  return fmt::format("checkpoint at epoch {}, optimizer {}", info.epoch, optimizer);
}

// The entries a weights file holds besides its config (what train records about its data,
// or a user's notes), one per line.
void print_metadata(const std::map<std::string, std::string>& metadata) {
  for (const auto& [key, value] : metadata) {
    if (key != nn::kModelConfigKey) std::cout << fmt::format("Metadata: {} = {}\n", key, value);
  }
}

// The input shape for the layer table: (time steps, features) when train recorded its window
// (data.window, as predict reads it), else none (the table shows the time steps as None).
std::vector<int64_t> recorded_input_shape(const nn::ModelFileInfo& info) {
  const auto window = info.metadata.find("data.window");
  if (window == info.metadata.end() || info.input_features < 1) return {};
  int64_t steps = 0;
  const std::string& text = window->second;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), steps);
  if (error != std::errc() || end != text.data() + text.size() || steps < 1) return {};
  return {steps, info.input_features};
}

// model.summary() of the model a weights file describes, when its config rebuilds it.
void print_layer_table(const std::string& path, const nn::ModelFileInfo& info) {
  std::shared_ptr<nn::Module> model;
  try {
    model = nn::load_model(path);
  } catch (const Error&) {
    std::cout << "\nLayers: not shown (the config does not rebuild the model; nn::load_model "
                 "says why)\n";
    return;
  }
  std::cout << "\n" << nn::summary(*model, recorded_input_shape(info));
}

// Any weights file or checkpoint, read by itself: nothing about the model is assumed.
int describe_file(const std::string& path) {
  const nn::ModelFileInfo info = nn::read_model_info(path);
  const std::string kind = info.is_checkpoint ? checkpoint_line(path) : "weights";
  const std::string writer =
      info.tapegrad_version.empty() ? "" : ", written by tapegrad " + info.tapegrad_version;
  std::cout << fmt::format("File: {} ({}{})\n", path, kind, writer);
  if (info.has_config) {
    const std::string input = info.input_features > 0
                                  ? fmt::format(", input (batch, time, {})", info.input_features)
                                  : "";
    std::cout << fmt::format("Model: {}{}\n", info.summary, input);
  } else {
    std::cout << "Model: not described (the file holds no model config: written by another "
                 "program or an older tapegrad)\n";
  }
  if (!info.is_checkpoint) print_metadata(info.metadata);
  std::vector<Row> rows;
  int64_t parameters = 0, optimizer_values = 0;
  for (const SafetensorsEntry& e : info.tensors) {
    rows.push_back(
        {e.name, fmt::format("{}", e.shape), std::string(dtype_name(e.dtype)), e.shape.numel()});
    const bool optimizer_state = info.is_checkpoint && starts_with(e.name, "optimizer.");
    (optimizer_state ? optimizer_values : parameters) += e.shape.numel();
  }
  print_rows(rows, true);
  std::cout << fmt::format("Total: {} parameters", parameters);
  if (info.is_checkpoint) std::cout << fmt::format(", {} optimizer state values", optimizer_values);
  std::cout << "\n";
  if (info.has_config && !info.is_checkpoint) print_layer_table(path, info);
  std::cout << std::flush;
  return 0;
}

}  // namespace

Command add_info_command(CLI::App& app) {
  auto c = std::make_shared<InfoConfig>();
  CLI::App* info = app.add_subcommand(
      "info", "Describe a weights file or checkpoint, or the model --cell/--units build");
  CLI::Option* file =
      info->add_option("file", c->file, "Weights file or checkpoint to describe by itself")
          ->check(CLI::Validator(CLI::ExistingFile).description(""))
          ->type_name("FILE");
  add_model_flags(*info, c->model);
  CLI::Option* weights =
      info->add_option("--weights", c->weights, "Load (and so validate) these weights first")
          ->type_name("FILE");
  for (CLI::Option* flag : {info->get_option("--cell"), info->get_option("--units"), weights}) {
    file->excludes(flag);
  }
  info->footer(
      "With FILE, everything shown comes from the file: the model from its config (written by\n"
      "nn::save), the tensors from its header. Without FILE, the model train builds from\n"
      "--cell and --units. Errors give one line on stderr and exit code 2.");
  return {info,
          [c] { return c->file.empty() ? describe_flags_model(*c) : describe_file(c->file); }};
}

}  // namespace tapegrad::cli
