#include "control/protocol/service_name.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace handoff::control {

bool is_service_name(std::string_view name) {
  return !name.empty() && name.size() <= 63 && std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

std::string service_name_problem(std::string_view name) {
  if (is_service_name(name)) {
    return {};
  }
  return fmt::format("service name '{}' must be 1-63 of a-z, 0-9, '-' and '_'", name);
}

}  // namespace handoff::control
