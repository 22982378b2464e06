#include "control/protocol/percent.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "proxy/http/whole_number.hpp"

namespace handoff::control {

std::uint32_t parse_percent(std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && digits.back() == '%') {
    digits.remove_suffix(1);
  }
  const std::size_t dot = digits.find('.');
  const std::string_view whole = digits.substr(0, dot);
  std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : digits.substr(dot + 1);
  const auto w = proxy::parse_whole_number<std::uint32_t>(whole);
  const auto f = fraction.empty() ? std::optional<std::uint32_t>(0)
                                  : proxy::parse_whole_number<std::uint32_t>(fraction);
  if (!w || !f || fraction.size() > 2 || (dot != std::string_view::npos && fraction.empty()) ||
      *w > 100) {
    throw std::invalid_argument(
        fmt::format("'{}' is not a percentage from 0% to 100% (like 10% or 0.5%)", text));
  }
  const std::uint32_t hundredths = *w * 100 + (fraction.size() == 1 ? *f * 10 : *f);
  if (hundredths > 10'000) {
    throw std::invalid_argument(fmt::format("'{}' is over 100%", text));
  }
  return hundredths;
}

std::string format_percent(std::uint32_t hundredths) {
  if (hundredths % 100 == 0) {
    return fmt::format("{}%", hundredths / 100);
  }
  std::string text = fmt::format("{}.{:02}", hundredths / 100, hundredths % 100);
  if (text.back() == '0') {
    text.pop_back();
  }
  return text + "%";
}

}  // namespace handoff::control
