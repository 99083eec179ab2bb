// Both directions of the model config side by side: what each built-in module writes
// (its config()) and how load_model builds it back from that.
#include <tapegrad/nn/model_config.hpp>

#include <algorithm>
#include <array>
#include <functional>
#include <limits>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <tapegrad/core/error.hpp>
#include <tapegrad/nn/bidirectional.hpp>
#include <tapegrad/nn/cells.hpp>
#include <tapegrad/nn/dense.hpp>
#include <tapegrad/nn/dropout.hpp>
#include <tapegrad/nn/rnn.hpp>
#include <tapegrad/nn/sequential.hpp>
#include <tapegrad/nn/serialize.hpp>
#include <tapegrad/nn/serialize_detail.hpp>

#ifndef TAPEGRAD_VERSION
#error "TAPEGRAD_VERSION (the project version) is defined by CMakeLists.txt"
#endif

namespace tapegrad {

std::string version() {
  return TAPEGRAD_VERSION;
}

}  // namespace tapegrad

namespace tapegrad::nn {

// ---- What the built-in modules write ----

namespace {

ModuleConfig rnn_options_config(const RNNOptions& o) {
  return {{"return_sequences", o.return_sequences},
          {"return_state", o.return_state},
          {"go_backwards", o.go_backwards},
          {"stateful", o.stateful},
          {"tbptt", o.tbptt},
          {"zero_output_for_mask", o.zero_output_for_mask},
          {"checkpoint_every", o.checkpoint_every}};
}

// in_features, units and dtype of a built-in cell, from its parameters: they stay right
// after Module::to(dtype).
ModuleConfig cell_sizes(const GatedCell& cell) {
  return {{"in_features", cell.kernel.shape()[0]},
          {"units", cell.units()},
          {"dtype", std::string(dtype_name(cell.kernel.dtype()))}};
}

// A built-in cell on its own: its sizes and its dropout rates.
ModuleConfig cell_config(const GatedCell& cell) {
  ModuleConfig c = cell_sizes(cell);
  c.emplace("dropout", cell.dropout());
  c.emplace("recurrent_dropout", cell.recurrent_dropout());
  return c;
}

// A built-in recurrent layer: its cell's sizes and the RNN options.
ModuleConfig layer_config(const RNN& layer) {
  ModuleConfig c = cell_sizes(static_cast<const GatedCell&>(layer.cell()));
  c.merge(rnn_options_config(layer.options()));
  return c;
}

}  // namespace

std::optional<ModuleConfig> Dense::config() const {
  return ModuleConfig{{"in_features", kernel.shape()[0]},
                      {"units", kernel.shape()[1]},
                      {"activation", to_string(opts_.activation)},
                      {"use_bias", opts_.use_bias},
                      {"dtype", std::string(dtype_name(kernel.dtype()))}};
}

std::optional<ModuleConfig> RNN::config() const {
  return rnn_options_config(opts_);
}
std::optional<ModuleConfig> SimpleRNN::config() const {
  return layer_config(*this);
}
std::optional<ModuleConfig> LSTM::config() const {
  return layer_config(*this);
}
std::optional<ModuleConfig> GRU::config() const {
  return layer_config(*this);
}

std::optional<ModuleConfig> Bidirectional::config() const {
  return ModuleConfig{{"merge", to_string(opts_.merge)}};
}

std::optional<ModuleConfig> Dropout::config() const {
  return ModuleConfig{{"rate", rate()}};
}

std::optional<ModuleConfig> SimpleRNNCell::config() const {
  ModuleConfig c = cell_config(*this);
  c.emplace("activation", to_string(activation_));
  return c;
}

std::optional<ModuleConfig> LSTMCell::config() const {
  ModuleConfig c = cell_config(*this);
  c.emplace("unit_forget_bias", unit_forget_bias_);
  return c;
}

std::optional<ModuleConfig> GRUCell::config() const {
  return cell_config(*this);
}

namespace {

using json = nlohmann::json;

// ---- Writing ----

json node_json(const Module& m) {
  json node{{"class_name", m.type_name()}, {"config", nullptr}};
  if (const std::optional<ModuleConfig> config = m.config()) {
    json& c = node["config"] = json::object();
    for (const auto& [key, value] : *config) {
      std::visit([&c, &key = key](const auto& v) { c[key] = v; }, value);
    }
  }
  if (!m.children().empty()) {
    json& children = node["children"] = json::array();
    for (const auto& [name, child] : m.children()) {
      json c = node_json(*child);
      c["name"] = name;
      children.push_back(std::move(c));
    }
  }
  return node;
}

// What input_width found in a module: a width, none it can tell, or a module that leaves the
// width to what follows it.
constexpr int64_t kUnknownWidth = 0;
constexpr int64_t kPassesWidthOn = -1;

// The last dimension of the input `m` reads, from the first module (depth first) that reads
// it: the in_features of its config; else, for a module with parameters of its own (a user's
// cell), the rows of its "kernel" or of its first matrix parameter, as every built-in kernel
// is (in_features, ...); else unknown. A module with neither (a container, Dropout) passes
// the question on to its children, then to the modules after it.
int64_t input_width(const Module& m) {
  if (const std::optional<ModuleConfig> config = m.config()) {
    const auto in = config->find("in_features");
    if (in != config->end() && std::holds_alternative<int64_t>(in->second)) {
      return std::get<int64_t>(in->second);
    }
  }
  std::optional<int64_t> first_matrix_rows, kernel_rows;
  bool own_parameters = false;
  for (const auto& [name, p] : m.named_parameters()) {
    if (name.find('.') != std::string::npos) break;  // a child's: the module's own come first
    own_parameters = true;
    if (p.dim() != 2) continue;
    if (!first_matrix_rows) first_matrix_rows = p.shape()[0];
    if (name == "kernel") kernel_rows = p.shape()[0];
  }
  if (own_parameters) return kernel_rows.value_or(first_matrix_rows.value_or(kUnknownWidth));
  for (const auto& [name, child] : m.children()) {
    if (const int64_t width = input_width(*child); width != kPassesWidthOn) return width;
  }
  return kPassesWidthOn;
}

// ---- Reading: the document ----

[[noreturn]] void bad_config(const char* who, const std::string& path, const std::string& what) {
  throw_error<IOError>("{}: '{}': metadata '{}' {}", who, path, kModelConfigKey, what);
}

// What a config may declare. No model needs more; a file that asks for more is refused
// while it is parsed, before the document is built, so a hostile header costs neither deep
// recursion nor memory out of proportion to it.
constexpr int kMaxDepth = 64;  // modules nested deeper are refused (and not summarized)
// Each module is two levels of JSON (its object and its "children" array), its config one
// more, and the document and its "model" two.
constexpr std::size_t kMaxNesting = 2 * kMaxDepth + 8;
constexpr std::size_t kMaxModules = 10'000;  // objects with a "class_name"
// Every module's node, config and options are a few dozen values.
constexpr std::size_t kMaxValues = 64 * kMaxModules;

// nlohmann's own DOM builder, behind counters that refuse a document past the limits above
// (its callback parser would do the counting too, but rescans an array at each element it
// adds: quadratic in the number of modules).
class BoundedDomParser {
 public:
  BoundedDomParser(json& result, const char* who, const std::string& path)
      : dom_(result), who_(who), path_(path) {}

  bool null() { return value() && dom_.null(); }
  bool boolean(bool v) { return value() && dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return value() && dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return value() && dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& text) {
    return value() && dom_.number_float(v, text);
  }
  bool string(json::string_t& v) { return value() && dom_.string(v); }
  bool binary(json::binary_t& v) { return value() && dom_.binary(v); }
  bool start_object(std::size_t n) { return open() && dom_.start_object(n); }
  bool start_array(std::size_t n) { return open() && dom_.start_array(n); }
  bool end_object() { return close() && dom_.end_object(); }
  bool end_array() { return close() && dom_.end_array(); }
  bool key(json::string_t& k) {
    if (k == "class_name" && ++modules_ > kMaxModules) {
      fail(fmt::format("declares more than {} modules", kMaxModules));
    }
    return dom_.key(k);
  }
  bool parse_error(std::size_t at, const std::string&, const nlohmann::detail::exception&) {
    fail(fmt::format("is not valid JSON (at byte {})", at));
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { bad_config(who_, path_, what); }

  bool value() {
    if (++values_ > kMaxValues) fail(fmt::format("holds more than {} JSON values", kMaxValues));
    return true;
  }
  bool open() {
    if (++depth_ > kMaxNesting) fail(fmt::format("is nested deeper than {} levels", kMaxNesting));
    return value();
  }
  bool close() {
    --depth_;
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  const char* who_;
  const std::string& path_;
  std::size_t depth_ = 0, values_ = 0, modules_ = 0;
};

// The parsed document; anything but an object of the current format version is refused.
json parse_document(const char* who, const std::string& path, const std::string& text) {
  json doc;
  BoundedDomParser parser(doc, who, path);
  json::sax_parse(text, &parser);
  if (!doc.is_object()) bad_config(who, path, "is not a JSON object");
  const auto version = doc.find("format_version");
  if (version == doc.end() || !version->is_number_integer()) {
    bad_config(who, path, "has no integer 'format_version'");
  }
  if (*version != kModelConfigFormatVersion) {
    bad_config(who, path,
               fmt::format("has format_version {}, this build reads version {}", version->dump(),
                           kModelConfigFormatVersion));
  }
  const auto model = doc.find("model");
  if (model == doc.end() || !model->is_object()) bad_config(who, path, "has no object 'model'");
  return doc;
}

// A value from the file as a message shows it: a number or a boolean as JSON writes it, a
// string quoted (bounded), anything else by its kind alone: never the whole of an untrusted
// value, which may be megabytes long or nested 100,000 levels deep.
std::string describe(const json& v) {
  if (v.is_string()) return tapegrad::quoted(v.get_ref<const std::string&>());
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  if (v.is_binary()) return "binary data";
  return v.dump();  // a number, a boolean or null: a few bytes
}

std::string text_or_empty(const json& doc, const char* key) {
  const auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A name from the file as a summary shows it: as it is when short and printable (a user's
// "Scaled"), else quoted (bounded, escaped) so that it cannot flood or drive the terminal.
std::string shown_name(const std::string& name) {
  const bool printable = std::all_of(name.begin(), name.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  });
  return printable && name.size() <= kQuoteLimit ? name : tapegrad::quoted(name);
}

// The member `key` of `j` when it is of the kind `is` accepts, else nullptr.
const json* member(const json& j, const char* key, bool (json::*is)() const noexcept) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it != j.end() && ((*it).*is)() ? &*it : nullptr;
}

// "SimpleRNN(64) -> SimpleRNN(32) -> Dense(1)" from a node, for any node: unknown parts are
// shown as they are (a user's module by its class name), nothing is required.
std::string summary_of(const json& node, int depth = 0) {
  if (!node.is_object() || depth > kMaxDepth) return "?";
  const std::string type = shown_name(text_or_empty(node, "class_name"));
  const json* config = member(node, "config", &json::is_object);
  const json* children = member(node, "children", &json::is_array);
  const json* units = config ? member(*config, "units", &json::is_number_integer) : nullptr;
  const std::string size = units ? units->dump() : "?";
  if (type == "Sequential" && children) {
    std::vector<std::string> parts;
    for (const json& child : *children) parts.push_back(summary_of(child, depth + 1));
    return fmt::format("{}", fmt::join(parts, " -> "));
  }
  if ((type == "RNN" || type == "Bidirectional") && children && !children->empty()) {
    return fmt::format("{}({})", type, summary_of((*children)[0], depth + 1));
  }
  if (type == "Dense") {
    const std::string activation = config ? shown_name(text_or_empty(*config, "activation")) : "";
    return activation.empty() || activation == "linear"
               ? fmt::format("Dense({})", size)
               : fmt::format("Dense({}, {})", size, activation);
  }
  if (units) return fmt::format("{}({})", type, size);
  return type.empty() ? "?" : type;
}

// ---- Reading: building modules ----

// "load_model: 'model.safetensors': module '0.cell' ('SimpleRNNCell') " + what.
[[noreturn]] void fail_at(const std::string& subject, const std::string& what) {
  throw_error<IOError>("{} {}", subject, what);
}

// One node of the tree being built, with what error messages say about it.
class Node {
 public:
  // `who` starts every message: "load_model: 'model.safetensors'"; `where` is the module's
  // path in the model being built ("0.cell", empty for the model itself).
  Node(const json& j, std::string where, const std::string& who)
      : j_(j), where_(std::move(where)), who_(who) {
    if (!j.is_object()) fail("is not a JSON object");
    const auto type = j.find("class_name");
    if (type == j.end() || !type->is_string()) fail("has no string 'class_name'");
    type_ = type->get<std::string>();
    const auto config = j.find("config");
    if (config != j.end() && config->is_object()) config_ = &*config;
    if (config != j.end() && !config->is_object() && !config->is_null()) {
      fail("has a 'config' that is neither an object nor null");
    }
  }

  // What messages about this node start with (see fail_at). `where` is made of positions
  // and the builder's own names; the type is the file's, so shown as a summary shows it.
  std::string subject() const {
    const std::string module = where_.empty() ? "the model" : fmt::format("module '{}'", where_);
    const std::string type = type_.empty() ? "" : fmt::format(" ({})", shown_name(type_));
    return fmt::format("{}: {}{}", who_, module, type);
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(subject(), what); }

  const std::string& type() const { return type_; }
  const std::string& where() const { return where_; }
  bool has_config() const { return config_ != nullptr; }

  // The children as (name, node) pairs, in order.
  std::vector<std::pair<std::string, const json*>> children() const {
    std::vector<std::pair<std::string, const json*>> out;
    const auto it = j_.find("children");
    if (it == j_.end()) return out;
    if (!it->is_array()) fail("has 'children' that are not an array");
    for (const json& child : *it) {
      const auto name = child.is_object() ? child.find("name") : child.end();
      if (!child.is_object() || name == child.end() || !name->is_string()) {
        fail("has a child without a string 'name'");
      }
      out.emplace_back(name->get<std::string>(), &child);
    }
    return out;
  }

  // A size argument: a whole number in [1, 2^31).
  int64_t size(const char* key) const {
    const json* v = find(key);
    if (!v) fail(fmt::format("has no '{}' in its config", key));
    if (!v->is_number_integer() || v->get<int64_t>() < 1 ||
        v->get<int64_t>() >= (int64_t{1} << 31)) {
      fail(fmt::format("config '{}' must be a whole number in [1, 2^31), got {}", key,
                       describe(*v)));
    }
    return v->get<int64_t>();
  }

  bool flag(const char* key, bool fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_boolean())
      fail(fmt::format("config '{}' must be true or false, got {}", key, describe(*v)));
    return v->get<bool>();
  }

  int64_t count(const char* key) const {
    const json* v = find(key);
    if (!v) return 0;
    if (!v->is_number_integer() || v->get<int64_t>() < 0) {
      fail(fmt::format("config '{}' must be a whole number >= 0, got {}", key, describe(*v)));
    }
    return v->get<int64_t>();
  }

  // A rate in [0, 1) (dropout), 0 when absent.
  double rate(const char* key) const {
    const json* v = find(key);
    if (!v) return 0;
    if (!v->is_number() || !(v->get<double>() >= 0 && v->get<double>() < 1)) {
      fail(fmt::format("config '{}' must be a number in [0, 1), got {}", key, describe(*v)));
    }
    return v->get<double>();
  }

  DType dtype() const {
    const json* v = find("dtype");
    if (!v) return f32;
    for (DType d : {f32, f64}) {
      if (v->is_string() && v->get<std::string>() == dtype_name(d)) return d;
    }
    fail(fmt::format("config 'dtype' must be \"f32\" or \"f64\", got {}", describe(*v)));
  }

  Activation activation(Activation fallback) const {
    const json* v = find("activation");
    if (!v) return fallback;
    for (Activation a : {Activation::linear, Activation::tanh, Activation::sigmoid,
                         Activation::relu, Activation::softmax}) {
      if (v->is_string() && v->get<std::string>() == to_string(a)) return a;
    }
    fail(fmt::format(
        "config 'activation' must be one of linear, tanh, sigmoid, relu, softmax, got {}",
        describe(*v)));
  }

  MergeMode merge_mode() const {
    const json* v = find("merge");
    if (!v) return MergeMode::concat;
    for (MergeMode m : {MergeMode::concat, MergeMode::sum, MergeMode::mul, MergeMode::ave}) {
      if (v->is_string() && v->get<std::string>() == to_string(m)) return m;
    }
    fail(fmt::format("config 'merge' must be one of concat, sum, mul, ave, got {}", describe(*v)));
  }

  RNNOptions rnn_options() const {
    return {.return_sequences = flag("return_sequences", false),
            .return_state = flag("return_state", false),
            .go_backwards = flag("go_backwards", false),
            .stateful = flag("stateful", false),
            .tbptt = count("tbptt"),
            .zero_output_for_mask = flag("zero_output_for_mask", false),
            .checkpoint_every = count("checkpoint_every")};
  }

 private:
  const json* find(const char* key) const {
    if (!config_) return nullptr;
    const auto it = config_->find(key);
    return it == config_->end() ? nullptr : &*it;
  }

  const json& j_;
  std::string where_;
  const std::string& who_;
  std::string type_;
  const json* config_ = nullptr;
};

// What the builder needs of each built-in cell: its type name, the gates and bias rows that
// size its parameters, and its options read from a node (the cell's own, or a layer's child
// "cell"), in `dtype` (the one its parameters are charged and built in).
template <class C>
struct CellKind;

template <>
struct CellKind<SimpleRNNCell> {
  static constexpr const char* type = "SimpleRNNCell";
  static constexpr int gates = 1, bias_rows = 1;
  static SimpleRNNCellOptions options(const Node& n, DType dtype) {
    return {.activation = n.activation(Activation::tanh),
            .dtype = dtype,
            .dropout = n.rate("dropout"),
            .recurrent_dropout = n.rate("recurrent_dropout")};
  }
};

template <>
struct CellKind<LSTMCell> {
  static constexpr const char* type = "LSTMCell";
  static constexpr int gates = 4, bias_rows = 1;
  static LSTMCellOptions options(const Node& n, DType dtype) {
    return {.unit_forget_bias = n.flag("unit_forget_bias", true),
            .dtype = dtype,
            .dropout = n.rate("dropout"),
            .recurrent_dropout = n.rate("recurrent_dropout")};
  }
};

template <>
struct CellKind<GRUCell> {
  static constexpr const char* type = "GRUCell";
  static constexpr int gates = 3, bias_rows = 2;
  static GRUCellOptions options(const Node& n, DType dtype) {
    return {.dtype = dtype,
            .dropout = n.rate("dropout"),
            .recurrent_dropout = n.rate("recurrent_dropout")};
  }
};

// A module read from the config but not built yet: what its parent needs to know of it, and
// how to build it. Building waits until the whole tree was read and its parameters checked
// against the file, so that a file that does not hold them costs no initialization (an
// orthogonal recurrent kernel of a few hundred units takes a second).
struct Plan {
  enum class Kind { cell, rnn_layer, other };
  Kind kind;
  std::function<std::shared_ptr<Module>()> make;
};

class Builder {
 public:
  // `who` starts every message ("load_model: 'model.safetensors'"), `function` names the
  // caller in it, `way_out` ends a message on a module that cannot be built.
  Builder(std::string who, const char* function, std::string way_out, double values)
      : who_(std::move(who)), function_(function), way_out_(std::move(way_out)), budget_(values) {}

  // Reads the node `j` of the module at `where` (and its children), checking everything the
  // config says; the parameters of the model it describes accumulate in parameters().
  Plan plan(const json& j, const std::string& where, int depth) {
    const Node node(j, where, who_);
    if (depth > kMaxDepth) node.fail(fmt::format("is nested deeper than {} modules", kMaxDepth));
    const auto it = builders().find(node.type());
    if (!node.has_config()) {
      node.fail(fmt::format(
          "has no config (its class does not implement Module::config()), so {} cannot rebuild "
          "it: {}",
          function_, way_out_));
    }
    if (it == builders().end()) {
      node.fail(fmt::format("is not a module {} can build (it builds {}): {}", function_,
                            fmt::join(kBuiltIn, ", "), way_out_));
    }
    return it->second(*this, node, depth);
  }

  // The parameters of the modules planned so far, as the built model will name them, in
  // its order.
  const detail::TensorSpecs& parameters() const { return parameters_; }

 private:
  static constexpr std::array<const char*, 11> kBuiltIn{
      "Sequential",    "Dense",    "RNN",     "SimpleRNN",     "LSTM",   "GRU",
      "SimpleRNNCell", "LSTMCell", "GRUCell", "Bidirectional", "Dropout"};
  using PlanNode = std::function<Plan(Builder&, const Node&, int depth)>;

  // Sizes come from an untrusted file: a layer is refused before its parameter shapes are
  // even formed if they would hold more values than the whole file and a small slack (a
  // smaller mismatch is left to the check of the tensors, whose message names the tensor and
  // both shapes).
  void charge(const Node& node, double values) {
    if (values > budget_) {
      node.fail(
          fmt::format("asks for {:.0f} parameter values, far more than the file holds", values));
    }
    budget_ -= values;
  }

  void expect(const Node& node, const char* name, DType dtype, Shape shape) {
    parameters_.emplace_back(join(node.where(), name), detail::TensorSpec{dtype, std::move(shape)});
  }

  // in_features, units and dtype of a cell with `gates` gates and `bias_rows` bias rows, and
  // its parameters (at `cell`), shaped as GatedCell makes them (nn/cells.cpp; a difference
  // fails every round trip through a file, which load checks against the model built).
  struct CellArgs {
    int64_t in, units;
    DType dtype;
  };
  CellArgs cell_args(const Node& node, const Node& cell, int gates, int bias_rows) {
    const CellArgs a{node.size("in_features"), node.size("units"), node.dtype()};
    const int64_t columns = gates * a.units;
    charge(node, (static_cast<double>(a.in) + static_cast<double>(a.units) + bias_rows) *
                     static_cast<double>(columns));
    expect(cell, "kernel", a.dtype, {a.in, columns});
    expect(cell, "recurrent_kernel", a.dtype, {a.units, columns});
    expect(cell, "bias", a.dtype, bias_rows == 1 ? Shape{columns} : Shape{bias_rows, columns});
    return a;
  }

  Plan sequential(const Node& node, int depth) {
    std::vector<std::function<std::shared_ptr<Module>()>> layers;
    for (const auto& child : node.children()) {
      // Sequential names its layers by position, whatever names the file gives them.
      const std::string name = std::to_string(layers.size());
      layers.push_back(plan(*child.second, join(node.where(), name), depth + 1).make);
    }
    return {Plan::Kind::other, [layers = std::move(layers)]() -> std::shared_ptr<Module> {
              auto model = std::make_shared<Sequential>();
              for (const auto& make : layers) model->push_back(make());
              return model;
            }};
  }

  Plan rnn(const Node& node, int depth) {
    const auto children = node.children();
    if (children.size() != 1 || children[0].first != "cell")
      node.fail("must have one child, 'cell'");
    Plan cell = plan(*children[0].second, join(node.where(), "cell"), depth + 1);
    if (cell.kind != Plan::Kind::cell) node.fail("has a child 'cell' that is not a cell");
    return {
        Plan::Kind::rnn_layer,
        [make = std::move(cell.make), options = node.rnn_options()]() -> std::shared_ptr<Module> {
          return std::make_shared<RNN>(std::static_pointer_cast<Cell>(make()), options);
        }};
  }

  Plan bidirectional(const Node& node, int depth) {
    const auto children = node.children();
    if (children.size() != 2 || children[0].first != "forward_layer" ||
        children[1].first != "backward_layer") {
      node.fail("must have two children, 'forward_layer' and 'backward_layer'");
    }
    auto layer = [&](const auto& child) {
      Plan p = plan(*child.second, join(node.where(), child.first), depth + 1);
      if (p.kind != Plan::Kind::rnn_layer) {
        node.fail(fmt::format("has a child '{}' that is not an RNN layer", child.first));
      }
      return std::move(p.make);
    };
    auto forward = layer(children[0]), backward = layer(children[1]);
    return {Plan::Kind::other,
            [forward = std::move(forward), backward = std::move(backward),
             options = BidirectionalOptions{.merge = node.merge_mode()},
             subject = node.subject()]() -> std::shared_ptr<Module> {
              try {
                return std::make_shared<Bidirectional>(std::static_pointer_cast<RNN>(forward()),
                                                       std::static_pointer_cast<RNN>(backward()),
                                                       options);
              } catch (const ValueError& e) {
                fail_at(subject, fmt::format("holds two layers that make no pair ({})", e.what()));
              }
            }};
  }

  Plan dense(const Node& node) {
    const int64_t in = node.size("in_features"), units = node.size("units");
    const DenseOptions options{.activation = node.activation(Activation::linear),
                               .use_bias = node.flag("use_bias", true),
                               .dtype = node.dtype()};
    charge(node,
           (static_cast<double>(in) + (options.use_bias ? 1 : 0)) * static_cast<double>(units));
    expect(node, "kernel", options.dtype, {in, units});
    if (options.use_bias) expect(node, "bias", options.dtype, {units});
    return {Plan::Kind::other, [in, units, options]() -> std::shared_ptr<Module> {
              return std::make_shared<Dense>(in, units, options);
            }};
  }

  // A built-in layer over a cell C: its sizes and RNN options from its own config, the
  // cell's options (dropout, activation, ...) from its child "cell".
  template <class Layer, class C>
  Plan layer(const Node& node) {
    const auto children = node.children();
    if (children.size() != 1 || children[0].first != "cell")
      node.fail("must have one child, 'cell'");
    const Node cell_node(*children[0].second, join(node.where(), "cell"), who_);
    if (cell_node.type() != CellKind<C>::type) {
      cell_node.fail(
          fmt::format("is not the cell of a {} layer ({})", node.type(), CellKind<C>::type));
    }
    const CellArgs a = cell_args(node, cell_node, CellKind<C>::gates, CellKind<C>::bias_rows);
    return {Plan::Kind::rnn_layer,
            [a, options = node.rnn_options(),
             cell = CellKind<C>::options(cell_node, a.dtype)]() -> std::shared_ptr<Module> {
              return std::make_shared<Layer>(a.in, a.units, options, cell);
            }};
  }

  template <class C>
  Plan cell(const Node& node) {
    const CellArgs a = cell_args(node, node, CellKind<C>::gates, CellKind<C>::bias_rows);
    return {Plan::Kind::cell,
            [a, options = CellKind<C>::options(node, a.dtype)]() -> std::shared_ptr<Module> {
              return std::make_shared<C>(a.in, a.units, options);
            }};
  }

  Plan dropout(const Node& node) {
    return {Plan::Kind::other, [rate = node.rate("rate")]() -> std::shared_ptr<Module> {
              return std::make_shared<Dropout>(rate);
            }};
  }

  static std::string join(const std::string& where, const std::string& name) {
    return where.empty() ? name : where + "." + name;
  }

  static const std::map<std::string, PlanNode>& builders() {
    static const std::map<std::string, PlanNode> table{
        {"Sequential", [](Builder& b, const Node& n, int d) { return b.sequential(n, d); }},
        {"RNN", [](Builder& b, const Node& n, int d) { return b.rnn(n, d); }},
        {"Bidirectional", [](Builder& b, const Node& n, int d) { return b.bidirectional(n, d); }},
        {"Dense", [](Builder& b, const Node& n, int) { return b.dense(n); }},
        {"SimpleRNN",
         [](Builder& b, const Node& n, int) { return b.layer<SimpleRNN, SimpleRNNCell>(n); }},
        {"LSTM", [](Builder& b, const Node& n, int) { return b.layer<LSTM, LSTMCell>(n); }},
        {"GRU", [](Builder& b, const Node& n, int) { return b.layer<GRU, GRUCell>(n); }},
        {"SimpleRNNCell", [](Builder& b, const Node& n, int) { return b.cell<SimpleRNNCell>(n); }},
        {"LSTMCell", [](Builder& b, const Node& n, int) { return b.cell<LSTMCell>(n); }},
        {"GRUCell", [](Builder& b, const Node& n, int) { return b.cell<GRUCell>(n); }},
        {"Dropout", [](Builder& b, const Node& n, int) { return b.dropout(n); }},
    };
    return table;
  }

  const std::string who_;
  const char* function_;
  const std::string way_out_;
  double budget_;
  detail::TensorSpecs parameters_;
};

}  // namespace

std::string model_config_json(const Module& model) {
  const int64_t width = input_width(model);
  json doc{{"format_version", kModelConfigFormatVersion},
           {"tapegrad_version", version()},
           {"model", node_json(model)},
           {"input_features", width > 0 ? json(width) : json()}};
  return doc.dump();
}

ModelFileInfo read_model_info(const std::string& path) {
  ModelFileInfo info;
  info.tensors = read_safetensors_header(path, &info.metadata);
  const auto format = info.metadata.find("format");
  info.is_checkpoint = format != info.metadata.end() && format->second == kCheckpointFormat;
  const auto text = info.metadata.find(kModelConfigKey);
  if (text == info.metadata.end()) return info;
  const json doc = parse_document("read_model_info", path, text->second);
  info.has_config = true;
  info.summary = summary_of(doc.at("model"));
  const auto in = doc.find("input_features");
  if (in != doc.end() && in->is_number_integer() && in->get<int64_t>() > 0) {
    info.input_features = in->get<int64_t>();
  }
  info.tapegrad_version = shown_name(text_or_empty(doc, "tapegrad_version"));
  return info;
}

std::shared_ptr<Module> load_model(const std::string& path) {
  const char* who = "load_model";
  std::map<std::string, std::string> metadata;
  const std::vector<SafetensorsEntry> tensors = read_safetensors_header(path, &metadata);
  const auto text = metadata.find(kModelConfigKey);
  if (text == metadata.end()) {
    throw_error<IOError>(
        "{}: '{}' holds no model config (no metadata '{}': it was not written by nn::save of "
        "tapegrad 0.1 or later): build the model in code and load the weights with "
        "nn::load(model, path)",
        who, path, kModelConfigKey);
  }
  if (const auto format = metadata.find("format");
      format != metadata.end() && format->second == kCheckpointFormat) {
    throw_error<IOError>(
        "{}: '{}' is a training checkpoint ('format' {}), not a weights file: load it with "
        "nn::load_checkpoint into a model built in code, or save its weights with nn::save",
        who, path, kCheckpointFormat);
  }
  const json doc = parse_document(who, path, text->second);
  double values = 0;
  for (const SafetensorsEntry& e : tensors) values += static_cast<double>(e.shape.numel());
  constexpr double kSlack = 1 << 20;
  Builder builder(fmt::format("{}: '{}'", who, path), who,
                  "build the model in code and load the weights with nn::load(model, path)",
                  values + kSlack);
  const Plan plan = builder.plan(doc.at("model"), "", 0);
  detail::check_header(who, path, builder.parameters(), tensors);
  std::shared_ptr<Module> model = plan.make();
  load(*model, path);
  return model;
}

std::shared_ptr<Module> clone_model(const Module& model, const ModuleConfig& overrides) {
  const char* who = "clone_model";
  json node = node_json(model);
  for (const auto& [key, value] : overrides) {
    json& config = node["config"];
    if (!config.is_object() || !config.contains(key)) {
      throw_error<ValueError>("{}: {} has no config entry {} to override", who, model.type_name(),
                              tapegrad::quoted(key));
    }
    std::visit([&config, &key = key](const auto& v) { config[key] = v; }, value);
  }
  try {
    return Builder(who, who, "build the copy in code", std::numeric_limits<double>::infinity())
        .plan(node, "", 0)
        .make();
  } catch (const IOError& e) {
    // The builder reports in terms of a file; here the fault is in the argument: a module
    // without a config, of a type the builder does not know, or a bad override.
    throw ValueError(e.what());
  }
}

}  // namespace tapegrad::nn
