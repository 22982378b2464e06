#include "control/protocol/task_port.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

namespace handoff::control {

namespace {

constexpr std::string_view kSlot = "{{.Task.Slot}}";
constexpr std::string_view kSide = "{{.Handoff.Side}}";

// `text` with every `placeholder` replaced by `number`.
std::string with_number(std::string text, std::string_view placeholder, std::int64_t number) {
  const std::string digits = std::to_string(number);
  for (std::size_t at = text.find(placeholder); at != std::string::npos;
       at = text.find(placeholder, at + digits.size())) {
    text.replace(at, placeholder.size(), digits);
  }
  return text;
}

}  // namespace

std::string version_port(const std::string& task_port, std::int64_t version) {
  return with_number(task_port, kSide, side_of(version));
}

std::string task_port(const std::string& version_port, std::int64_t slot) {
  return with_number(version_port, kSlot, slot);
}

std::string task_port_problem(const std::string& template_text, std::int64_t replicas) {
  if (template_text.find(kSide) == std::string::npos) {
    return fmt::format(
        "--task-port '{}' must hold {{{{.Handoff.Side}}}}: the new version runs "
        "beside the one that serves, on the same nodes, so their ports differ "
        "(e.g. '19{{{{.Handoff.Side}}}}{{{{.Task.Slot}}}}0')",
        template_text);
  }
  for (const std::int64_t side : {0, 1}) {
    for (std::int64_t slot = 1; slot <= std::max<std::int64_t>(replicas, 1); ++slot) {
      const std::string port = task_port(with_number(template_text, kSide, side), slot);
      const bool digits =
          !port.empty() && port.size() <= 5 &&
          std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || std::stol(port) < 1 || std::stol(port) > 65535) {
        return fmt::format("--task-port '{}' gives '{}' for slot {}, not a port from 1 to 65535",
                           template_text, port, slot);
      }
    }
  }
  return {};
}

}  // namespace handoff::control
