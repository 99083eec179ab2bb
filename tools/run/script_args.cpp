#include <tapegrad/tools/run/script_args.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include <fmt/format.h>

namespace tapegrad::tools {
namespace detail {
namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// The whole of `text` as an integer of type T: "12x", "" and " 12" are mistakes to report,
// not to read as 12 or 0.
template <class T>
std::optional<std::string> read_integer(std::string_view text, T& out) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    return fmt::format("expected an integer from {} to {}", std::numeric_limits<T>::min(),
                       std::numeric_limits<T>::max());
  }
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return std::is_signed_v<T> ? "expected an integer" : "expected an integer >= 0";
  }
  out = value;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> read_value(std::string_view text, int& out) {
  return read_integer(text, out);
}
std::optional<std::string> read_value(std::string_view text, int64_t& out) {
  return read_integer(text, out);
}
std::optional<std::string> read_value(std::string_view text, std::uint64_t& out) {
  return read_integer(text, out);
}

std::optional<std::string> read_value(std::string_view text, double& out) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    return "expected a finite number";
  }
  out = value;
  return std::nullopt;
}

// An empty value is almost always a shell mistake (an unset $VAR), not a wish.
std::optional<std::string> read_value(std::string_view text, std::string& out) {
  if (text.empty()) return "expected a non-empty value";
  out = text;
  return std::nullopt;
}

std::optional<std::string> read_value(std::string_view text, std::vector<int64_t>& out) {
  if (trim(text).empty()) return "expected a comma list of integers such as 4,8,16";
  std::vector<int64_t> items;
  for (std::size_t number = 1;; ++number) {
    const std::size_t comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    if (item.empty()) return fmt::format("item {} is empty", number);
    int64_t value = 0;
    if (auto wrong = read_integer(item, value)) {
      return fmt::format("item {} ('{}'): {}", number, item, *wrong);
    }
    items.push_back(value);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  out = std::move(items);
  return std::nullopt;
}

std::string join(const std::vector<std::string>& words, std::string_view separator) {
  return fmt::format("{}", fmt::join(words, separator));
}

std::string show_value(int value) {
  return std::to_string(value);
}
std::string show_value(int64_t value) {
  return std::to_string(value);
}
std::string show_value(std::uint64_t value) {
  return std::to_string(value);
}
// The shortest text that reads back as the same double: 0.005, not 0.0050000000000000001.
std::string show_value(double value) {
  return fmt::format("{}", value);
}
std::string show_value(const std::string& value) {
  return value;
}
std::string show_value(const std::vector<int64_t>& value) {
  return fmt::format("{}", fmt::join(value, ","));
}

}  // namespace detail

namespace {

class FlagOption final : public detail::OptionBase {
 public:
  FlagOption(std::string name, bool& target, std::string help)
      : OptionBase(std::move(name), std::move(help), ""), target_(target) {}
  std::optional<std::string> assign(std::string_view) override {
    target_ = true;
    return std::nullopt;
  }
  bool takes_value() const override { return false; }
  std::string default_text() const override { return ""; }

 private:
  bool& target_;
};

constexpr std::string_view kHelpNames = "-h, --help";
constexpr std::size_t kWidth = 100;  // the usage is wrapped to this many columns

// `words` joined by spaces into lines of at most kWidth columns (a longer word gets a line
// of its own); the first line goes on from `first_column`, the others start with `indent`
// spaces, so the text forms a column.
std::string wrap(const std::vector<std::string>& words, std::size_t first_column,
                 std::size_t indent) {
  std::string out;
  std::size_t column = first_column;
  bool line_empty = true;
  for (const std::string& word : words) {
    if (!line_empty && column + 1 + word.size() > kWidth) {
      out += '\n';
      out.append(indent, ' ');
      column = indent;
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    line_empty = false;
  }
  return out;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t begin = 0;
  while ((begin = text.find_first_not_of(' ', begin)) != std::string_view::npos) {
    const std::size_t end = std::min(text.find(' ', begin), text.size());
    words.emplace_back(text.substr(begin, end - begin));
    begin = end;
  }
  return words;
}

// "--epochs N", or "--quick" for a flag.
std::string spelling(const detail::OptionBase& option) {
  return option.takes_value() ? option.name() + " " + option.value_name() : option.name();
}

}  // namespace

ScriptArgs::ScriptArgs(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {}

void ScriptArgs::flag(std::string name, bool& target, std::string help) {
  add(std::make_unique<FlagOption>(std::move(name), target, std::move(help)));
}

void ScriptArgs::add(std::unique_ptr<detail::OptionBase> option) {
  const std::string& name = option->name();
  if (name.size() < 3 || !name.starts_with("--") || name.find('=') != std::string::npos) {
    throw_error<ValueError>("ScriptArgs: option name '{}' must be --word (no '=')", name);
  }
  if (name == "--help") {
    throw_error<ValueError>("ScriptArgs: --help is built in (it prints the usage)");
  }
  if (find(name) != nullptr) {
    throw_error<ValueError>("ScriptArgs: option {} of {} is registered twice", name, program_);
  }
  options_.push_back(std::move(option));
}

detail::OptionBase* ScriptArgs::find(std::string_view name) const {
  for (const auto& option : options_) {
    if (option->name() == name) return option.get();
  }
  return nullptr;
}

// Stores every good value; at the first mistake returns its message. Sets `help` and stops
// at --help.
std::optional<std::string> ScriptArgs::read(int argc, const char* const* argv, bool& help) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view token = argv[i];
    if (token == "--help" || token == "-h") {
      help = true;
      return std::nullopt;
    }
    const std::size_t equals = token.starts_with("--") ? token.find('=') : std::string_view::npos;
    const std::string_view name = token.substr(0, equals);
    detail::OptionBase* option = find(name);
    if (option == nullptr) {
      return name.starts_with("-") ? fmt::format("unknown option '{}'", name)
                                   : fmt::format("unexpected argument '{}'", token);
    }
    if (!option->takes_value()) {
      if (equals != std::string_view::npos) return fmt::format("{} takes no value", name);
      option->assign({});
      continue;
    }
    std::string_view value;
    if (equals != std::string_view::npos) {
      value = token.substr(equals + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return fmt::format("{} needs a value", name);
    }
    if (auto wrong = option->assign(value)) {
      return fmt::format("bad value '{}' for {}: {}", value, name, *wrong);
    }
  }
  return std::nullopt;
}

std::optional<int> ScriptArgs::parse(int argc, const char* const* argv, std::string& printed) {
  bool help = false;
  const std::optional<std::string> mistake = read(argc, argv, help);
  if (mistake) {
    printed = fmt::format("{}: {}\n{}", program_, *mistake, usage());
    return 2;
  }
  if (help) {
    printed = usage();
    return 0;
  }
  printed.clear();
  return std::nullopt;
}

std::optional<int> ScriptArgs::parse(int argc, const char* const* argv) {
  std::string printed;
  const std::optional<int> exit_code = parse(argc, argv, printed);
  if (exit_code) std::fputs(printed.c_str(), *exit_code == 0 ? stdout : stderr);
  return exit_code;
}

std::string ScriptArgs::usage() const {
  const std::string head = fmt::format("usage: {}", program_);
  std::vector<std::string> synopsis;
  for (const auto& option : options_) synopsis.push_back(fmt::format("[{}]", spelling(*option)));
  std::string out = head + " " + wrap(synopsis, head.size() + 1, head.size() + 1) + "\n";
  if (!description_.empty()) out += wrap(split_words(description_), 0, 0) + "\n";

  // One line per option (more when its help wraps), the help text in one column.
  std::size_t column = kHelpNames.size();
  for (const auto& option : options_) column = std::max(column, spelling(*option).size());
  const std::size_t help_column = std::min<std::size_t>(column + 4, 32);
  const auto line = [&](const std::string& left, const std::vector<std::string>& help) {
    std::string row = fmt::format("  {}", left);
    if (row.size() + 2 > help_column) {
      row += '\n';
      row.append(help_column, ' ');
    } else {
      row.append(help_column - row.size(), ' ');
    }
    return row + wrap(help, help_column, help_column) + "\n";
  };
  for (const auto& option : options_) {
    std::vector<std::string> help = split_words(option->help());
    // One word, so that a wrap never parts "(default" from the value.
    const std::string shown = option->default_text();
    if (!shown.empty()) help.push_back(fmt::format("(default {})", shown));
    out += line(spelling(*option), help);
  }
  return out + line(std::string(kHelpNames), split_words("print this help and exit"));
}

}  // namespace tapegrad::tools
