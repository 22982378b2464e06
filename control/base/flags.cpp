#include "control/base/flags.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace handoff::control {

std::vector<std::string_view> parse_flags(const std::vector<std::string_view>& args,
                                          const std::vector<Flag>& flags) {
  std::vector<std::string_view> words;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      words.push_back(arg);
      continue;
    }
    std::string_view name = arg.substr(2);
    std::string_view value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const Flag* flag = nullptr;
    for (const Flag& f : flags) {
      if (f.name == name) {
        flag = &f;
      }
    }
    if (flag == nullptr) {
      throw std::invalid_argument(fmt::format("unknown flag --{} (see --help)", name));
    }
    if (flag->value_name.empty()) {
      if (inline_value) {
        throw std::invalid_argument(fmt::format("--{} takes no value", name));
      }
    } else if (!inline_value) {
      if (i + 1 >= args.size()) {
        throw std::invalid_argument(fmt::format("--{} needs a value ({})", name, flag->value_name));
      }
      value = args[++i];
    }
    try {
      flag->set(value);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("--{}: {}", name, e.what()));
    }
  }
  return words;
}

std::string flags_help(const std::vector<Flag>& flags) {
  std::string out;
  for (const Flag& f : flags) {
    std::string left =
        fmt::format("--{}{}{}", f.name, f.value_name.empty() ? "" : " ", f.value_name);
    out += fmt::format("  {:<32} {}\n", left, f.help);
  }
  return out;
}

}  // namespace handoff::control
