// Command-line options for experiment scripts (`tapegrad run exp.cpp -- --epochs 50`).
//
//   tg::tools::ScriptArgs args("reference_fit", "Trains the reference model with tg::nn::fit.");
//   int epochs = 100;                 // each variable's value before parse is its default
//   std::uint64_t seed = 0;
//   std::string out = "forecast.svg";
//   std::string target = "change";
//   std::vector<int64_t> units = {4, 8, 16};
//   bool quick = false;
//   args.option("--epochs", epochs, "epochs to train").range(1, 1000000);
//   args.option("--seed", seed, "random seed");
//   args.option("--out", out, "chart path").value_name("CHART").check(tg::tools::check_chart_path);
//   args.option("--target", target, "what to predict").one_of({"change", "level"});
//   args.option("--units", units, "sizes to compare").range(1, 4096);   // --units 4,8,16
//   args.flag("--quick", quick, "a short run");
//   if (const auto exit_code = args.parse(argc, argv)) return *exit_code;
//
// parse reads `--name VALUE` and `--name=VALUE` into the variables and leaves the others at
// their defaults. --help (or -h) prints the usage on stdout and gives exit code 0; a mistake
// (an unknown option, a missing value, a value that is not wholly a number of the type, out
// of range, not one of the choices, or refused by a check) prints one line naming the option
// and the value, then the usage, on stderr and gives 2, the usual code for bad command-line
// use. Nothing is thrown at the user: a script just returns the code from main. Nothing is
// stored unless the value is good, and the usage shows each option's default.
//
// Value types: int, int64_t, uint64_t, double (finite), std::string (not empty), and
// std::vector<int64_t> as a comma list ("4, 8,16": spaces around items are dropped, an empty
// item is a mistake). A bool is a flag: present means true. Registering a name twice, a name
// without "--", or a range that excludes the default is the script's own bug and throws
// tg::ValueError at once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <tapegrad/core/error.hpp>

namespace tapegrad::tools {

namespace detail {

// Reads the whole of `text` into `out`; on a mistake returns what was expected instead
// ("expected an integer") and leaves `out` alone.
std::optional<std::string> read_value(std::string_view text, int& out);
std::optional<std::string> read_value(std::string_view text, int64_t& out);
std::optional<std::string> read_value(std::string_view text, std::uint64_t& out);
std::optional<std::string> read_value(std::string_view text, double& out);
std::optional<std::string> read_value(std::string_view text, std::string& out);
std::optional<std::string> read_value(std::string_view text, std::vector<int64_t>& out);

// The words joined by `separator`: "change|level".
std::string join(const std::vector<std::string>& words, std::string_view separator);

// How a value is written on the command line: "0.005", "4,8,16".
std::string show_value(int value);
std::string show_value(int64_t value);
std::string show_value(std::uint64_t value);
std::string show_value(double value);
std::string show_value(const std::string& value);
std::string show_value(const std::vector<int64_t>& value);

// What one option is to the parser; ScriptOption<T> says how its value is read.
class OptionBase {
 public:
  OptionBase(std::string name, std::string help, std::string value_name)
      : name_(std::move(name)), help_(std::move(help)), value_name_(std::move(value_name)) {}
  virtual ~OptionBase() = default;

  // Stores the value given as `text`, or returns what is wrong with it.
  virtual std::optional<std::string> assign(std::string_view text) = 0;
  virtual bool takes_value() const { return true; }
  // The default as the usage shows it; empty shows none.
  virtual std::string default_text() const = 0;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::string& value_name() const { return value_name_; }

 protected:
  void set_value_name(std::string value_name) { value_name_ = std::move(value_name); }

 private:
  std::string name_, help_;
  std::string value_name_;  // the word after the name in the usage: "--epochs N"
};

template <class T>
struct ItemOf {
  using type = T;
};
template <>
struct ItemOf<std::vector<int64_t>> {
  using type = int64_t;
};

template <class T>
constexpr const char* default_value_name() {
  if constexpr (std::is_same_v<T, double>) return "X";
  if constexpr (std::is_same_v<T, std::string>) return "TEXT";
  if constexpr (std::is_same_v<T, std::vector<int64_t>>) return "N,N,...";
  return "N";
}

}  // namespace detail

// The option types ScriptArgs reads.
template <class T>
concept ScriptValue = std::is_same_v<T, int> || std::is_same_v<T, int64_t> ||
    std::is_same_v<T, std::uint64_t> || std::is_same_v<T, double> ||
    std::is_same_v<T, std::string> || std::is_same_v<T, std::vector<int64_t>>;

// One registered `--name VALUE`; ScriptArgs::option returns it to narrow what is accepted.
template <ScriptValue T>
class ScriptOption final : public detail::OptionBase {
 public:
  using Item = typename detail::ItemOf<T>::type;  // T, or int64_t for a list

  ScriptOption(std::string name, T& target, std::string help)
      : OptionBase(std::move(name), std::move(help), detail::default_value_name<T>()),
        target_(target) {}

  // Accepts only values in [lo, hi]; for a list, every item.
  ScriptOption& range(Item lo, Item hi) requires std::is_arithmetic_v<Item> {
    check_default_in(lo, hi);
    range_check_ = [lo, hi](Item v) -> std::optional<std::string> {
      if (v >= lo && v <= hi) return std::nullopt;
      return fmt::format("expected a value from {} to {}", detail::show_value(lo),
                         detail::show_value(hi));
    };
    return *this;
  }

  // Accepts only these words: .one_of({"change", "level"}) reads `--target change|level`.
  ScriptOption& one_of(std::vector<std::string> choices) requires std::is_same_v<T, std::string>;

  // A further test of a well-formed value: `check` throws a tg::Error saying what is wrong
  // (tg::tools::check_chart_path does), and parse reports that message.
  ScriptOption& check(std::function<void(const T&)> check) {
    check_ = std::move(check);
    return *this;
  }

  // The word for the value in the usage: "--data CSV" (default N, X, TEXT or N,N,...).
  ScriptOption& value_name(std::string name) {
    set_value_name(std::move(name));
    return *this;
  }

  std::optional<std::string> assign(std::string_view text) override;
  std::string default_text() const override { return detail::show_value(target_); }

 private:
  void check_default_in(Item lo, Item hi) const;

  T& target_;
  std::function<std::optional<std::string>(Item)> range_check_;
  std::vector<std::string> choices_;
  std::function<void(const T&)> check_;
};

class ScriptArgs {
 public:
  // `program` names the script in the usage and in every error line; `description` is a
  // line under the usage.
  explicit ScriptArgs(std::string program, std::string description = {});
  ScriptArgs(const ScriptArgs&) = delete;  // the options hold references into the script
  ScriptArgs& operator=(const ScriptArgs&) = delete;

  // `--name VALUE` read into `target`, whose current value is the default.
  template <ScriptValue T>
  ScriptOption<T>& option(std::string name, T& target, std::string help) {
    auto owned = std::make_unique<ScriptOption<T>>(std::move(name), target, std::move(help));
    ScriptOption<T>& option = *owned;
    add(std::move(owned));
    return option;
  }

  // `--name` alone sets `target` to true.
  void flag(std::string name, bool& target, std::string help);

  // Reads argv[1..argc). Returns nothing when the script should go on; 0 after printing
  // the usage for --help; 2 after printing a mistake and the usage (see the top).
  std::optional<int> parse(int argc, const char* const* argv);
  // The same, with what parse would print (to stdout for 0, to stderr for 2) put in
  // `printed` instead: for tests.
  std::optional<int> parse(int argc, const char* const* argv, std::string& printed);

  // "usage: NAME [--epochs N] ...", the description, and a line per option with its default.
  std::string usage() const;

 private:
  void add(std::unique_ptr<detail::OptionBase> option);
  detail::OptionBase* find(std::string_view name) const;
  std::optional<std::string> read(int argc, const char* const* argv, bool& help);

  std::string program_, description_;
  std::vector<std::unique_ptr<detail::OptionBase>> options_;
};

// ---------------------------------------------------------------------------------------
// ScriptOption<T>, in the header because it is a template.

template <ScriptValue T>
ScriptOption<T>& ScriptOption<T>::one_of(
    std::vector<std::string> choices) requires std::is_same_v<T, std::string> {
  if (std::find(choices.begin(), choices.end(), target_) == choices.end()) {
    throw_error<ValueError>("ScriptOption::one_of: the default '{}' of {} is not one of {}",
                            target_, name(), detail::join(choices, ", "));
  }
  set_value_name(detail::join(choices, "|"));
  choices_ = std::move(choices);
  return *this;
}

template <ScriptValue T>
void ScriptOption<T>::check_default_in(Item lo, Item hi) const {
  std::vector<Item> defaults;
  if constexpr (std::is_same_v<T, Item>) {
    defaults = {target_};
  } else {
    defaults = target_;
  }
  for (const Item d : defaults) {
    if (!(lo <= d && d <= hi)) {
      throw_error<ValueError>(
          "ScriptOption::range: the default {} of {} is outside [{}, {}]; widen the range or "
          "change the default",
          detail::show_value(target_), name(), detail::show_value(lo), detail::show_value(hi));
    }
  }
}

template <ScriptValue T>
std::optional<std::string> ScriptOption<T>::assign(std::string_view text) {
  T value{};
  if (auto wrong = detail::read_value(text, value)) return wrong;
  if (range_check_) {
    if constexpr (std::is_same_v<T, Item>) {
      if (auto wrong = range_check_(value)) return wrong;
    } else {
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (auto wrong = range_check_(value[i])) {
          return fmt::format("item {} ({}): {}", i + 1, detail::show_value(value[i]), *wrong);
        }
      }
    }
  }
  if constexpr (std::is_same_v<T, std::string>) {
    if (!choices_.empty() && std::find(choices_.begin(), choices_.end(), value) == choices_.end()) {
      return fmt::format("expected one of {}", detail::join(choices_, ", "));
    }
  }
  if (check_) {
    try {
      check_(value);
    } catch (const Error& e) {
      return std::string(e.what());
    }
  }
  target_ = std::move(value);
  return std::nullopt;
}

}  // namespace tapegrad::tools
