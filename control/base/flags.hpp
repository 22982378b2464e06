#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::control {

/// A command-line flag: `--name VALUE` (or `--name=VALUE`), or a switch without a value.
struct Flag {
  std::string_view name;                      ///< without the leading dashes
  std::string_view value_name;                ///< shown in help; empty for a switch
  std::string_view help;                      ///< one line
  std::function<void(std::string_view)> set;  ///< throws std::invalid_argument on bad input
};

/// Parses `args` against `flags`; words that are not flags are returned in order.
/// Throws std::invalid_argument for an unknown flag or a missing value.
std::vector<std::string_view> parse_flags(const std::vector<std::string_view>& args,
                                          const std::vector<Flag>& flags);

/// Renders the flag list for `--help`.
std::string flags_help(const std::vector<Flag>& flags);

}  // namespace handoff::control
