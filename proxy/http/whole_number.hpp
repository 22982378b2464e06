#pragma once

#include <charconv>
#include <optional>
#include <string_view>

namespace handoff::proxy {

/// `text` as a whole number of type T: only when all of it is decimal digits (no sign, no
/// space, no suffix) and the value fits T. The one integer parser of the proxy and the CLI.
template <typename T>
std::optional<T> parse_whole_number(std::string_view text) {
  if (text.empty() || text.front() < '0' || text.front() > '9') {
    return std::nullopt;
  }
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

/// The value of a hexadecimal digit (either case), or -1 when `c` is none: for chunk sizes and
/// percent-escapes.
constexpr int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace handoff::proxy
