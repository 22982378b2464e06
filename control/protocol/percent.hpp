#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace handoff::control {

/// Parses a percentage such as `10%`, `0.5%` or `10` (the sign is optional) into hundredths
/// of a percent (10% → 1000), from 0 to 100%, with at most two decimals. Throws
/// std::invalid_argument with a message naming the text.
std::uint32_t parse_percent(std::string_view text);

/// Formats hundredths of a percent for people: `10%`, `0.5%`.
std::string format_percent(std::uint32_t hundredths);

}  // namespace handoff::control
