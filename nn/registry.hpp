// The built-in modules and the named options of their configs (activations, Bidirectional's
// merge modes), each in one table, by the names model configs store. nn::load_model and
// clone_model build a module through its row of the table (nn/registry.cpp), and every
// message that lists what they accept prints the same table, so the two cannot drift:
//
//   tg::nn::built_in_module_names();      // {"Sequential", "Dense", ..., "Dropout"}
//   tg::nn::names_of(tg::nn::activations());  // "linear, tanh, sigmoid, relu, softmax"
//   tg::nn::find_named(tg::nn::activations(), "relu");  // Activation::relu
//
// A new built-in module is one row there, a builder beside it, and its config() beside its
// class; tests/nn/test_registry.cpp then asks for a sample of it and round-trips it.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/nn/bidirectional.hpp>
#include <tapegrad/nn/dense.hpp>

namespace tapegrad::nn {

// One value of an option and the name a config stores it by.
template <class E>
struct NamedValue {
  std::string_view name;
  E value;
};

// Dense's and SimpleRNNCell's activations, by Keras's names, in the enum's order.
std::span<const NamedValue<Activation>> activations();
// Bidirectional's merge modes, by Keras's merge_mode strings, in the enum's order.
std::span<const NamedValue<MergeMode>> merge_modes();

// The value `name` stands for in `table`, if any.
template <class E>
std::optional<E> find_named(std::span<const NamedValue<E>> table, std::string_view name) {
  for (const NamedValue<E>& entry : table) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

// The name of `value` in `table` ("unknown" for a value outside it).
template <class E>
std::string name_of(std::span<const NamedValue<E>> table, E value) {
  for (const NamedValue<E>& entry : table) {
    if (entry.value == value) return std::string(entry.name);
  }
  return "unknown";
}

// Every name of `table` in order, as messages list them: "linear, tanh, sigmoid, ...".
template <class E>
std::string names_of(std::span<const NamedValue<E>> table) {
  std::string names;
  for (const NamedValue<E>& entry : table) {
    if (!names.empty()) names += ", ";
    names += entry.name;
  }
  return names;
}

// The class names (Module::type_name()) nn::load_model and clone_model build from a config,
// in the order their messages list them.
std::vector<std::string> built_in_module_names();

}  // namespace tapegrad::nn
