#include "control/protocol/duration.hpp"

#include <fmt/format.h>

#include <charconv>
#include <stdexcept>

namespace handoff::control {

std::chrono::milliseconds parse_duration(std::string_view text) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::string_view unit(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr));
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "ms") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  }
  if (ec != std::errc() || ptr == text.data() || scale == 0 || value < 0 || value > 1e9) {
    throw std::invalid_argument(
        fmt::format("bad duration '{}': expected a number with ms, s, m or h", text));
  }
  return std::chrono::milliseconds(static_cast<long long>(value * scale + 0.5));
}

std::string format_duration(std::chrono::milliseconds d) {
  const long long ms = d.count();
  if (ms < 1000) {
    return fmt::format("{}ms", ms);
  }
  if (ms < 60'000) {
    return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
  }
  return fmt::format("{}m{}s", ms / 60'000, (ms % 60'000) / 1000);
}

}  // namespace handoff::control
