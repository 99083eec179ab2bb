// The model config document: writing it from a module tree (each module's config(), beside
// its class), reading it back under bounds (depth, module and value counts, every entry
// checked), and the walk that plans a model from it through the registry of built-in modules
// (nn/registry.cpp), checks the planned parameters against the file, then builds.
#include <tapegrad/nn/model_config.hpp>

#include <algorithm>
#include <limits>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <tapegrad/core/error.hpp>
#include <tapegrad/nn/model_config_detail.hpp>
#include <tapegrad/nn/registry.hpp>
#include <tapegrad/nn/serialize.hpp>
#include <tapegrad/nn/serialize_detail.hpp>

namespace tapegrad::nn {

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
    return activation.empty() || activation == to_string(Activation::linear)
               ? fmt::format("Dense({})", size)
               : fmt::format("Dense({}, {})", size, activation);
  }
  if (units) return fmt::format("{}({})", type, size);
  return type.empty() ? "?" : type;
}

// The entry `key` of `node`, named in `table` (activations(), merge_modes()); `fallback` when
// absent.
template <class E>
E named_entry(const detail::ConfigNode& node, const json* v, const char* key,
              std::span<const NamedValue<E>> table, E fallback) {
  if (!v) return fallback;
  if (v->is_string()) {
    if (const std::optional<E> value = find_named(table, v->get_ref<const std::string&>())) {
      return *value;
    }
  }
  node.fail(
      fmt::format("config '{}' must be one of {}, got {}", key, names_of(table), describe(*v)));
}

}  // namespace

// ---- Reading: one module's node ----

namespace detail {

void fail_at(const std::string& subject, const std::string& what) {
  throw_error<IOError>("{} {}", subject, what);
}

std::string module_path(const std::string& where, const std::string& name) {
  return where.empty() ? name : where + "." + name;
}

ConfigNode::ConfigNode(const json& j, std::string where, const std::string& who)
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

// `where` is made of positions and the planner's own names; the type is the file's, so shown
// as a summary shows it.
std::string ConfigNode::subject() const {
  const std::string module = where_.empty() ? "the model" : fmt::format("module '{}'", where_);
  const std::string type = type_.empty() ? "" : fmt::format(" ({})", shown_name(type_));
  return fmt::format("{}: {}{}", who_, module, type);
}

std::vector<ConfigNode::Child> ConfigNode::children() const {
  std::vector<Child> out;
  const auto it = j_.find("children");
  if (it == j_.end()) return out;
  if (!it->is_array()) fail("has 'children' that are not an array");
  for (const json& child : *it) {
    const auto name = child.is_object() ? child.find("name") : child.end();
    if (!child.is_object() || name == child.end() || !name->is_string()) {
      fail("has a child without a string 'name'");
    }
    out.push_back({name->get<std::string>(), &child});
  }
  return out;
}

int64_t ConfigNode::size(const char* key) const {
  const json* v = find(key);
  if (!v) fail(fmt::format("has no '{}' in its config", key));
  if (!v->is_number_integer() || v->get<int64_t>() < 1 || v->get<int64_t>() >= (int64_t{1} << 31)) {
    fail(fmt::format("config '{}' must be a whole number in [1, 2^31), got {}", key, describe(*v)));
  }
  return v->get<int64_t>();
}

bool ConfigNode::flag(const char* key, bool fallback) const {
  const json* v = find(key);
  if (!v) return fallback;
  if (!v->is_boolean())
    fail(fmt::format("config '{}' must be true or false, got {}", key, describe(*v)));
  return v->get<bool>();
}

int64_t ConfigNode::count(const char* key) const {
  const json* v = find(key);
  if (!v) return 0;
  if (!v->is_number_integer() || v->get<int64_t>() < 0) {
    fail(fmt::format("config '{}' must be a whole number >= 0, got {}", key, describe(*v)));
  }
  return v->get<int64_t>();
}

double ConfigNode::rate(const char* key) const {
  const json* v = find(key);
  if (!v) return 0;
  if (!v->is_number() || !(v->get<double>() >= 0 && v->get<double>() < 1)) {
    fail(fmt::format("config '{}' must be a number in [0, 1), got {}", key, describe(*v)));
  }
  return v->get<double>();
}

DType ConfigNode::dtype() const {
  const json* v = find("dtype");
  if (!v) return f32;
  for (DType d : {f32, f64}) {
    if (v->is_string() && v->get<std::string>() == dtype_name(d)) return d;
  }
  fail(fmt::format("config 'dtype' must be \"f32\" or \"f64\", got {}", describe(*v)));
}

Activation ConfigNode::activation(Activation fallback) const {
  return named_entry(*this, find("activation"), "activation", activations(), fallback);
}

MergeMode ConfigNode::merge_mode() const {
  return named_entry(*this, find("merge"), "merge", merge_modes(), MergeMode::concat);
}

RNNOptions ConfigNode::rnn_options() const {
  return {.return_sequences = flag("return_sequences", false),
          .return_state = flag("return_state", false),
          .go_backwards = flag("go_backwards", false),
          .stateful = flag("stateful", false),
          .tbptt = count("tbptt"),
          .zero_output_for_mask = flag("zero_output_for_mask", false),
          .checkpoint_every = count("checkpoint_every")};
}

const json* ConfigNode::find(const char* key) const {
  if (!config_) return nullptr;
  const auto it = config_->find(key);
  return it == config_->end() ? nullptr : &*it;
}

// ---- Reading: the walk over the tree ----

ModulePlanner::ModulePlanner(std::string who, const char* function, std::string way_out,
                             double values)
    : who_(std::move(who)), function_(function), way_out_(std::move(way_out)), budget_(values) {}

ModulePlan ModulePlanner::plan(const json& j, const std::string& where, int depth) {
  const ConfigNode node(j, where, who_);
  if (depth > kMaxDepth) node.fail(fmt::format("is nested deeper than {} modules", kMaxDepth));
  if (!node.has_config()) {
    node.fail(fmt::format(
        "has no config (its class does not implement Module::config()), so {} cannot rebuild "
        "it: {}",
        function_, way_out_));
  }
  const PlanFromConfig plan_built_in = find_built_in_module(node.type());
  if (!plan_built_in) {
    node.fail(fmt::format("is not a module {} can build (it builds {}): {}", function_,
                          fmt::join(built_in_module_names(), ", "), way_out_));
  }
  return plan_built_in(*this, node, depth);
}

void ModulePlanner::charge(const ConfigNode& node, double values) {
  if (values > budget_) {
    node.fail(
        fmt::format("asks for {:.0f} parameter values, far more than the file holds", values));
  }
  budget_ -= values;
}

void ModulePlanner::expect(const ConfigNode& node, const char* name, DType dtype, Shape shape) {
  parameters_.emplace_back(module_path(node.where(), name), TensorSpec{dtype, std::move(shape)});
}

}  // namespace detail

// ---- The public functions ----

std::string model_config_json(const Module& model) {
  const int64_t width = input_features(model);
  json doc{{"format_version", kModelConfigFormatVersion},
           {"tapegrad_version", version()},
           {"model", node_json(model)},
           {"input_features", width > 0 ? json(width) : json()}};
  return doc.dump();
}

std::string summary_line(const Module& model) {
  return summary_of(node_json(model));
}

int64_t input_features(const Module& model) {
  return std::max(input_width(model), kUnknownWidth);
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
  detail::ModulePlanner planner(
      fmt::format("{}: '{}'", who, path), who,
      "build the model in code and load the weights with nn::load(model, path)", values + kSlack);
  const detail::ModulePlan plan = planner.plan(doc.at("model"), "", 0);
  detail::check_header(who, path, planner.parameters(), tensors);
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
    return detail::ModulePlanner(who, who, "build the copy in code",
                                 std::numeric_limits<double>::infinity())
        .plan(node, "", 0)
        .make();
  } catch (const IOError& e) {
    // The planner reports in terms of a file; here the fault is in the argument: a module
    // without a config, of a type the registry does not know, or a bad override.
    throw ValueError(e.what());
  }
}

}  // namespace tapegrad::nn
