#include <tapegrad/nn/torch_interop.hpp>

#include <algorithm>
#include <map>
#include <typeinfo>
#include <utility>
#include <vector>

#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/core/error.hpp>
#include <tapegrad/core/safetensors.hpp>
#include <tapegrad/nn/bidirectional.hpp>
#include <tapegrad/nn/cells.hpp>
#include <tapegrad/nn/dense.hpp>
#include <tapegrad/nn/rnn.hpp>
#include <tapegrad/nn/serialize_detail.hpp>
#include <tapegrad/ops/ops.hpp>

namespace tapegrad::nn {
namespace {

constexpr const char* kSupported =
    "Dense layers (torch.nn.Linear) and RNN layers over SimpleRNNCell, LSTMCell or GRUCell "
    "(torch.nn.RNN, LSTM, GRU)";

// The torch layer a tapegrad layer becomes (torch's own mode names, plus Linear).
enum class TorchKind { linear, rnn_tanh, rnn_relu, lstm, gru };

// A layer of the module tree and where it sits: "0" is the prefix "0." of its tensors. The
// two layers of a Bidirectional at "0" ("0.forward_layer", "0.backward_layer") are one torch
// layer "0" with bidirectional=True, the backward one's tensors named with "_reverse".
struct TorchLayer {
  std::string path;  // "" for the top module
  const Module* module;
  TorchKind kind;
  std::string torch_path = path;  // the torch module holding the tensors
  std::string suffix = "";        // "_reverse" for the backward direction

  std::string prefix() const { return path.empty() ? "" : path + "."; }
  // The full torch name of `name` ("weight_ih_l0" -> "0.weight_ih_l0_reverse").
  std::string torch_name(const std::string& name) const {
    return (torch_path.empty() ? "" : torch_path + ".") + name + suffix;
  }
  std::string describe() const {
    return path.empty() ? fmt::format("the top module ({})", module->type_name())
                        : fmt::format("layer '{}' ({})", path, module->type_name());
  }
};

// The torch.nn.RNN/LSTM/GRU that computes `layer`'s cell with the same weights. The cell's
// exact type is asked for: a subclass of a built-in cell may compute something else.
TorchKind recurrent_kind(const char* who, const TorchLayer& layer, const RNN& rnn) {
  const Cell& cell = rnn.cell();
  if (typeid(cell) == typeid(LSTMCell)) return TorchKind::lstm;
  if (typeid(cell) == typeid(GRUCell)) return TorchKind::gru;
  if (typeid(cell) == typeid(SimpleRNNCell)) {
    const Activation a = static_cast<const SimpleRNNCell&>(cell).activation();
    if (a == Activation::tanh) return TorchKind::rnn_tanh;
    if (a == Activation::relu) return TorchKind::rnn_relu;
    throw_error<ValueError>(
        "{}: {} uses activation {}, but torch.nn.RNN's nonlinearity is 'tanh' or 'relu' only", who,
        layer.describe(), to_string(a));
  }
  throw_error<ValueError>(
      "{}: {} runs a cell of type {} (parameters '{}cell.*'), which no torch.nn recurrent layer "
      "computes; supported are {}",
      who, layer.describe(), cell.type_name(), layer.prefix(), kSupported);
}

// The tapegrad names of the parameters torch's layer holds (relative to the layer).
std::vector<std::string> mapped_parameters(const TorchLayer& layer) {
  if (layer.kind != TorchKind::linear) return {"cell.kernel", "cell.recurrent_kernel", "cell.bias"};
  if (static_cast<const Dense&>(*layer.module).bias.defined()) return {"kernel", "bias"};
  return {"kernel"};
}

// A parameter a subclass registered beside the mapped ones has no place in torch's layer.
void check_only_mapped(const char* who, const TorchLayer& layer) {
  const std::vector<std::string> mapped = mapped_parameters(layer);
  for (const auto& [name, p] : layer.module->named_parameters()) {
    if (std::find(mapped.begin(), mapped.end(), name) == mapped.end()) {
      throw_error<ValueError>(
          "{}: parameter '{}{}' of {} has no place in the torch layer it maps to", who,
          layer.prefix(), name, layer.describe());
    }
  }
}

// A module of no mapped kind may only hold mapped layers, no parameters of its own.
void check_no_own_parameters(const char* who, const Module& m, const std::string& path) {
  for (const auto& [name, p] : m.named_parameters()) {
    if (name.find('.') != std::string::npos) continue;  // a child's
    throw_error<ValueError>(
        "{}: parameter '{}{}' belongs to a module of type {}, which has no "
        "torch.nn counterpart here; supported are {}",
        who, path.empty() ? "" : path + ".", name, m.type_name(), kSupported);
  }
}

// The two directions of a Bidirectional at `path`: one torch layer with bidirectional=True,
// whose plain tensors are the direction that reads the sequence in order.
std::vector<TorchLayer> bidirectional_layers(const char* who, const Bidirectional& bi,
                                             const std::string& path) {
  const bool swapped = bi.forward_layer().options().go_backwards;
  const RNN& ahead = swapped ? bi.backward_layer() : bi.forward_layer();
  const RNN& behind = swapped ? bi.forward_layer() : bi.backward_layer();
  const std::string prefix = path.empty() ? "" : path + ".";
  TorchLayer in_order{prefix + (swapped ? "backward_layer" : "forward_layer"), &ahead,
                      TorchKind::linear, path};
  TorchLayer reverse{prefix + (swapped ? "forward_layer" : "backward_layer"), &behind,
                     TorchKind::linear, path, "_reverse"};
  in_order.kind = recurrent_kind(who, in_order, ahead);
  reverse.kind = recurrent_kind(who, reverse, behind);
  if (in_order.kind != reverse.kind || ahead.cell().units() != behind.cell().units()) {
    throw_error<ValueError>(
        "{}: the two layers of {} ({}, {} units and {}, {} units) differ, but a torch layer with "
        "bidirectional=True runs one kind and size in both directions",
        who, path.empty() ? "the top module" : "layer '" + path + "'", ahead.cell().type_name(),
        ahead.cell().units(), behind.cell().type_name(), behind.cell().units());
  }
  return {in_order, reverse};
}

// The Dense and RNN layers of the tree, in module order, each checked to be expressible.
std::vector<TorchLayer> torch_layers(const char* who, const Module& root) {
  std::vector<TorchLayer> layers;
  // Explicit stack instead of recursion (as Module::named_parameters does).
  std::vector<std::pair<const Module*, std::string>> todo{{&root, ""}};
  while (!todo.empty()) {
    const auto [m, path] = todo.back();
    todo.pop_back();
    if (const auto* bi = dynamic_cast<const Bidirectional*>(m)) {
      for (TorchLayer& direction : bidirectional_layers(who, *bi, path)) {
        check_only_mapped(who, direction);
        layers.push_back(std::move(direction));
      }
      continue;
    }
    TorchLayer layer{path, m, TorchKind::linear};
    if (const auto* rnn = dynamic_cast<const RNN*>(m)) {
      layer.kind = recurrent_kind(who, layer, *rnn);
    } else if (dynamic_cast<const Dense*>(m) == nullptr) {
      check_no_own_parameters(who, *m, path);
      const auto& children = m->children();
      for (auto it = children.rbegin(); it != children.rend(); ++it) {
        todo.emplace_back(it->second.get(), path.empty() ? it->first : path + "." + it->first);
      }
      continue;
    }
    check_only_mapped(who, layer);
    layers.push_back(layer);
  }
  return layers;
}

// Keras's GRU gate blocks [z|r|h] along `axis` are torch's [r|z|n] with the first two
// swapped, so the one swap maps either way. The other cells' gate orders agree.
Tensor torch_gate_order(const Tensor& t, int64_t axis, TorchKind kind) {
  if (kind != TorchKind::gru) return t;
  const int64_t u = t.shape()[axis] / 3;
  return concat({slice(t, axis, u, 2 * u), slice(t, axis, 0, u), slice(t, axis, 2 * u, 3 * u)},
                axis);
}

// kernel (F, k*u) -> torch weight (k*u, F), gate blocks in torch's order; and back.
Tensor torch_weight(const Tensor& kernel, TorchKind kind) {
  return torch_gate_order(transpose(kernel, 0, 1), 0, kind);
}
Tensor tapegrad_kernel(const Tensor& weight, TorchKind kind) {
  return transpose(torch_gate_order(weight, 0, kind), 0, 1);
}

void add_torch_tensors(const TorchLayer& layer, std::map<std::string, Tensor>& out) {
  if (layer.kind == TorchKind::linear) {
    const auto& dense = static_cast<const Dense&>(*layer.module);
    out.emplace(layer.torch_name("weight"), transpose(dense.kernel, 0, 1));
    if (dense.bias.defined()) out.emplace(layer.torch_name("bias"), dense.bias);
    return;
  }
  const auto& cell = static_cast<const GatedCell&>(static_cast<const RNN&>(*layer.module).cell());
  out.emplace(layer.torch_name("weight_ih_l0"), torch_weight(cell.kernel, layer.kind));
  out.emplace(layer.torch_name("weight_hh_l0"), torch_weight(cell.recurrent_kernel, layer.kind));
  if (layer.kind == TorchKind::gru) {
    out.emplace(layer.torch_name("bias_ih_l0"),
                torch_gate_order(select(cell.bias, 0, 0), 0, layer.kind));
    out.emplace(layer.torch_name("bias_hh_l0"),
                torch_gate_order(select(cell.bias, 0, 1), 0, layer.kind));
  } else {
    out.emplace(layer.torch_name("bias_ih_l0"), cell.bias);
    out.emplace(layer.torch_name("bias_hh_l0"), zeros_like(cell.bias));  // Keras has one bias
  }
}

// The new values of `layer`'s parameters (full tapegrad names) from checked torch tensors.
void add_tapegrad_values(const TorchLayer& layer, const std::map<std::string, Tensor>& torch,
                         std::map<std::string, Tensor>& out) {
  const std::string p = layer.prefix();
  if (layer.kind == TorchKind::linear) {
    out.emplace(p + "kernel", transpose(torch.at(layer.torch_name("weight")), 0, 1));
    if (torch.count(layer.torch_name("bias")))
      out.emplace(p + "bias", torch.at(layer.torch_name("bias")));
    return;
  }
  const Tensor& bias_ih = torch.at(layer.torch_name("bias_ih_l0"));
  const Tensor& bias_hh = torch.at(layer.torch_name("bias_hh_l0"));
  out.emplace(p + "cell.kernel",
              tapegrad_kernel(torch.at(layer.torch_name("weight_ih_l0")), layer.kind));
  out.emplace(p + "cell.recurrent_kernel",
              tapegrad_kernel(torch.at(layer.torch_name("weight_hh_l0")), layer.kind));
  out.emplace(p + "cell.bias", layer.kind == TorchKind::gru
                                   ? stack({torch_gate_order(bias_ih, 0, layer.kind),
                                            torch_gate_order(bias_hh, 0, layer.kind)})
                                   : bias_ih + bias_hh);  // torch always adds the two
}

std::map<std::string, Tensor> torch_tensors(const std::vector<TorchLayer>& layers) {
  std::map<std::string, Tensor> out;
  for (const TorchLayer& layer : layers) add_torch_tensors(layer, out);
  return out;
}

}  // namespace

void export_torch(const Module& module, const std::string& path,
                  const std::map<std::string, std::string>& metadata) {
  NoGradGuard no_grad;
  save_safetensors(path, torch_tensors(torch_layers("export_torch", module)), metadata);
}

void import_torch(Module& module, const std::string& path) {
  const char* who = "import_torch";
  NoGradGuard no_grad;
  const std::vector<TorchLayer> layers = torch_layers(who, module);
  // What the file must hold: the model's own tensors in torch's layout (names, shapes, dtypes).
  const std::map<std::string, Tensor> layout = torch_tensors(layers);
  const NamedTensors expected(layout.begin(), layout.end());
  const std::map<std::string, Tensor> torch = detail::read_expected_tensors(who, path, expected);
  std::map<std::string, Tensor> values;
  for (const TorchLayer& layer : layers) add_tapegrad_values(layer, torch, values);
  detail::assign(module.named_parameters(), values);
}

}  // namespace tapegrad::nn
