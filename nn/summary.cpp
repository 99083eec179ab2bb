// The summary table: two dummy batches through the model with every layer call observed,
// the shapes the two runs agree on shown as numbers and the others as None; see summary.hpp.
#include <tapegrad/nn/summary.hpp>

#include <algorithm>
#include <array>
#include <iostream>
#include <map>
#include <optional>
#include <utility>

#include <fmt/ranges.h>

#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/core/error.hpp>
#include <tapegrad/nn/model_config.hpp>
#include <tapegrad/nn/rnn.hpp>

namespace tapegrad::nn {
namespace {

// Everything a dummy batch could change in the model's tree, taken when made (the model is
// then put in eval mode, its stateful layers reset) and put back when destroyed.
class KeepAsItWas {
 public:
  explicit KeepAsItWas(Module& model) {
    // Parents before children (explicit stack, as Module::named_parameters walks), so that
    // restoring in this order lets each child's own mode override its parent's train(on).
    std::vector<Module*> todo{&model};
    while (!todo.empty()) {
      Module* m = todo.back();
      todo.pop_back();
      modes_.emplace_back(m, m->is_training());
      if (auto* rnn = dynamic_cast<RNN*>(m)) {
        layers_.emplace_back(rnn, rnn->leftovers());
        rnn->reset_states();  // a carried state is for the batch size it was made with
      }
      const auto& children = m->children();
      for (auto it = children.rbegin(); it != children.rend(); ++it)
        todo.push_back(it->second.get());
    }
    model.eval();  // no dropout: nothing drawn from the random generator
  }
  ~KeepAsItWas() {
    for (const auto& [m, training] : modes_) m->train(training);
    for (auto& [rnn, kept] : layers_) rnn->restore(std::move(kept));
  }
  KeepAsItWas(const KeepAsItWas&) = delete;
  KeepAsItWas& operator=(const KeepAsItWas&) = delete;

 private:
  std::vector<std::pair<Module*, bool>> modes_;
  std::vector<std::pair<RNN*, RNN::Leftovers>> layers_;
};

// ---- Output shapes ----

using Calls = std::vector<std::pair<const Module*, Shape>>;

// Every module call one batch of zeros of `input`'s shape makes, with its output's shape;
// the model is left as it was.
Calls observed_calls(Module& model, const Shape& input) {
  KeepAsItWas kept(model);
  NoGradGuard no_grad;
  Calls calls;
  detail::CallObserver observer(
      [&calls](const Module& m, const Tensor& out) { calls.emplace_back(&m, out.shape()); });
  model(zeros(input, model.dtype()));
  return calls;
}

// None where the two runs differ, as Python prints a tuple: "(None, 10, 64)", "(None,)".
std::string shown_shape(const Shape& a, const Shape& b) {
  if (a.size() != b.size()) return "multiple";
  std::vector<std::string> dims;
  for (int64_t i = 0; i < a.size(); ++i) {
    dims.push_back(a[i] == b[i] ? std::to_string(a[i]) : "None");
  }
  return dims.size() == 1 ? fmt::format("({},)", dims[0])
                          : fmt::format("({})", fmt::join(dims, ", "));
}

std::vector<Shape> shapes_of(const Module* layer, const Calls& calls) {
  std::vector<Shape> out;
  for (const auto& [m, shape] : calls) {
    if (m == layer) out.push_back(shape);
  }
  return out;
}

// The layer's output shape over both runs: "?" when it was not called, "multiple" when its
// calls gave different shapes.
std::string output_shape(const Module* layer, const Calls& first, const Calls& second) {
  const std::vector<Shape> a = shapes_of(layer, first), b = shapes_of(layer, second);
  if (a.empty() || a.size() != b.size()) return "?";
  const std::string shown = shown_shape(a[0], b[0]);
  for (std::size_t i = 1; i < a.size(); ++i) {
    if (shown_shape(a[i], b[i]) != shown) return "multiple";
  }
  return shown;
}

// ---- The input ----

// The input's dimensions after the batch, nullopt for time steps left to vary.
std::vector<std::optional<int64_t>> input_dims(const Module& model,
                                               const std::vector<int64_t>& input_shape) {
  if (input_shape.empty()) {
    const int64_t features = input_features(model);
    if (features == 0) {
      throw_error<ValueError>(
          "summary: no layer of {} tells its input features; give the input shape without the "
          "batch dimension, e.g. model.summary({{time_steps, features}})",
          summary_line(model));
    }
    return {std::nullopt, features};
  }
  std::vector<std::optional<int64_t>> dims;
  for (const int64_t d : input_shape) {
    if (d < 1) {
      throw_error<ValueError>(
          "summary: the input shape [{}] (without the batch dimension) must hold positive sizes",
          fmt::join(input_shape, ", "));
    }
    dims.emplace_back(d);
  }
  return dims;
}

// A dummy input of batch `size`, with `size` time steps where they were left to vary.
Shape dummy_input(const std::vector<std::optional<int64_t>>& dims, int64_t size) {
  Shape shape{size};
  for (const std::optional<int64_t>& d : dims) shape.push_back(d.value_or(size));
  return shape;
}

// ---- The table ----

struct Row {
  std::string layer, shape, params;
};

struct Count {
  int64_t params = 0, bytes = 0;
};

Count count(const NamedTensors& parameters, std::optional<bool> trainable = std::nullopt) {
  Count c;
  for (const auto& [name, p] : parameters) {
    if (trainable && p.requires_grad() != *trainable) continue;
    c.params += p.numel();
    c.bytes += p.numel() * static_cast<int64_t>(element_size(p.dtype()));
  }
  return c;
}

// 7361 -> "7,361", as Keras writes its totals.
std::string grouped(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Keras's readable_memory_size: "28.75 KB".
std::string readable_size(int64_t bytes) {
  constexpr std::array<const char*, 5> units{"B", "KB", "MB", "GB", "TB"};
  auto size = static_cast<double>(bytes);
  std::size_t unit = 0;
  for (; unit + 1 < units.size() && size >= 1024; ++unit) size /= 1024;
  return fmt::format("{:.2f} {}", size, units[unit]);
}

std::string totals(const NamedTensors& parameters) {
  const auto line = [](const char* what, Count c) {
    return fmt::format("{} params: {} ({})\n", what, grouped(c.params), readable_size(c.bytes));
  };
  return line("Total", count(parameters)) + line("Trainable", count(parameters, true)) +
         line("Non-trainable", count(parameters, false));
}

// Keras's columns (29, 26 and 10 wide in its 65), widened for longer entries; the totals
// below the rows.
std::string table(const std::vector<Row>& rows, const std::string& totals) {
  const Row header{"Layer (type)", "Output Shape", "Param #"};
  std::size_t layer_width = 29, shape_width = 26, params_width = 10;
  for (const Row& r : rows) {
    layer_width = std::max(layer_width, r.layer.size() + 1);
    shape_width = std::max(shape_width, r.shape.size() + 1);
    params_width = std::max(params_width, r.params.size() + 1);
  }
  const std::size_t width = layer_width + shape_width + params_width;
  const auto line = [&](const Row& r) {
    return fmt::format("{:<{}}{:<{}}{}\n", r.layer, layer_width, r.shape, shape_width, r.params);
  };
  const std::string thin(width, '_'), thick(width, '=');
  std::string out = thin + "\n" + line(header) + thick + "\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += line(rows[i]);
    out += (i + 1 < rows.size() ? thin : thick) + "\n";
  }
  return out + totals + thin + "\n";
}

}  // namespace

std::string summary(Module& model, const std::vector<int64_t>& input_shape) {
  const std::vector<std::optional<int64_t>> dims = input_dims(model, input_shape);
  const Calls first = observed_calls(model, dummy_input(dims, 2));
  const Calls second = observed_calls(model, dummy_input(dims, 3));
  std::vector<std::pair<std::string, const Module*>> layers;
  for (const auto& [name, child] : model.children()) {
    layers.emplace_back(fmt::format("{} ({})", name, child->type_name()), child.get());
  }
  if (layers.empty()) layers.emplace_back(model.type_name(), &model);
  std::vector<Row> rows;
  for (const auto& [name, layer] : layers) {
    rows.push_back({name, output_shape(layer, first, second),
                    std::to_string(count(layer->named_parameters()).params)});
  }
  const std::vector<Shape> input = {dummy_input(dims, 2), dummy_input(dims, 3)};
  return fmt::format("Model: {}\nInput: {}\n", summary_line(model),
                     shown_shape(input[0], input[1])) +
         table(rows, totals(model.named_parameters()));
}

std::string to_string(const Module& module) {
  return summary_line(module);
}

std::ostream& operator<<(std::ostream& os, const Module& module) {
  return os << to_string(module);
}

void Module::summary(const std::vector<int64_t>& input_shape) {
  summary(std::cout, input_shape);
}

void Module::summary(std::ostream& os, const std::vector<int64_t>& input_shape) {
  os << nn::summary(*this, input_shape);
}

}  // namespace tapegrad::nn
