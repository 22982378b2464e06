#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace handoff::control {

/// Parses a duration such as `500ms`, `30s`, `2m` or `1h`; a bare number means seconds.
/// Throws std::invalid_argument with a message naming the text.
std::chrono::milliseconds parse_duration(std::string_view text);

/// Formats a duration for people: `850ms`, `2.5s`, `3m10s`.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace handoff::control
