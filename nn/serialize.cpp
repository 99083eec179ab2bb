#include <tapegrad/nn/serialize.hpp>

#include <charconv>
#include <utility>
#include <vector>

#include <fmt/ranges.h>

#include <tapegrad/core/error.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/core/random.hpp>
#include <tapegrad/core/safetensors.hpp>
#include <tapegrad/nn/model_config.hpp>
#include <tapegrad/nn/serialize_detail.hpp>

namespace tapegrad::nn {
namespace {

constexpr const char* kModelPrefix = "model.";
constexpr const char* kOptimizerPrefix = "optimizer.";
constexpr const char* kExtraPrefix = "extra.";

using detail::TensorSpec;
using detail::TensorSpecs;

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// 'a', 'b', 'c' — at most 8 names, then "and N more".
std::string quoted_list(const std::vector<std::string>& names) {
  constexpr std::size_t kShown = 8;
  std::vector<std::string> shown;
  for (std::size_t i = 0; i < names.size() && i < kShown; ++i)
    shown.push_back("'" + names[i] + "'");
  std::string out = fmt::format("{}", fmt::join(shown, ", "));
  if (names.size() > kShown) out += fmt::format(" and {} more", names.size() - kShown);
  return out;
}

// Checks the tensors a file holds for the model (`found`: name without `prefix` -> dtype and
// shape) against the model's parameters (`params`, in the model's order): every parameter
// present, nothing else, same dtype and shape. Throws naming the file, the tensor and both
// shapes/dtypes.
void check_parameters(const char* who, const std::string& path, const TensorSpecs& params,
                      const std::map<std::string, TensorSpec>& found, const std::string& prefix) {
  std::vector<std::string> missing;
  for (const auto& [name, p] : params) {
    if (!found.count(name)) missing.push_back(prefix + name);
  }
  if (!missing.empty()) {
    throw_error<IOError>("{}: '{}' has no tensor {} (parameter{} of the model)", who, path,
                         quoted_list(missing), missing.size() == 1 ? "" : "s");
  }
  std::map<std::string, const TensorSpec*> by_name;
  for (const auto& [name, p] : params) by_name.emplace(name, &p);
  std::vector<std::string> unknown;
  for (const auto& [name, meta] : found) {
    if (!by_name.count(name)) unknown.push_back(prefix + name);
  }
  if (!unknown.empty()) {
    throw_error<IOError>("{}: '{}' holds unknown tensor{} {} (not parameters of the model)", who,
                         path, unknown.size() == 1 ? "" : "s", quoted_list(unknown));
  }
  for (const auto& [name, p] : params) {
    const TensorSpec& meta = found.at(name);
    if (!(meta.shape == p.shape)) {
      throw_error<ShapeError>(
          "{}: '{}': tensor '{}{}' has shape {}, the model's parameter '{}' has shape {}", who,
          path, prefix, name, meta.shape, name, p.shape);
    }
    if (meta.dtype != p.dtype) {
      throw_error<DTypeError>("{}: '{}': tensor '{}{}' is {}, the model's parameter '{}' is {}",
                              who, path, prefix, name, meta.dtype, name, p.dtype);
    }
  }
}

// A header's entries by name, without their place in the file.
std::map<std::string, TensorSpec> header_specs(const std::vector<SafetensorsEntry>& header) {
  std::map<std::string, TensorSpec> out;
  for (const SafetensorsEntry& e : header) out.emplace(e.name, TensorSpec{e.dtype, e.shape});
  return out;
}

std::map<std::string, TensorSpec> value_specs(const std::map<std::string, Tensor>& tensors) {
  std::map<std::string, TensorSpec> out;
  for (const auto& [name, t] : tensors) out.emplace(name, TensorSpec{t.dtype(), t.shape()});
  return out;
}

std::map<std::string, Tensor> named_map(const NamedTensors& params, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, p] : params) {
    if (!out.emplace(prefix + name, p).second) {
      throw_error<ValueError>("save: the model has two parameters named '{}'", name);
    }
  }
  return out;
}

int parse_int(const char* who, const std::string& path, const std::map<std::string, std::string>& m,
              const std::string& key) {
  const auto it = m.find(key);
  if (it == m.end()) {
    throw_error<IOError>("{}: '{}' has no '{}' in its metadata", who, path, key);
  }
  int value = 0;
  const char* begin = it->second.data();
  const char* end = begin + it->second.size();
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end || it->second.empty()) {
    throw_error<IOError>("{}: '{}': metadata '{}' is not an integer: '{}'", who, path, key,
                         it->second);
  }
  return value;
}

// Checks the checkpoint metadata and returns its info and generator state.
CheckpointInfo parse_info(const char* who, const std::string& path,
                          const std::map<std::string, std::string>& metadata,
                          std::string* rng_state) {
  const auto format = metadata.find("format");
  if (format == metadata.end() || format->second != kCheckpointFormat) {
    throw_error<IOError>("{}: '{}' is not a tapegrad checkpoint (metadata 'format' is not '{}')",
                         who, path, kCheckpointFormat);
  }
  const int version = parse_int(who, path, metadata, "format_version");
  if (version != kCheckpointFormatVersion) {
    throw_error<IOError>("{}: '{}' has checkpoint format version {}, this build reads version {}",
                         who, path, version, kCheckpointFormatVersion);
  }
  CheckpointInfo info;
  info.epoch = parse_int(who, path, metadata, "epoch");
  if (info.epoch < 0) {
    throw_error<IOError>("{}: '{}': metadata 'epoch' is negative ({})", who, path, info.epoch);
  }
  const auto rng = metadata.find("rng_state");
  if (rng == metadata.end()) {
    throw_error<IOError>("{}: '{}' has no 'rng_state' in its metadata", who, path);
  }
  try {
    Generator probe;
    probe.set_state(rng->second);
  } catch (const Error& e) {
    throw_error<IOError>("{}: '{}': metadata 'rng_state' is not a generator state ({})", who, path,
                         e.what());
  }
  if (rng_state) *rng_state = rng->second;
  for (const auto& [key, value] : metadata) {
    if (starts_with(key, kExtraPrefix))
      info.extra.emplace(key.substr(std::string(kExtraPrefix).size()), value);
  }
  return info;
}

// Splits a checkpoint's names into model and optimizer parts; anything else is unknown.
template <class T>
void split_checkpoint(const char* who, const std::string& path, const std::map<std::string, T>& all,
                      std::map<std::string, T>* model, std::map<std::string, T>* optimizer) {
  std::vector<std::string> unknown;
  const std::string mp = kModelPrefix, op = kOptimizerPrefix;
  for (const auto& [name, value] : all) {
    if (starts_with(name, mp)) {
      model->emplace(name.substr(mp.size()), value);
    } else if (starts_with(name, op)) {
      optimizer->emplace(name.substr(op.size()), value);
    } else {
      unknown.push_back(name);
    }
  }
  if (!unknown.empty()) {
    throw_error<IOError>(
        "{}: '{}' holds unknown tensor{} {} (a checkpoint holds only 'model.*' and "
        "'optimizer.*')",
        who, path, unknown.size() == 1 ? "" : "s", quoted_list(unknown));
  }
}

}  // namespace

void save(const Module& model, const std::string& path,
          const std::map<std::string, std::string>& metadata) {
  if (metadata.count(kModelConfigKey)) {
    throw_error<ValueError>("save: metadata key '{}' is reserved for the model's configuration",
                            kModelConfigKey);
  }
  std::map<std::string, std::string> all = metadata;
  all.emplace(kModelConfigKey, model_config_json(model));
  save_safetensors(path, named_map(model.named_parameters(), ""), all);
}

namespace detail {

TensorSpecs specs_of(const NamedTensors& params) {
  TensorSpecs out;
  out.reserve(params.size());
  for (const auto& [name, p] : params) out.emplace_back(name, TensorSpec{p.dtype(), p.shape()});
  return out;
}

void check_header(const char* who, const std::string& path, const TensorSpecs& expected,
                  const std::vector<SafetensorsEntry>& header) {
  check_parameters(who, path, expected, header_specs(header), "");
}

std::map<std::string, Tensor> read_expected_tensors(const char* who, const std::string& path,
                                                    const NamedTensors& params) {
  // Names, dtypes and shapes first, from the header alone: a wrong file costs no data read.
  const TensorSpecs expected = specs_of(params);
  check_header(who, path, expected, read_safetensors_header(path));
  // Then the data, checked again (the file may have changed in between).
  std::map<std::string, Tensor> values = load_safetensors(path);
  check_parameters(who, path, expected, value_specs(values), "");
  return values;
}

void assign(const NamedTensors& params, const std::map<std::string, Tensor>& values) {
  for (const auto& [name, p] : params) kernel::copy_into(p, values.at(name));
}

}  // namespace detail

void load(Module& model, const std::string& path) {
  const NamedTensors params = model.named_parameters();
  detail::assign(params, detail::read_expected_tensors("nn::load", path, params));
}

void save_checkpoint(const std::string& path, const Module& model, const optim::Optimizer& opt,
                     const CheckpointInfo& info) {
  if (info.epoch < 0)
    throw_error<ValueError>("save_checkpoint: epoch must be >= 0, got {}", info.epoch);
  std::map<std::string, Tensor> tensors = named_map(model.named_parameters(), kModelPrefix);
  for (auto& [key, value] : opt.state_dict()) tensors.emplace(kOptimizerPrefix + key, value);
  std::map<std::string, std::string> metadata{
      {"format", kCheckpointFormat},
      {"format_version", std::to_string(kCheckpointFormatVersion)},
      {"epoch", std::to_string(info.epoch)},
      {"rng_state", default_generator().state()},
      {kModelConfigKey, model_config_json(model)},
  };
  for (const auto& [key, value] : info.extra) metadata.emplace(kExtraPrefix + key, value);
  save_safetensors(path, tensors, metadata);
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  std::map<std::string, std::string> metadata;
  read_safetensors_header(path, &metadata);
  return parse_info("read_checkpoint_info", path, metadata, nullptr);
}

CheckpointInfo load_checkpoint(const std::string& path, Module& model, optim::Optimizer& opt) {
  const char* who = "load_checkpoint";
  const NamedTensors params = model.named_parameters();
  const TensorSpecs expected = detail::specs_of(params);

  // 1. Header: metadata and the model's tensors, before any data is read.
  std::map<std::string, std::string> metadata;
  const std::map<std::string, TensorSpec> header =
      header_specs(read_safetensors_header(path, &metadata));
  std::string rng_state;
  CheckpointInfo info = parse_info(who, path, metadata, &rng_state);
  {
    std::map<std::string, TensorSpec> model_part, optimizer_part;
    split_checkpoint(who, path, header, &model_part, &optimizer_part);
    check_parameters(who, path, expected, model_part, kModelPrefix);
  }

  // 2. The data, checked again; the metadata must not have changed in between either.
  std::map<std::string, std::string> metadata2;
  const std::map<std::string, Tensor> all = load_safetensors(path, &metadata2);
  if (metadata2 != metadata) {
    throw_error<IOError>("{}: '{}' changed while it was being read", who, path);
  }
  std::map<std::string, Tensor> model_values;
  optim::StateDict optimizer_state;
  split_checkpoint(who, path, all, &model_values, &optimizer_state);
  check_parameters(who, path, expected, value_specs(model_values), kModelPrefix);

  // 3. The optimizer validates its whole state before changing anything, so it goes first:
  //    if it throws, nothing has changed. After it, nothing can fail.
  const std::string context = fmt::format("{}: '{}': optimizer state: ", who, path);
  try {
    opt.load_state_dict(optimizer_state);
  } catch (const ShapeError& e) {
    throw ShapeError(context + e.what());
  } catch (const DTypeError& e) {
    throw DTypeError(context + e.what());
  } catch (const ValueError& e) {
    throw ValueError(context + e.what());
  } catch (const Error& e) {
    throw IOError(context + e.what());
  }
  detail::assign(params, model_values);
  default_generator().set_state(rng_state);
  return info;
}

}  // namespace tapegrad::nn
