// The tables of nn/registry.hpp, and how each built-in module is planned from its config
// node: its entries read and checked (ConfigNode), the parameters it will hold charged and
// declared to the planner, its children planned through it.
#include <tapegrad/nn/registry.hpp>

#include <array>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/nn/cells.hpp>
#include <tapegrad/nn/dropout.hpp>
#include <tapegrad/nn/model_config_detail.hpp>
#include <tapegrad/nn/sequential.hpp>

namespace tapegrad::nn {

namespace {

constexpr std::array<NamedValue<Activation>, 5> kActivations{{{"linear", Activation::linear},
                                                              {"tanh", Activation::tanh},
                                                              {"sigmoid", Activation::sigmoid},
                                                              {"relu", Activation::relu},
                                                              {"softmax", Activation::softmax}}};

constexpr std::array<NamedValue<MergeMode>, 4> kMergeModes{{{"concat", MergeMode::concat},
                                                            {"sum", MergeMode::sum},
                                                            {"mul", MergeMode::mul},
                                                            {"ave", MergeMode::ave}}};

}  // namespace

std::span<const NamedValue<Activation>> activations() {
  return kActivations;
}

std::span<const NamedValue<MergeMode>> merge_modes() {
  return kMergeModes;
}

namespace {

using detail::ConfigNode;
using detail::module_path;
using detail::ModulePlan;
using detail::ModulePlanner;

// What sizes the parameters of each built-in cell: its gates and bias rows; and its type name.
struct CellShape {
  const char* type;
  int gates, bias_rows;
};
constexpr CellShape cell_shape(std::type_identity<SimpleRNNCell>) {
  return {"SimpleRNNCell", 1, 1};
}
constexpr CellShape cell_shape(std::type_identity<LSTMCell>) {
  return {"LSTMCell", 4, 1};
}
constexpr CellShape cell_shape(std::type_identity<GRUCell>) {
  return {"GRUCell", 3, 2};
}

// `options` of a built-in cell completed with what every built-in cell reads: `dtype` (the
// one its parameters are charged and built in) and its dropout rates from `n` (the cell's own
// node, or a layer's child "cell").
template <class Options>
Options with_dtype_and_dropout(Options options, const ConfigNode& n, DType dtype) {
  options.dtype = dtype;
  options.dropout = n.rate("dropout");
  options.recurrent_dropout = n.rate("recurrent_dropout");
  return options;
}

// The options of each built-in cell, read from a node.
SimpleRNNCellOptions cell_options(std::type_identity<SimpleRNNCell>, const ConfigNode& n,
                                  DType dtype) {
  return with_dtype_and_dropout(SimpleRNNCellOptions{.activation = n.activation(Activation::tanh)},
                                n, dtype);
}
LSTMCellOptions cell_options(std::type_identity<LSTMCell>, const ConfigNode& n, DType dtype) {
  return with_dtype_and_dropout(
      LSTMCellOptions{.unit_forget_bias = n.flag("unit_forget_bias", true)}, n, dtype);
}
GRUCellOptions cell_options(std::type_identity<GRUCell>, const ConfigNode& n, DType dtype) {
  return with_dtype_and_dropout(GRUCellOptions{}, n, dtype);
}

// in_features, units and dtype of a cell C from `node` (the cell's or its layer's), and its
// parameters (at `cell`), shaped as GatedCell makes them (nn/cells.cpp; a difference fails
// every round trip through a file, which load checks against the model built).
struct CellArgs {
  int64_t in, units;
  DType dtype;
};

template <class C>
CellArgs cell_args(ModulePlanner& planner, const ConfigNode& node, const ConfigNode& cell) {
  const CellArgs a{node.size("in_features"), node.size("units"), node.dtype()};
  constexpr CellShape shape = cell_shape(std::type_identity<C>());
  constexpr int bias_rows = shape.bias_rows;
  const int64_t columns = shape.gates * a.units;
  planner.charge(node, (static_cast<double>(a.in) + static_cast<double>(a.units) + bias_rows) *
                           static_cast<double>(columns));
  planner.expect(cell, "kernel", a.dtype, {a.in, columns});
  planner.expect(cell, "recurrent_kernel", a.dtype, {a.units, columns});
  planner.expect(cell, "bias", a.dtype,
                 bias_rows == 1 ? Shape{columns} : Shape{bias_rows, columns});
  return a;
}

// The only child of a recurrent layer, "cell".
ConfigNode::Child cell_child(const ConfigNode& node) {
  const auto children = node.children();
  if (children.size() != 1 || children[0].name != "cell") node.fail("must have one child, 'cell'");
  return children[0];
}

ModulePlan plan_sequential(ModulePlanner& planner, const ConfigNode& node, int depth) {
  std::vector<std::function<std::shared_ptr<Module>()>> layers;
  for (const ConfigNode::Child& child : node.children()) {
    // Sequential names its layers by position, whatever names the file gives them.
    const std::string name = std::to_string(layers.size());
    layers.push_back(planner.plan(*child.node, module_path(node.where(), name), depth + 1).make);
  }
  return {ModulePlan::Kind::other, [layers = std::move(layers)]() -> std::shared_ptr<Module> {
            auto model = std::make_shared<Sequential>();
            for (const auto& make : layers) model->push_back(make());
            return model;
          }};
}

ModulePlan plan_rnn(ModulePlanner& planner, const ConfigNode& node, int depth) {
  const ConfigNode::Child child = cell_child(node);
  ModulePlan cell = planner.plan(*child.node, module_path(node.where(), "cell"), depth + 1);
  if (cell.kind != ModulePlan::Kind::cell) node.fail("has a child 'cell' that is not a cell");
  return {ModulePlan::Kind::rnn_layer,
          [make = std::move(cell.make), options = node.rnn_options()]() -> std::shared_ptr<Module> {
            return std::make_shared<RNN>(std::static_pointer_cast<Cell>(make()), options);
          }};
}

ModulePlan plan_bidirectional(ModulePlanner& planner, const ConfigNode& node, int depth) {
  const auto children = node.children();
  if (children.size() != 2 || children[0].name != "forward_layer" ||
      children[1].name != "backward_layer") {
    node.fail("must have two children, 'forward_layer' and 'backward_layer'");
  }
  auto layer = [&](const ConfigNode::Child& child) {
    ModulePlan p = planner.plan(*child.node, module_path(node.where(), child.name), depth + 1);
    if (p.kind != ModulePlan::Kind::rnn_layer) {
      node.fail(fmt::format("has a child '{}' that is not an RNN layer", child.name));
    }
    return std::move(p.make);
  };
  auto forward = layer(children[0]), backward = layer(children[1]);
  return {ModulePlan::Kind::other,
          [forward = std::move(forward), backward = std::move(backward),
           options = BidirectionalOptions{.merge = node.merge_mode()},
           subject = node.subject()]() -> std::shared_ptr<Module> {
            try {
              return std::make_shared<Bidirectional>(std::static_pointer_cast<RNN>(forward()),
                                                     std::static_pointer_cast<RNN>(backward()),
                                                     options);
            } catch (const ValueError& e) {
              detail::fail_at(subject,
                              fmt::format("holds two layers that make no pair ({})", e.what()));
            }
          }};
}

ModulePlan plan_dense(ModulePlanner& planner, const ConfigNode& node, int) {
  const int64_t in = node.size("in_features"), units = node.size("units");
  const DenseOptions options{.activation = node.activation(Activation::linear),
                             .use_bias = node.flag("use_bias", true),
                             .dtype = node.dtype()};
  planner.charge(
      node, (static_cast<double>(in) + (options.use_bias ? 1 : 0)) * static_cast<double>(units));
  planner.expect(node, "kernel", options.dtype, {in, units});
  if (options.use_bias) planner.expect(node, "bias", options.dtype, {units});
  return {ModulePlan::Kind::other, [in, units, options]() -> std::shared_ptr<Module> {
            return std::make_shared<Dense>(in, units, options);
          }};
}

// A built-in layer over a cell C: its sizes and RNN options from its own config, the cell's
// options (dropout, activation, ...) from its child "cell".
template <class Layer, class C>
ModulePlan plan_layer(ModulePlanner& planner, const ConfigNode& node, int) {
  const ConfigNode cell(*cell_child(node).node, module_path(node.where(), "cell"), node.who());
  constexpr const char* cell_type = cell_shape(std::type_identity<C>()).type;
  if (cell.type() != cell_type) {
    cell.fail(fmt::format("is not the cell of a {} layer ({})", node.type(), cell_type));
  }
  const CellArgs a = cell_args<C>(planner, node, cell);
  return {ModulePlan::Kind::rnn_layer,
          [a, options = node.rnn_options(),
           of_cell =
               cell_options(std::type_identity<C>(), cell, a.dtype)]() -> std::shared_ptr<Module> {
            return std::make_shared<Layer>(a.in, a.units, options, of_cell);
          }};
}

template <class C>
ModulePlan plan_cell(ModulePlanner& planner, const ConfigNode& node, int) {
  const CellArgs a = cell_args<C>(planner, node, node);
  return {ModulePlan::Kind::cell,
          [a, options = cell_options(std::type_identity<C>(), node, a.dtype)]()
              -> std::shared_ptr<Module> { return std::make_shared<C>(a.in, a.units, options); }};
}

ModulePlan plan_dropout(ModulePlanner&, const ConfigNode& node, int) {
  return {ModulePlan::Kind::other, [rate = node.rate("rate")]() -> std::shared_ptr<Module> {
            return std::make_shared<Dropout>(rate);
          }};
}

struct BuiltInModule {
  std::string_view type;  // its Module::type_name()
  detail::PlanFromConfig plan;
};

// The one list of the built-in modules: what is built, and what messages say is built.
constexpr std::array<BuiltInModule, 11> kBuiltInModules{{
    {"Sequential", plan_sequential},
    {"Dense", plan_dense},
    {"RNN", plan_rnn},
    {"SimpleRNN", plan_layer<SimpleRNN, SimpleRNNCell>},
    {"LSTM", plan_layer<LSTM, LSTMCell>},
    {"GRU", plan_layer<GRU, GRUCell>},
    {"SimpleRNNCell", plan_cell<SimpleRNNCell>},
    {"LSTMCell", plan_cell<LSTMCell>},
    {"GRUCell", plan_cell<GRUCell>},
    {"Bidirectional", plan_bidirectional},
    {"Dropout", plan_dropout},
}};

}  // namespace

std::vector<std::string> built_in_module_names() {
  std::vector<std::string> names;
  for (const BuiltInModule& m : kBuiltInModules) names.emplace_back(m.type);
  return names;
}

detail::PlanFromConfig detail::find_built_in_module(std::string_view type) {
  for (const BuiltInModule& m : kBuiltInModules) {
    if (m.type == type) return m.plan;
  }
  return nullptr;
}

}  // namespace tapegrad::nn
